package alibaba

import (
	"errors"
	"net/http"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/remediator/remediator/worker/action"
)

type decision struct {
	class  action.Class
	reason action.Reason
	msg    string // replaces the provider's message when set
}

const ramOnly = "only the Alibaba Cloud account itself (not a RAM user or role) may call this operation"

// errorTable maps ECS error codes (seeds 000 and 001, throttling, 5xx) to
// decisions.
var errorTable = map[string]decision{
	"Throttling":         {action.Retryable, action.ReasonThrottled, ""},
	"Throttling.User":    {action.Retryable, action.ReasonThrottled, ""},
	"Throttling.Api":     {action.Retryable, action.ReasonThrottled, ""},
	"ServiceUnavailable": {action.Retryable, action.ReasonUnavailable, ""},
	"InternalError":      {action.Retryable, action.ReasonUnavailable, ""},

	"InvalidParameter.KMSKeyId.CMKNotEnabled":  {action.Permanent, action.ReasonKeyNotUsable, ""},
	"InvalidParameter.Encrypted.KmsNotEnabled": {action.Permanent, action.ReasonKeyNotUsable, "KMS is not activated in this account"},
	"InvalidOperation.KMSServiceNotOpen":       {action.Permanent, action.ReasonKeyNotUsable, "KMS is not activated in this account"},
	"Abs.InvalidAction.RegionNotSupport":       {action.Permanent, action.ReasonInvalidParams, "the region does not support this operation"},
	"InvalidParameter.RegionIdNotExists":       {action.Permanent, action.ReasonInvalidParams, "the region does not exist"},
	"InvalidParameter.KMSKeyId.KMSUnauthorized": {action.Permanent, action.ReasonPermissionDenied,
		"ECS may not use the KMS key: grant the AliyunECSDiskEncryptDefaultRole role"},
	"InvalidOperation.KMSKeyIdNotFound": {action.Permanent, action.ReasonNotFound, ""},
	"UserNotInTheWhiteList":             {action.Permanent, action.ReasonPermissionDenied, ramOnly},
	"Forbidden.RAM":                     {action.Permanent, action.ReasonPermissionDenied, ramOnly},
	"InvalidDefaultEncryption.NotFound": {action.Permanent, action.ReasonEncryptionOff,
		"account-level EBS default encryption is off in this region: enable it first"},
	"InvalidAccessKeyId.NotFound": {action.Permanent, action.ReasonAuthFailed, ""},
	"SignatureDoesNotMatch":       {action.Permanent, action.ReasonAuthFailed, ""},
	"IncompleteSignature":         {action.Permanent, action.ReasonAuthFailed, ""},
	"InvalidTimeStamp.Expired":    {action.Permanent, action.ReasonAuthFailed, ""},
}

// classify maps an SDK error to an *action.Error: codes in the table win,
// otherwise the HTTP status decides (action.ByStatus). Transport errors are
// classified by kind only: their text holds the signed URL.
func classify(op string, err error) error {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		d, ok := errorTable[se.ErrorCode()]
		if !ok {
			d.class, d.reason = action.ByStatus(se.HttpStatus())
		}
		msg := d.msg
		if msg == "" {
			msg = se.Message()
		}
		code := se.ErrorCode()
		if code == "" {
			code = http.StatusText(se.HttpStatus())
		}
		return &action.Error{Class: d.class, Reason: d.reason, Code: code, Msg: op + ": " + msg}
	}
	var ce *sdkerrors.ClientError
	if errors.As(err, &ce) && ce.ErrorCode() == "SDK.TimeoutError" {
		return &action.Error{Class: action.Retryable, Reason: action.ReasonTimeout, Code: ce.ErrorCode(), Msg: op + ": timed out"}
	}
	e := action.Classify(err)
	return &action.Error{Class: e.Class, Reason: e.Reason, Msg: op + ": " + string(e.Reason)}
}
