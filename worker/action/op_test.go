package action

import "testing"

type opAction struct {
	Action
	ops []Op
}

func (a opAction) Ops() []Op { return a.ops }

// TestOps: the writes and rates a provider learns from its actions.
func TestOps(t *testing.T) {
	t.Parallel()
	r := Rate{PerSecond: 9, Burst: 1}
	actions := []Action{
		opAction{ops: []Op{{Name: "kms.read"}, {Name: "kms.write", Write: true}}},
		opAction{ops: []Op{{Name: "ecs.read", Rate: r}, {Name: "ecs.write", Write: true, Rate: r}}},
		opAction{}, // declares nothing
	}
	if w := WriteOps(actions); len(w) != 2 || !w["kms.write"] || !w["ecs.write"] {
		t.Errorf("writes %v", w)
	}
	if got := OpRates(actions).String(); got != "ecs.read=9:1,ecs.write=9:1" {
		t.Errorf("rates %s", got)
	}
}
