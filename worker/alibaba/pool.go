package alibaba

import (
	"context"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// The SDK's Client is not safe for concurrent calls: every request sets
// the client's http.Client timeout and its transport's dialer and TLS
// settings (a data race the race detector reports). So each action
// borrows a client of its own from a pool per account and region, and a
// client goes back only when every SDK call made on it has returned, even
// one abandoned when its context ended.

// maxIdleClients bounds the clients a pool keeps for reuse.
const maxIdleClients = 64

type clientPool struct {
	build func() (*ecs.Client, error)
	mu    sync.Mutex
	idle  []*ecs.Client
}

// lent is a client on loan to one action.
type lent struct {
	*ecs.Client
	pool     *clientPool
	inflight sync.WaitGroup // SDK calls still running on the client
}

func (p *clientPool) get() (*lent, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return &lent{Client: c, pool: p}, nil
	}
	p.mu.Unlock()
	c, err := p.build()
	if err != nil {
		return nil, err
	}
	return &lent{Client: c, pool: p}, nil
}

// release returns the client once no call runs on it any more.
func (l *lent) release() {
	go func() {
		l.inflight.Wait()
		p := l.pool
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.idle) < maxIdleClients {
			p.idle = append(p.idle, l.Client)
		}
	}()
}

// callOn runs one SDK call on the lent client (see call).
func callOn[T any](ctx context.Context, l *lent, op string, f func(*ecs.Client) (T, error)) (T, error) {
	l.inflight.Add(1)
	return call(ctx, op, func() (T, error) {
		defer l.inflight.Done()
		return f(l.Client)
	})
}
