package huawei

import (
	"context"
	"fmt"

	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// CancelKeyDeletion ensures a KMS key is not pending deletion
// (POST /v1.0/{project_id}/kms/cancel-key-deletion). Cancelling leaves the
// key disabled (or pending import, for an imported key without material):
// it keeps the key and what it encrypts, and never makes a key usable.
type CancelKeyDeletion struct {
	p *Provider
}

const opCancelKeyDeletion = "kms.cancel-key-deletion"

// Name implements action.Action.
func (a *CancelKeyDeletion) Name() string { return "huawei.kms.cancel_key_deletion" }

// Params implements action.Action.
func (a *CancelKeyDeletion) Params() []rules.ParamSpec {
	return []rules.ParamSpec{
		regionParam(),
		projectParam(),
		accountParam(),
		{Name: "key_id", Type: rules.String, Required: true, Resource: true, Pattern: KeyIDPattern, Doc: "KMS key id that must not be deleted"},
	}
}

// Permissions implements action.Action. Huawei IAM grants
// cancel-key-deletion with kms:cmk:update.
func (a *CancelKeyDeletion) Permissions() []string {
	return []string{"kms:cmk:get", "kms:cmk:update"}
}

// Ops implements action.Operator. KMS calls share the "kms" bucket (see
// DocumentedRates).
func (a *CancelKeyDeletion) Ops() []action.Op {
	return []action.Op{{Name: opDescribeKey}, {Name: opCancelKeyDeletion, Write: true}}
}

// Ensure cancels the key's scheduled deletion when there is one, and
// verifies. Every state but pending deletion is compliant; a key whose
// deletion was cancelled meanwhile makes KMS answer KMS.1501, already done.
func (a *CancelKeyDeletion) Ensure(ctx context.Context, req action.Request) (action.Result, error) {
	c, err := a.p.kmsClient(ctx, req.Params["account"], req.Params["region"], req.Params["project_id"])
	if err != nil {
		return action.Result{}, err
	}
	keyID := req.Params["key_id"]
	return action.Ensure(ctx, req, action.Desired[keyInfo]{
		Read:      func(ctx context.Context) (keyInfo, error) { return describeKey(ctx, a.p, c, keyID) },
		Compliant: func(k keyInfo) bool { return k.state != keyPendingDeletion },
		Write: func(ctx context.Context, _ keyInfo) error {
			_, err := invoke[model.CancelKeyDeletionResponse](ctx, a.p, c, opCancelKeyDeletion,
				&model.CancelKeyDeletionRequest{Body: &model.OperateKeyRequestBody{KeyId: keyID}}, kms.GenReqDefForCancelKeyDeletion())
			return err
		},
		Describe: func(k keyInfo) string { return "key " + k.stateName() },
		Want:     "key not pending deletion",
		Unverified: func(k keyInfo) string {
			return fmt.Sprintf("key %s reads as %s after cancelling its deletion", keyID, k.stateName())
		},
	})
}
