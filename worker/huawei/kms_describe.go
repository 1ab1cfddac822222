package huawei

import (
	"context"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
)

// Huawei KMS key_state values.
const (
	keyPendingCreation = "1"
	keyEnabled         = "2"
	keyDisabled        = "3"
	keyPendingDeletion = "4"
	keyPendingImport   = "5"
)

var keyStateNames = map[string]string{
	keyPendingCreation: "pending creation", keyEnabled: "enabled", keyDisabled: "disabled",
	keyPendingDeletion: "pending deletion", keyPendingImport: "pending import",
}

// keyInfo is what describe-key says about a key, as plain values.
type keyInfo struct {
	state     string
	isDefault bool
	origin    string
	spec      string
}

func (k keyInfo) stateName() string {
	if n, ok := keyStateNames[k.state]; ok {
		return n
	}
	return "state " + k.state
}

// rotatable reports whether KMS can rotate the key: default keys, imported
// keys and asymmetric keys cannot.
func (k keyInfo) rotatable() (bool, string) {
	switch {
	case k.isDefault:
		return false, "it is a default (service) key"
	case k.origin == "external":
		return false, "its key material is imported"
	case k.spec != "" && k.spec != "AES_256" && k.spec != "SM4":
		return false, "it is an asymmetric " + k.spec + " key"
	}
	return true, ""
}

const opDescribeKey = "kms.describe-key"

// describeKey reads a key's details (ListKeyDetail, POST .../describe-key).
func describeKey(ctx context.Context, p *Provider, c *core.HcHttpClient, keyID string) (keyInfo, error) {
	r, err := invoke[model.ListKeyDetailResponse](ctx, p, c, opDescribeKey,
		&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: keyID}}, kms.GenReqDefForListKeyDetail())
	if err != nil {
		return keyInfo{}, err
	}
	var k keyInfo
	if ki := r.KeyInfo; ki != nil {
		k.state = deref(ki.KeyState)
		k.isDefault = deref(ki.DefaultKeyFlag) == "1"
		if ki.Origin != nil {
			k.origin = strings.ToLower(ki.Origin.Value())
		}
		if ki.KeySpec != nil {
			k.spec = ki.KeySpec.Value()
		}
	}
	return k, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
