package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/streams"
)

// benchCeiling consumes with DoubleAck only, at the same concurrency. With
// record it first publishes, and waits for, a record of an audit record's
// size per message: the least any worker that records before it acks
// must do.
func benchCeiling(ctx context.Context, o benchOptions, record bool) (benchResult, error) {
	env, done, err := newBenchEnv(1, 0)
	if err != nil {
		return benchResult{}, err
	}
	defer done()
	cfg := worker.DefaultConfig()
	cfg.Stream, cfg.Subject, cfg.Consumer = "BENCH_CEILING", "bench.ceiling.>", "ceiling"
	cfg.MaxAckPending = max(cfg.MaxAckPending, worker.PrefetchFor(o.concurrency))
	cons, err := streams.EnsureTopology(ctx, env.js, cfg.Streams())
	if err != nil {
		return benchResult{}, err
	}
	raws := make([]events.Raw, o.events)
	for i := range raws {
		raws[i] = benchEvent(i, env.keys[0])
	}
	if err := publishAll(ctx, env.js, cfg, raws); err != nil {
		return benchResult{}, err
	}
	it, err := cons.Messages(streams.PullOptions(worker.PrefetchFor(o.concurrency))...)
	if err != nil {
		return benchResult{}, err
	}
	defer it.Stop()
	// One reader hands messages to the goroutines, as the worker does.
	msgs := make(chan jetstream.Msg)
	go streams.Feed(it, msgs, nil)
	var n atomic.Int64
	start, use0 := time.Now(), usageNow()
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				if record {
					meta, _ := m.Metadata()
					rec := &nats.Msg{Subject: cfg.AuditSubject + ".bench", Data: benchRecord,
						Header: nats.Header{jetstream.MsgIDHeader: {"rec-" + strconv.FormatUint(meta.Sequence.Stream, 10)}}}
					if _, err := env.records.PublishMsg(ctx, rec); err != nil {
						continue
					}
				}
				if m.DoubleAck(ctx) == nil {
					n.Add(1)
				}
			}
		}()
	}
	for n.Load() < int64(o.events) {
		if time.Since(start) > 10*time.Minute {
			return benchResult{}, fmt.Errorf("only %d of %d acknowledged", n.Load(), o.events)
		}
		time.Sleep(time.Millisecond)
	}
	rate := float64(o.events) / time.Since(start).Seconds()
	cpu, allocs := usageNow().since(use0, o.events)
	it.Stop()
	wg.Wait()
	return benchResult{rate: rate, cpu: cpu, allocs: allocs}, nil
}

// benchRecord is as large as the audit record of a bench event.
var benchRecord = []byte(strings.Repeat("r", 900))
