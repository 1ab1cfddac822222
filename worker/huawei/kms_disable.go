package huawei

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// DisableKey ensures a KMS key is disabled
// (POST /v1.0/{project_id}/kms/disable-key). It is destructive, so it acts
// only on keys the rule lists in allowed_key_ids, and refuses default keys
// and keys pending deletion, import or creation.
type DisableKey struct {
	p *Provider
}

const opDisableKey = "kms.disable-key"

var keyListPattern = regexp.MustCompile(`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}(,[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12})*$`)

// Name implements action.Action.
func (a *DisableKey) Name() string { return "huawei.kms.disable_key" }

// Params implements action.Action.
func (a *DisableKey) Params() []rules.ParamSpec {
	return []rules.ParamSpec{
		regionParam(),
		projectParam(),
		accountParam(),
		{Name: "key_id", Type: rules.String, Required: true, Resource: true, Pattern: KeyIDPattern, Doc: "KMS key id to disable"},
		{Name: "allowed_key_ids", Type: rules.String, Required: true, Literal: true, Pattern: keyListPattern,
			Doc: "comma-separated key ids this rule may disable; written in the rule, never taken from the event"},
	}
}

// Permissions implements action.Action.
func (a *DisableKey) Permissions() []string {
	return []string{"kms:cmk:get", "kms:cmk:disable"}
}

// Ops implements action.Operator. KMS calls share the "kms" bucket (see
// DocumentedRates).
func (a *DisableKey) Ops() []action.Op {
	return []action.Op{{Name: opDescribeKey}, {Name: opDisableKey, Write: true}}
}

// Ensure disables the key when the guards allow it, and verifies.
func (a *DisableKey) Ensure(ctx context.Context, req action.Request) (action.Result, error) {
	keyID := req.Params["key_id"]
	if !slices.Contains(strings.Split(req.Params["allowed_key_ids"], ","), keyID) {
		return action.Result{}, action.Errorf(action.Permanent, action.ReasonRefused, "",
			"key %s is not in the rule's allowed_key_ids", keyID)
	}
	c, err := a.p.kmsClient(ctx, req.Params["account"], req.Params["region"], req.Params["project_id"])
	if err != nil {
		return action.Result{}, err
	}
	describe := func(ctx context.Context) (keyInfo, error) { return describeKey(ctx, a.p, c, keyID) }
	return action.Ensure(ctx, req, action.Desired[keyInfo]{
		// A default key is refused whatever its state, even disabled.
		Read: func(ctx context.Context) (keyInfo, error) {
			k, err := describe(ctx)
			if err == nil && k.isDefault {
				err = action.Errorf(action.Permanent, action.ReasonRefused, "", "key %s is a default key: never disabled", keyID)
			}
			return k, err
		},
		Compliant: func(k keyInfo) bool { return k.state == keyDisabled },
		Check: func(_ context.Context, k keyInfo) error {
			if k.state != keyEnabled {
				return action.Errorf(action.Permanent, action.ReasonRefused, "", "key %s is %s: not disabled", keyID, k.stateName())
			}
			return nil
		},
		Write: func(ctx context.Context, _ keyInfo) error {
			_, err := invoke[model.DisableKeyResponse](ctx, a.p, c, opDisableKey,
				&model.DisableKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: keyID}}, kms.GenReqDefForDisableKey())
			return err
		},
		ReadBack: describe,
		Describe: func(k keyInfo) string { return "key " + k.stateName() },
		Want:     "key disabled",
		Unverified: func(k keyInfo) string {
			return fmt.Sprintf("key %s reads as %s after disabling it", keyID, k.stateName())
		},
	})
}
