package alibaba

import (
	"context"
	"net/http"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/remediator/remediator/worker/action"
)

// The SDK's Client is not safe for concurrent calls: every request sets
// the client's http.Client timeout and its transport's dialer and TLS
// settings (a data race the race detector reports). So each action
// borrows a client of its own from a pool per account and region, and a
// client goes back only when every SDK call made on it has returned, even
// one abandoned when its context ended. When an account's credentials
// rotate (STS, instance role), its pool is replaced and the old one's
// clients are closed as they come back.

// maxIdleClients bounds the clients a pool keeps for reuse.
const maxIdleClients = 64

type clientPool struct {
	accessKey string // the credentials its clients were built with
	limiter   *action.RateLimiter
	writes    map[string]bool // the calls to fence (see action.BeforeWrite)
	build     func() (*ecs.Client, *http.Transport, error)
	mu        sync.Mutex
	idle      []pooled
	retired   bool
}

type pooled struct {
	c  *ecs.Client
	tr *http.Transport
}

// lent is a client on loan to one action.
type lent struct {
	pooled
	pool     *clientPool
	inflight sync.WaitGroup // SDK calls still running on the client
}

func (p *clientPool) get() (*lent, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return &lent{pooled: c, pool: p}, nil
	}
	p.mu.Unlock()
	c, tr, err := p.build()
	if err != nil {
		return nil, err
	}
	return &lent{pooled: pooled{c, tr}, pool: p}, nil
}

// retire closes the idle clients; the ones on loan are closed on return.
func (p *clientPool) retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = true
	for _, c := range p.idle {
		c.tr.CloseIdleConnections()
	}
	p.idle = nil
}

// release returns the client once no call runs on it any more.
func (l *lent) release() {
	go func() {
		l.inflight.Wait()
		p := l.pool
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.retired || len(p.idle) >= maxIdleClients {
			l.tr.CloseIdleConnections()
			return
		}
		p.idle = append(p.idle, l.pooled)
	}()
}

// callOn paces one SDK call, fences it when it is a write, then runs it on
// the lent client (see action.CallOp).
func callOn[T any](ctx context.Context, l *lent, op string, f func(*ecs.Client) (T, error)) (T, error) {
	if err := l.pool.limiter.Wait(ctx, op); err != nil {
		var zero T
		return zero, err
	}
	if l.pool.writes[op] {
		if err := action.BeforeWrite(ctx); err != nil {
			var zero T
			return zero, err
		}
	}
	l.inflight.Add(1)
	return action.CallOp(ctx, op, classify, func() (T, error) {
		defer l.inflight.Done()
		return f(l.c)
	})
}
