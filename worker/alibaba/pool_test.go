package alibaba

import (
	"net/http"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// TestPoolReusesAndRetires: a returned client is lent again; once the
// pool is retired (the credentials rotated), returned clients are dropped.
func TestPoolReusesAndRetires(t *testing.T) {
	t.Parallel()
	built := 0
	p := &clientPool{build: func() (*ecs.Client, *http.Transport, error) {
		built++
		return &ecs.Client{}, &http.Transport{}, nil
	}}
	idle := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle)
	}
	waitIdle := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); idle() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d idle clients, want %d", idle(), n)
			}
		}
	}
	a, _ := p.get()
	b, _ := p.get() // a is on loan: a second client
	if built != 2 || a.c == b.c {
		t.Fatalf("built %d clients for two loans", built)
	}
	a.release()
	waitIdle(1)
	if c, _ := p.get(); c.c != a.c || built != 2 {
		t.Error("a returned client was not lent again")
	}
	p.retire()
	b.release()
	time.Sleep(20 * time.Millisecond)
	if idle() != 0 {
		t.Error("a retired pool kept a returned client")
	}
}
