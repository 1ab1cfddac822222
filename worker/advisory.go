package worker

import (
	"context"
	"errors"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// runAdvisories moves each message the server announces as delivered
// MaxDeliver times without being settled (streams.MoveExhausted) until
// ctx ends.
func (w *Worker) runAdvisories(ctx context.Context, cons jetstream.Consumer) {
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		w.log.Error("advisories_unavailable", zap.Error(err))
		return
	}
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			continue
		}
		d, made, err := w.dead.MoveExhausted(ctx, m.Data())
		if made {
			w.logDecision(d, zap.String("stream_seq_moved", strconv.FormatUint(d.Sequence, 10)))
		}
		if err != nil {
			w.log.Error("max_deliveries_move_failed", zap.Error(err))
			_ = m.NakWithDelay(w.cfg.RetryMax)
			continue
		}
		_ = m.DoubleAck(ctx)
	}
}
