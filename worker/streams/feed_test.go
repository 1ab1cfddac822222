package streams

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fakeIter hands out msgs messages (nil ones), then times out every
// bounded Next and blocks in an unbounded one until stopped.
type fakeIter struct {
	mu              sync.Mutex
	msgs            int
	bounded, unlim  int
	stopped         chan struct{}
	stopOnce        sync.Once
	blockedUnbound  chan struct{}
	blockedSignaled bool
}

func (f *fakeIter) Next(opts ...jetstream.NextOpt) (jetstream.Msg, error) {
	f.mu.Lock()
	if f.msgs > 0 {
		f.msgs--
		f.mu.Unlock()
		return nil, nil
	}
	if len(opts) > 0 {
		f.bounded++
		f.mu.Unlock()
		return nil, nats.ErrTimeout
	}
	f.unlim++
	if !f.blockedSignaled {
		f.blockedSignaled = true
		close(f.blockedUnbound)
	}
	f.mu.Unlock()
	<-f.stopped
	return nil, jetstream.ErrMsgIteratorClosed
}

func (f *fakeIter) Stop()  { f.stopOnce.Do(func() { close(f.stopped) }) }
func (f *fakeIter) Drain() { f.Stop() }

// TestFeedAsksAgainThenWaitsUnbounded: after the last message, Feed calls
// Next with short limits a few times (each call asks the server again if
// the iterator needs to), then without a limit, where the iterator's
// heartbeat check guards an idle consumer; it closes out when the iterator
// closes.
func TestFeedAsksAgainThenWaitsUnbounded(t *testing.T) {
	t.Parallel()
	it := &fakeIter{msgs: 3, stopped: make(chan struct{}), blockedUnbound: make(chan struct{})}
	out := make(chan jetstream.Msg)
	go Feed(it, out, func(err error) { t.Errorf("onErr(%v)", err) })
	for range 3 {
		<-out
	}
	select {
	case <-it.blockedUnbound:
	case <-time.After(5 * time.Second):
		t.Fatal("Feed never waited without a limit")
	}
	it.mu.Lock()
	bounded, unlim := it.bounded, it.unlim
	it.mu.Unlock()
	if bounded != 6 || unlim != 1 { // 2, 4, 8, 16, 32, 64 ms
		t.Errorf("%d bounded and %d unbounded waits after the last message, want 6 and 1", bounded, unlim)
	}
	it.Stop()
	if _, open := <-out; open {
		t.Error("out still open after the iterator closed")
	}
}
