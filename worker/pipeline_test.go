package worker

import (
	"context"
	"strings"
	"testing"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// TestChainOrder: the first middleware is outermost, and each one's work
// after the call runs after the inner ones'.
func TestChainOrder(t *testing.T) {
	t.Parallel()
	var trail []string
	mw := func(name string) middleware {
		return func(next step) step {
			return func(ctx context.Context, j *job) (ran, *action.Error) {
				trail = append(trail, name+">")
				out, err := next(ctx, j)
				trail = append(trail, "<"+name)
				return out, err
			}
		}
	}
	last := func(context.Context, *job) (ran, *action.Error) {
		trail = append(trail, "action")
		return ran{outcome: audit.AlreadyCompliant}, nil
	}
	out, err := chain(last, mw("a"), mw("b"))(context.Background(), &job{})
	if err != nil || out.outcome != audit.AlreadyCompliant {
		t.Fatalf("%+v %v", out, err)
	}
	if got := strings.Join(trail, " "); got != "a> b> action <b <a" {
		t.Errorf("trail %q", got)
	}
}
