package huawei

import (
	"context"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"

	"github.com/remediator/remediator/worker/action"
)

// The EVS v5 default-encryption API is not in the Huawei Go SDK. Its
// requests are built on the SDK core (HcHttpClient, request definitions,
// the SDK's AK/SK signer and error type), never a hand-written signer.

type evsRequest struct {
	Body any `json:"body,omitempty"` // nil: no body is sent
}

type evsKey struct {
	KmsKeyID       *string `json:"kms_key_id,omitempty"`
	HttpStatusCode int     `json:"-"` // the SDK core requires this field
}

type evsStatus struct {
	DefaultEncryption *bool `json:"default_encryption,omitempty"`
	HttpStatusCode    int   `json:"-"`
}

// evsCall sends one EVS request. The request definition is built per call:
// the SDK fills and returns the definition's response instance.
func evsCall[T any](ctx context.Context, p *Provider, hc *core.HcHttpClient, op, method, path string, body any) (*T, error) {
	b := def.NewHttpRequestDefBuilder().WithMethod(method).WithPath(path).WithResponse(new(T))
	if body != nil {
		b = b.WithContentType("application/json;charset=UTF-8").
			WithRequestField(def.NewFieldDef().WithName("Body").WithLocationType(def.Body))
	}
	return invoke[T](ctx, p, hc, op, &evsRequest{Body: body}, b.Build())
}

// evsErrorTable maps the EVS codes (the simulator's, the documentation
// names none for these cases) to decisions; others go to classify.
var evsErrorTable = map[string]decision{
	"EVS.2001": {action.Permanent, action.ReasonInvalidParams},
	"EVS.2002": {action.Permanent, action.ReasonNotFound},
	"EVS.2003": {action.Permanent, action.ReasonKeyNotUsable},
	"EVS.2004": {action.Permanent, action.ReasonEncryptionOff},
}
