package huawei

import (
	"context"
	"fmt"
	"net/http"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// UpdateDefaultKey ensures EVS default encryption uses the approved key
// (PUT /v5/{project_id}/default-encryption/key).
type UpdateDefaultKey struct {
	p *Provider
}

const (
	opEVSStatus = "evs.get-default-encryption-status"
	opEVSGetKey = "evs.get-default-key"
	opEVSUpdate = "evs.update-default-key"
)

// Name implements action.Action.
func (a *UpdateDefaultKey) Name() string { return "huawei.evs.update_default_kms_key" }

// Params implements action.Action.
func (a *UpdateDefaultKey) Params() []rules.ParamSpec {
	pp := projectParam()
	pp.Resource = true // EVS default encryption is per project
	return []rules.ParamSpec{regionParam(), pp, accountParam(),
		{Name: "kms_key_id", Type: rules.String, Required: true, Literal: true, Pattern: KeyIDPattern,
			Doc: "the approved KMS key; configuration (a literal or a policy lookup), never event data"}}
}

// Permissions implements action.Action.
func (a *UpdateDefaultKey) Permissions() []string {
	return []string{"evs:defaultEncryption:get", "evs:defaultEncryption:update"}
}

func evsKeyText(k string) string {
	if k == "" || k == "evs/default" {
		return "default key: EVS service key"
	}
	return "default key " + k
}

// Ops implements action.Operator.
func (a *UpdateDefaultKey) Ops() []action.Op {
	return []action.Op{{Name: opEVSStatus, Rate: evsRate}, {Name: opEVSGetKey, Rate: evsRate}, {Name: opEVSUpdate, Write: true, Rate: evsRate}}
}

// Ensure reads default encryption and the default key, sets the approved
// key when it differs, and reads it back.
func (a *UpdateDefaultKey) Ensure(ctx context.Context, req action.Request) (action.Result, error) {
	hc, err := a.p.httpClient(ctx, "evs", req.Params["account"], req.Params["region"], req.Params["project_id"])
	if err != nil {
		return action.Result{}, err
	}
	want := req.Params["kms_key_id"]
	current := func(ctx context.Context) (string, error) { return a.current(ctx, hc) }
	return action.Ensure(ctx, req, action.Desired[string]{
		Read: func(ctx context.Context) (string, error) {
			st, err := evsCall[evsStatus](ctx, a.p, hc, opEVSStatus, http.MethodGet, "/v5/{project_id}/default-encryption/status", nil)
			if err != nil {
				return "", err
			}
			if st.DefaultEncryption == nil || !*st.DefaultEncryption {
				return "", action.Errorf(action.Permanent, action.ReasonEncryptionOff, "",
					"EVS default encryption is off in project %s: enable it first", req.Params["project_id"])
			}
			return current(ctx)
		},
		Compliant: func(cur string) bool { return cur == want },
		Write: func(ctx context.Context, _ string) error {
			_, err := evsCall[evsKey](ctx, a.p, hc, opEVSUpdate, http.MethodPut, "/v5/{project_id}/default-encryption/key",
				map[string]string{"kms_key_id": want})
			return err
		},
		ReadBack: current,
		Describe: evsKeyText,
		Want:     evsKeyText(want),
		Unverified: func(cur string) string {
			return fmt.Sprintf("the EVS default key reads as %q after the update", cur)
		},
	})
}

func (a *UpdateDefaultKey) current(ctx context.Context, hc *core.HcHttpClient) (string, error) {
	k, err := evsCall[evsKey](ctx, a.p, hc, opEVSGetKey, http.MethodGet, "/v5/{project_id}/default-encryption/key", nil)
	if err != nil {
		return "", err
	}
	return deref(k.KmsKeyID), nil
}
