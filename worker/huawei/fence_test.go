package huawei

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
)

// TestWritesAreFenced: each Huawei action's write runs its context's fence
// right before it is sent; a fence that fails stops the write (the reads
// before it are made) and its error is the action's.
func TestWritesAreFenced(t *testing.T) {
	t.Parallel()
	lost := &action.Error{Class: action.Superseded, Reason: "lease_lost", Msg: "taken over"}
	b := setup(t, nil)
	evsSim, evs := evsSetup(t, 2*time.Second)
	cases := []struct {
		name   string
		run    func(ctx context.Context) error
		writes func() int
	}{
		{"huawei.kms.enable_key_rotation", func(ctx context.Context) error {
			_, err := b.action(t, "huawei.kms.enable_key_rotation").Ensure(ctx, action.Request{Params: params(keyOff)})
			return err
		}, func() int { return b.sim.Writes("kms.enable-key-rotation") }},
		{"huawei.kms.disable_key", func(ctx context.Context) error {
			_, err := b.action(t, "huawei.kms.disable_key").Ensure(ctx, action.Request{Params: params(keyOn)})
			return err
		}, func() int { return b.sim.Writes("kms.disable-key") }},
		{"huawei.kms.cancel_key_deletion", func(ctx context.Context) error {
			_, err := b.action(t, "huawei.kms.cancel_key_deletion").Ensure(ctx, action.Request{Params: params(keyDeleting)})
			return err
		}, func() int { return b.sim.Writes("kms.cancel-key-deletion") }},
		{"huawei.evs.update_default_kms_key", func(ctx context.Context) error {
			_, err := evs.Ensure(ctx, action.Request{Params: map[string]string{"region": "cn-north-4", "project_id": evsProject, "kms_key_id": evsApproved}})
			return err
		}, func() int { return evsSim.Writes("evs.update-default-key") }},
	}
	for _, c := range cases {
		fenced := 0
		ctx := action.WithFence(context.Background(), func(context.Context) error { fenced++; return lost })
		if err := c.run(ctx); !errors.Is(err, lost) {
			t.Errorf("%s: err = %v, want the fence's error", c.name, err)
		}
		if fenced != 1 || c.writes() != 0 {
			t.Errorf("%s: fence ran %d times, %d writes reached the cloud; want 1 and 0", c.name, fenced, c.writes())
		}
		ctx = action.WithFence(context.Background(), func(context.Context) error { fenced++; return nil })
		if err := c.run(ctx); err != nil || fenced != 2 || c.writes() != 1 {
			t.Errorf("%s: with the fence passing: err %v, fence ran %d times, %d writes; want nil, 2, 1", c.name, err, fenced, c.writes())
		}
	}
}

func (b bundle) action(t *testing.T, name string) action.Action {
	t.Helper()
	for _, a := range b.p.Actions() {
		if a.Name() == name {
			return a
		}
	}
	t.Fatalf("no action %s", name)
	return nil
}
