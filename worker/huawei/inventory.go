package huawei

import (
	"context"
	"net/http"
	"strconv"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/remediator/remediator/worker/action"
)

// The read functions below serve a sweep of the current state. They use
// the actions' clients, credentials (agencies included), pacing and error
// classification: each call waits for the same buckets of the limiter
// (scope "huawei", account, region; KMS calls share the "kms" bucket, see
// DocumentedRates), and a failure is an *action.Error naming the API
// ("kms.list-keys: ..."), with the reason a report can show (throttled,
// unavailable, auth_failed, not_found...).

const opListKeys = "kms.list-keys"

// ListKeysPageSize is how many keys one list-keys call asks for.
const ListKeysPageSize = 100

// KMSKey is one key as list-keys' key_details describe it.
type KMSKey struct {
	ID    string
	Alias string
	// State is the key_state: "1" pending creation, "2" enabled, "3"
	// disabled, "4" pending deletion, "5" pending import.
	State   string
	Default bool   // a default (service) key, e.g. evs/default
	Origin  string // "kms", or "external" for imported key material
	Spec    string // AES_256, SM4, RSA_2048, EC_P256...
	// RotationListed is key_details' key_rotation_enabled as list-keys
	// gave it ("true", "false", or "" when absent). KeyRotation reads the
	// rotation status itself.
	RotationListed string
}

// Enabled reports whether the key is enabled.
func (k KMSKey) Enabled() bool { return k.State == keyEnabled }

// StateName names the key's state ("enabled", "pending deletion").
func (k KMSKey) StateName() string { return k.info().stateName() }

// Rotatable reports whether KMS can rotate the key and, when not, why:
// default keys, imported keys and asymmetric keys cannot.
func (k KMSKey) Rotatable() (bool, string) { return k.info().rotatable() }

func (k KMSKey) info() keyInfo {
	return keyInfo{state: k.State, isDefault: k.Default, origin: k.Origin, spec: k.Spec}
}

// ListKMSKeys calls each with every key of a project, of every spec and
// state, in the order list-keys gives them, walking its pages (limit,
// then marker = next_marker while truncated is "true"). It stops at the
// first error, each's included, and returns it.
func (p *Provider) ListKMSKeys(ctx context.Context, account, region, project string, each func(KMSKey) error) error {
	ctx = action.WithRateScope(ctx, "huawei", account, region)
	c, err := p.kmsClient(ctx, account, region, project)
	if err != nil {
		return err
	}
	limit, all := strconv.Itoa(ListKeysPageSize), model.GetListKeysRequestBodyKeySpecEnum().ALL
	marker := ""
	for page := 1; ; page++ {
		body := &model.ListKeysRequestBody{Limit: &limit, KeySpec: &all}
		if marker != "" {
			body.Marker = &marker
		}
		r, err := invoke[model.ListKeysResponse](ctx, p, c, opListKeys, &model.ListKeysRequest{Body: body}, kms.GenReqDefForListKeys())
		if err != nil {
			return err
		}
		if err := eachKey(r, each); err != nil {
			return err
		}
		if r.Truncated == nil || r.Truncated.Value() != "true" {
			return nil
		}
		next := deref(r.NextMarker)
		if next == "" || next == marker {
			return action.Errorf(action.Permanent, action.ReasonProviderError, "",
				"%s: page %d of project %s says truncated but gives next_marker %q: the listing cannot go on", opListKeys, page, project, next)
		}
		marker = next
	}
}

// eachKey calls each with the keys of one page: key_details when the
// answer has them, else bare ids from keys.
func eachKey(r *model.ListKeysResponse, each func(KMSKey) error) error {
	if r.KeyDetails != nil {
		for _, d := range *r.KeyDetails {
			k := KMSKey{ID: deref(d.KeyId), Alias: deref(d.KeyAlias), State: deref(d.KeyState),
				Default: deref(d.DefaultKeyFlag) == "1", RotationListed: deref(d.KeyRotationEnabled)}
			if d.Origin != nil {
				k.Origin = d.Origin.Value()
			}
			if d.KeySpec != nil {
				k.Spec = d.KeySpec.Value()
			}
			if err := each(k); err != nil {
				return err
			}
		}
		return nil
	}
	if r.Keys != nil {
		for _, id := range *r.Keys {
			if err := each(KMSKey{ID: id}); err != nil {
				return err
			}
		}
	}
	return nil
}

// KeyRotation reads whether rotation is on for a key
// (kms.get-key-rotation-status).
func (p *Provider) KeyRotation(ctx context.Context, account, region, project, keyID string) (bool, error) {
	ctx = action.WithRateScope(ctx, "huawei", account, region)
	c, err := p.kmsClient(ctx, account, region, project)
	if err != nil {
		return false, err
	}
	return rotationOn(ctx, p, c, keyID)
}

// EVSDefaultEncryption reads a project's EVS default encryption: whether
// it is on (evs.get-default-encryption-status) and, when it is, the
// default key (evs.get-default-key); keyID is "evs/default" for the EVS
// service key. When it is off, the key is not read and keyID is "".
func (p *Provider) EVSDefaultEncryption(ctx context.Context, account, region, project string) (enabled bool, keyID string, err error) {
	ctx = action.WithRateScope(ctx, "huawei", account, region)
	hc, err := p.httpClient(ctx, "evs", account, region, project)
	if err != nil {
		return false, "", err
	}
	return evsDefaultEncryption(ctx, p, hc)
}

func evsDefaultEncryption(ctx context.Context, p *Provider, hc *core.HcHttpClient) (bool, string, error) {
	st, err := evsCall[evsStatus](ctx, p, hc, opEVSStatus, http.MethodGet, "/v5/{project_id}/default-encryption/status", nil)
	if err != nil {
		return false, "", err
	}
	if st.DefaultEncryption == nil || !*st.DefaultEncryption {
		return false, "", nil
	}
	k, err := evsCall[evsKey](ctx, p, hc, opEVSGetKey, http.MethodGet, "/v5/{project_id}/default-encryption/key", nil)
	if err != nil {
		return true, "", err
	}
	return true, deref(k.KmsKeyID), nil
}

// InventoryPermissions are the IAM actions the read functions above need
// (a sweep's), beside those of the actions.
func InventoryPermissions() []string {
	return []string{"kms:cmk:list", "kms:cmk:get", "kms:cmk:getRotation", "evs:defaultEncryption:get"}
}
