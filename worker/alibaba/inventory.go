package alibaba

import (
	"context"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/remediator/remediator/worker/action"
)

// DiskEncryptionDefault reads an account's EBS default encryption in a
// region, for a sweep of the current state: whether it is on
// (ecs.DescribeDiskEncryptionByDefaultStatus) and, when it is, the default
// key (ecs.DescribeDiskDefaultKMSKeyId; "" for the ECS service key). When
// it is off, the key is not read and keyID is "".
//
// It uses the actions' clients, credentials (roles included), pacing
// (scope "alibaba", account, region; the rates the actions declare for
// these two APIs) and error classification: a failure is an
// *action.Error naming the API, e.g. "ecs.DescribeDiskDefaultKMSKeyId:
// throttled".
func (p *Provider) DiskEncryptionDefault(ctx context.Context, account, region string) (enabled bool, keyID string, err error) {
	ctx = action.WithRateScope(ctx, "alibaba", account, region)
	c, err := p.client(ctx, account, region)
	if err != nil {
		return false, "", err
	}
	defer c.release()
	st, err := callOn(ctx, c, opStatus, func(cl *ecs.Client) (*ecs.DescribeDiskEncryptionByDefaultStatusResponse, error) {
		r := ecs.CreateDescribeDiskEncryptionByDefaultStatusRequest()
		p.prepare(ctx, r.RpcRequest, region)
		return cl.DescribeDiskEncryptionByDefaultStatus(r)
	})
	if err != nil {
		return false, "", err
	}
	if !st.Encrypted {
		return false, "", nil
	}
	keyID, err = (&defaultKey{p: p}).current(ctx, c, region)
	if err != nil {
		return true, "", err
	}
	return true, keyID, nil
}

// InventoryPermissions are the RAM actions DiskEncryptionDefault needs (a
// sweep's), beside those of the actions.
func InventoryPermissions() []string {
	return []string{"ecs:DescribeDiskEncryptionByDefaultStatus", "ecs:DescribeDiskDefaultKMSKeyId"}
}
