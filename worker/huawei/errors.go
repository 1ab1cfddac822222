package huawei

import (
	"errors"
	"net/http"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"

	"github.com/remediator/remediator/worker/action"
)

type decision struct {
	class  action.Class
	reason action.Reason
}

// errorTable maps Huawei error codes to decisions. An entry keyed
// "op/code" overrides the plain code for that operation.
var errorTable = map[string]decision{
	"APIGW.0308": {action.Retryable, action.ReasonThrottled},        // throttling threshold reached (HTTP 429)
	"APIGW.0301": {action.Permanent, action.ReasonAuthFailed},       // incorrect IAM authentication information
	"KMS.0205":   {action.Permanent, action.ReasonInvalidParams},    // invalid key_id
	"KMS.0207":   {action.Permanent, action.ReasonNotFound},         // key does not exist
	"KMS.0209":   {action.Permanent, action.ReasonKeyNotUsable},     // key is disabled
	"KMS.0210":   {action.Permanent, action.ReasonKeyNotUsable},     // key is pending deletion
	"KMS.0211":   {action.Permanent, action.ReasonKeyNotUsable},     // default key: operation not supported
	"KMS.0306":   {action.Permanent, action.ReasonPermissionDenied}, // no permission
	"KMS.1301":   {action.AlreadyDone, action.ReasonAlreadyDone},    // key not enabled: already disabled
	"KMS.1501":   {action.AlreadyDone, action.ReasonAlreadyDone},    // key not pending deletion: deletion already cancelled
	"KMS.2901":   {action.AlreadyDone, action.ReasonAlreadyDone},    // rotation already enabled

	opEnableKeyRotation + "/KMS.0211": {action.Permanent, action.ReasonNotRotatable}, // default keys cannot rotate
	opDisableKey + "/KMS.0211":        {action.Permanent, action.ReasonRefused},      // default keys cannot be disabled
	opDisableKey + "/KMS.0210":        {action.Permanent, action.ReasonRefused},      // pending deletion
}

// classify maps an SDK error to an *action.Error. Codes in the table win;
// otherwise the HTTP status decides (action.ByStatus). Transport errors go to action.Classify (timeouts and
// connection failures are retryable).
func classify(op string, err error) error {
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		e := action.Classify(err)
		e.Msg = op + ": " + string(e.Reason)
		return e
	}
	msg := op + ": " + se.ErrorMessage
	if d, ok := errorTable[op+"/"+se.ErrorCode]; ok {
		return &action.Error{Class: d.class, Reason: d.reason, Code: se.ErrorCode, Msg: msg, Err: se}
	}
	if d, ok := errorTable[se.ErrorCode]; ok {
		return &action.Error{Class: d.class, Reason: d.reason, Code: se.ErrorCode, Msg: msg, Err: se}
	}
	if d, ok := evsErrorTable[se.ErrorCode]; ok {
		return &action.Error{Class: d.class, Reason: d.reason, Code: se.ErrorCode, Msg: msg, Err: se}
	}
	class, reason := action.ByStatus(se.StatusCode)
	code := se.ErrorCode
	if code == "" {
		code = http.StatusText(se.StatusCode)
	}
	return &action.Error{Class: class, Reason: reason, Code: code, Msg: msg, Err: se}
}
