package alibaba

import (
	"context"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// defaultKey ensures the account-level EBS default-encryption key of a
// region: the approved key (modify) or the ECS service key (reset).
type defaultKey struct {
	p      *Provider
	modify bool
}

const (
	opStatus = "ecs.DescribeDiskEncryptionByDefaultStatus"
	opGetKey = "ecs.DescribeDiskDefaultKMSKeyId"
	opModify = "ecs.ModifyDiskDefaultKMSKeyId"
	opReset  = "ecs.ResetDiskDefaultKMSKeyId"
)

// Name implements action.Action.
func (a *defaultKey) Name() string {
	if a.modify {
		return "alibaba.ecs.modify_disk_default_kms_key"
	}
	return "alibaba.ecs.reset_disk_default_kms_key"
}

// Params implements action.Action.
func (a *defaultKey) Params() []rules.ParamSpec {
	ps := []rules.ParamSpec{regionParam(), accountParam()}
	if a.modify {
		ps = append(ps, rules.ParamSpec{Name: "kms_key_id", Type: rules.String, Required: true, Literal: true, Pattern: KeyIDPattern,
			Doc: "the approved KMS key; configuration (a literal or a policy lookup), never event data"})
	}
	return ps
}

// Permissions implements action.Action.
func (a *defaultKey) Permissions() []string {
	w := "ecs:ResetDiskDefaultKMSKeyId"
	if a.modify {
		w = "ecs:ModifyDiskDefaultKMSKeyId"
	}
	return []string{"ecs:DescribeDiskDefaultKMSKeyId", "ecs:DescribeDiskEncryptionByDefaultStatus", w}
}

func keyText(k string) string {
	if k == "" {
		return "default key: ECS service key"
	}
	return "default key " + k
}

// Ops implements action.Operator.
func (a *defaultKey) Ops() []action.Op {
	write := opReset
	if a.modify {
		write = opModify
	}
	return []action.Op{{Name: opStatus, Rate: ecsRate}, {Name: opGetKey, Rate: ecsRate}, {Name: write, Write: true, Rate: ecsRate}}
}

// Ensure reads default encryption and the default key, writes when the key
// is not the desired one, and reads it back.
func (a *defaultKey) Ensure(ctx context.Context, req action.Request) (action.Result, error) {
	region, want := req.Params["region"], req.Params["kms_key_id"]
	c, err := a.p.client(ctx, req.Params["account"], region)
	if err != nil {
		return action.Result{}, err
	}
	defer c.release()
	current := func(ctx context.Context) (string, error) { return a.current(ctx, c, region) }
	return action.Ensure(ctx, req, action.Desired[string]{
		Read: func(ctx context.Context) (string, error) {
			if err := a.encrypted(ctx, c, region); err != nil {
				return "", err
			}
			return current(ctx)
		},
		Compliant: func(cur string) bool { return cur == want },
		Write:     func(ctx context.Context, _ string) error { return a.write(ctx, c, region, want) },
		ReadBack:  current,
		Describe:  keyText,
		Want:      keyText(want),
		Unverified: func(cur string) string {
			return fmt.Sprintf("%s still reads as %q after the write", region, cur)
		},
	})
}

// encrypted refuses a region whose default encryption is off.
func (a *defaultKey) encrypted(ctx context.Context, c *lent, region string) error {
	st, err := callOn(ctx, c, opStatus, func(c *ecs.Client) (*ecs.DescribeDiskEncryptionByDefaultStatusResponse, error) {
		r := ecs.CreateDescribeDiskEncryptionByDefaultStatusRequest()
		a.p.prepare(ctx, r.RpcRequest, region)
		return c.DescribeDiskEncryptionByDefaultStatus(r)
	})
	if err != nil {
		return err
	}
	if !st.Encrypted {
		return action.Errorf(action.Permanent, action.ReasonEncryptionOff, "",
			"account-level EBS default encryption is off in %s: enable it first", region)
	}
	return nil
}

func (a *defaultKey) current(ctx context.Context, c *lent, region string) (string, error) {
	r, err := callOn(ctx, c, opGetKey, func(c *ecs.Client) (*ecs.DescribeDiskDefaultKMSKeyIdResponse, error) {
		r := ecs.CreateDescribeDiskDefaultKMSKeyIdRequest()
		a.p.prepare(ctx, r.RpcRequest, region)
		return c.DescribeDiskDefaultKMSKeyId(r)
	})
	if err != nil {
		return "", err
	}
	return r.KMSKeyId, nil
}

func (a *defaultKey) write(ctx context.Context, c *lent, region, key string) error {
	if !a.modify {
		_, err := callOn(ctx, c, opReset, func(c *ecs.Client) (*ecs.ResetDiskDefaultKMSKeyIdResponse, error) {
			r := ecs.CreateResetDiskDefaultKMSKeyIdRequest()
			a.p.prepare(ctx, r.RpcRequest, region)
			return c.ResetDiskDefaultKMSKeyId(r)
		})
		return err
	}
	_, err := callOn(ctx, c, opModify, func(c *ecs.Client) (*ecs.ModifyDiskDefaultKMSKeyIdResponse, error) {
		r := ecs.CreateModifyDiskDefaultKMSKeyIdRequest()
		a.p.prepare(ctx, r.RpcRequest, region)
		r.KMSKeyId = key
		return c.ModifyDiskDefaultKMSKeyId(r)
	})
	return err
}
