package huawei

import (
	"context"
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

// Ensure reads default encryption and the default key, sets the approved
// key when it differs, and reads it back.
func (a *UpdateDefaultKey) Ensure(ctx context.Context, req action.Request) (action.Result, error) {
	hc, err := a.p.httpClient(ctx, "evs", req.Params["account"], req.Params["region"], req.Params["project_id"])
	if err != nil {
		return action.Result{}, err
	}
	want := req.Params["kms_key_id"]
	st, err := evsCall[evsStatus](ctx, a.p, hc, opEVSStatus, http.MethodGet, "/v5/{project_id}/default-encryption/status", nil)
	if err != nil {
		return action.Result{}, err
	}
	if st.DefaultEncryption == nil || !*st.DefaultEncryption {
		return action.Result{}, action.Errorf(action.Permanent, action.ReasonEncryptionOff, "",
			"EVS default encryption is off in project %s: enable it first", req.Params["project_id"])
	}
	cur, err := a.current(ctx, hc)
	if err != nil {
		return action.Result{}, err
	}
	res := action.Result{Before: evsKeyText(cur), After: evsKeyText(want)}
	switch {
	case cur == want:
		return res, nil
	case req.DryRun:
		res.Planned = true
		return res, nil
	}
	if _, err := evsCall[evsKey](ctx, a.p, hc, opEVSUpdate, http.MethodPut, "/v5/{project_id}/default-encryption/key",
		map[string]string{"kms_key_id": want}); err != nil {
		return action.Result{}, err
	}
	if cur, err = a.current(ctx, hc); err != nil {
		return action.Result{}, err
	}
	if cur != want {
		return action.Result{}, action.Errorf(action.Retryable, action.ReasonVerifyFailed, "", "the EVS default key reads as %q after the update", cur)
	}
	res.Changed = true
	return res, nil
}

func (a *UpdateDefaultKey) current(ctx context.Context, hc *core.HcHttpClient) (string, error) {
	k, err := evsCall[evsKey](ctx, a.p, hc, opEVSGetKey, http.MethodGet, "/v5/{project_id}/default-encryption/key", nil)
	if err != nil {
		return "", err
	}
	return deref(k.KmsKeyID), nil
}
