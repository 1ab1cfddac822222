package huawei

import (
	"context"
	"errors"
	"fmt"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// EnableKeyRotation ensures rotation is on for a KMS key
// (POST /v1.0/{project_id}/kms/enable-key-rotation).
type EnableKeyRotation struct {
	p *Provider
}

// Name implements action.Action.
func (a *EnableKeyRotation) Name() string { return "huawei.kms.enable_key_rotation" }

// Params implements action.Action.
func (a *EnableKeyRotation) Params() []rules.ParamSpec {
	return []rules.ParamSpec{
		regionParam(),
		projectParam(),
		{Name: "key_id", Type: rules.String, Required: true, Pattern: KeyIDPattern, Doc: "KMS key id"},
	}
}

// Permissions lists the IAM actions this action needs.
func (a *EnableKeyRotation) Permissions() []string {
	return []string{"kms:cmk:getRotation", "kms:cmk:enableRotation"}
}

// Ensure reads the rotation status, enables rotation when it is off, and
// reads it back.
func (a *EnableKeyRotation) Ensure(ctx context.Context, req action.Request) (action.Result, error) {
	c, err := a.p.kmsClient(req.Params["region"], req.Params["project_id"])
	if err != nil {
		return action.Result{}, err
	}
	keyID := req.Params["key_id"]
	body := &model.OperateKeyRequestBody{KeyId: keyID}
	status := func() (bool, error) {
		r, err := call(ctx, opGetKeyRotationStatus, func() (*model.ShowKeyRotationStatusResponse, error) {
			return c.ShowKeyRotationStatus(&model.ShowKeyRotationStatusRequest{Body: body})
		})
		if err != nil {
			return false, err
		}
		return r.KeyRotationEnabled != nil && *r.KeyRotationEnabled, nil
	}
	on, err := status()
	if err != nil {
		return action.Result{}, err
	}
	if on {
		return action.Result{Before: "rotation enabled", After: "rotation enabled"}, nil
	}
	if req.DryRun {
		return action.Result{Planned: true, Before: "rotation disabled", After: "rotation enabled"}, nil
	}
	_, err = call(ctx, opEnableKeyRotation, func() (*model.EnableKeyRotationResponse, error) {
		return c.EnableKeyRotation(&model.EnableKeyRotationRequest{Body: body})
	})
	var ae *action.Error
	if err != nil && !(errors.As(err, &ae) && ae.Class == action.AlreadyDone) {
		return action.Result{}, err
	}
	if on, err = status(); err != nil {
		return action.Result{}, err
	}
	if !on {
		return action.Result{}, action.Errorf(action.Retryable, action.ReasonVerifyFailed, "",
			"rotation of key %s still reads as disabled after enabling it", keyID)
	}
	return action.Result{Changed: ae == nil, Before: "rotation disabled", After: "rotation enabled"}, nil
}

var _ fmt.Stringer = Credentials{}
