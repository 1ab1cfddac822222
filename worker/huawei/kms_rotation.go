package huawei

import (
	"context"
	"fmt"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// Operation names of the rotation calls, used in errors and in the
// op-specific error-table entries.
const (
	opEnableKeyRotation    = "kms.enable-key-rotation"
	opGetKeyRotationStatus = "kms.get-key-rotation-status"
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
		accountParam(),
		{Name: "key_id", Type: rules.String, Required: true, Resource: true, Pattern: KeyIDPattern, Doc: "KMS key id"},
	}
}

// Permissions implements action.Action.
func (a *EnableKeyRotation) Permissions() []string {
	return []string{"kms:cmk:get", "kms:cmk:getRotation", "kms:cmk:enableRotation"}
}

// Ops implements action.Operator. KMS calls share the "kms" bucket (see
// DocumentedRates).
func (a *EnableKeyRotation) Ops() []action.Op {
	return []action.Op{{Name: opGetKeyRotationStatus}, {Name: opDescribeKey}, {Name: opEnableKeyRotation, Write: true}}
}

// Ensure reads the rotation status; when it is off, checks the key can
// rotate, enables rotation, and reads it back.
//
// The rotation status first: when rotation is on, the desired state holds
// and one call answers (a storm of events about a compliant key is
// answered by reads of one call each). Only a key found drifted is
// described, to refuse what cannot or must not rotate before writing.
func (a *EnableKeyRotation) Ensure(ctx context.Context, req action.Request) (action.Result, error) {
	c, err := a.p.kmsClient(ctx, req.Params["account"], req.Params["region"], req.Params["project_id"])
	if err != nil {
		return action.Result{}, err
	}
	keyID := req.Params["key_id"]
	return action.Ensure(ctx, req, action.Desired[bool]{
		Read:      func(ctx context.Context) (bool, error) { return rotationOn(ctx, a.p, c, keyID) },
		Compliant: func(on bool) bool { return on },
		Check: func(ctx context.Context, _ bool) error {
			k, err := describeKey(ctx, a.p, c, keyID)
			if err != nil {
				return err
			}
			if ok, why := k.rotatable(); !ok {
				return action.Errorf(action.Permanent, action.ReasonNotRotatable, "", "key %s cannot rotate: %s", keyID, why)
			}
			if k.state != keyEnabled {
				return action.Errorf(action.Permanent, action.ReasonKeyNotUsable, "", "key %s is %s", keyID, k.stateName())
			}
			return nil
		},
		Write: func(ctx context.Context, _ bool) error {
			_, err := invoke[model.EnableKeyRotationResponse](ctx, a.p, c, opEnableKeyRotation,
				&model.EnableKeyRotationRequest{Body: &model.OperateKeyRequestBody{KeyId: keyID}}, kms.GenReqDefForEnableKeyRotation())
			return err
		},
		Describe: rotationText,
		Want:     rotationText(true),
		Unverified: func(bool) string {
			return fmt.Sprintf("rotation of key %s still reads as disabled after enabling it", keyID)
		},
	})
}

func rotationText(on bool) string {
	if on {
		return "rotation enabled"
	}
	return "rotation disabled"
}

func rotationOn(ctx context.Context, p *Provider, c *core.HcHttpClient, keyID string) (bool, error) {
	r, err := invoke[model.ShowKeyRotationStatusResponse](ctx, p, c, opGetKeyRotationStatus,
		&model.ShowKeyRotationStatusRequest{Body: &model.OperateKeyRequestBody{KeyId: keyID}}, kms.GenReqDefForShowKeyRotationStatus())
	if err != nil {
		return false, err
	}
	return r.KeyRotationEnabled != nil && *r.KeyRotationEnabled, nil
}
