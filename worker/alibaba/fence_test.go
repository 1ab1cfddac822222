package alibaba

import (
	"context"
	"errors"
	"testing"

	"github.com/remediator/remediator/worker/action"
)

// TestWritesAreFenced: both ECS actions run their context's fence right
// before the write is sent; a fence that fails stops the write.
func TestWritesAreFenced(t *testing.T) {
	t.Parallel()
	lost := &action.Error{Class: action.Superseded, Reason: "lease_lost", Msg: "taken over"}
	for _, c := range []struct{ name, key, op string }{
		{modify, approved, "ecs.ModifyDiskDefaultKMSKeyId"},
		{reset, "", "ecs.ResetDiskDefaultKMSKeyId"},
	} {
		b := setup(t, nil)
		fenced := 0
		ctx := action.WithFence(context.Background(), func(context.Context) error { fenced++; return lost })
		_, err := b.runCtx(t, ctx, c.name, "cn-hangzhou", c.key)
		if !errors.Is(err, lost) || fenced != 1 || b.sim.Writes(c.op) != 0 {
			t.Errorf("%s: err %v, fence ran %d times, %d writes; want the fence's error, 1, 0", c.name, err, fenced, b.sim.Writes(c.op))
		}
		ctx = action.WithFence(context.Background(), func(context.Context) error { fenced++; return nil })
		if _, err := b.runCtx(t, ctx, c.name, "cn-hangzhou", c.key); err != nil || fenced != 2 || b.sim.Writes(c.op) != 1 {
			t.Errorf("%s: with the fence passing: err %v, fence ran %d times, %d writes; want nil, 2, 1", c.name, err, fenced, b.sim.Writes(c.op))
		}
	}
}
