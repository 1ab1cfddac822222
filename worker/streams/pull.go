package streams

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Pulling. One goroutine reads the iterator and hands each message to the
// worker's pool. The iterator (nats.go 1.55) asks the server for more only from
// Next, and only when it is not still sending the previous pull request;
// on a fast (in-process) server every message of a request can be taken
// before the sender marks it sent, and Next then waits with nothing asked
// for until the missing heartbeat resets it (2 x pullHeartbeat): the
// consumer stalled for a second, several times a minute under load. So
// while messages flow, Next waits at most stallWait, then twice as long
// each time up to maxStallWait, each call asking again if it needs to;
// after that it waits without a limit, so the heartbeat check still
// guards an idle consumer.
const (
	pullExpiry    = 5 * time.Second
	pullHeartbeat = time.Second
	stallWait     = 2 * time.Millisecond
	maxStallWait  = 64 * time.Millisecond
)

// PullOptions are the options the worker pulls with, prefetch messages
// ahead of its handlers (the benchmark's ceiling consumer pulls with them
// too). The iterator asks for more when half of them are taken: a pull
// request per prefetch/2 messages.
func PullOptions(prefetch int) []jetstream.PullMessagesOpt {
	return []jetstream.PullMessagesOpt{jetstream.PullMaxMessages(prefetch), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat)}
}

// Feed reads messages from it and sends each to out, until the iterator
// is stopped or drained; then it closes out. The worker's pulls go
// through it, and cmd/remediator-bench's ceiling consumer reads exactly as
// the worker does. Errors other than the end of the iterator are passed to
// onErr (which may be nil).
func Feed(it jetstream.MessagesContext, out chan<- jetstream.Msg, onErr func(error)) {
	defer close(out)
	wait := time.Duration(0) // 0: no limit
	for {
		var m jetstream.Msg
		var err error
		if wait > 0 {
			m, err = it.Next(jetstream.NextMaxWait(wait))
		} else {
			m, err = it.Next()
		}
		switch {
		case err == nil:
			wait = stallWait
			out <- m
		case errors.Is(err, nats.ErrTimeout):
			if wait *= 2; wait > maxStallWait {
				wait = 0
			}
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return
		case onErr != nil:
			onErr(err)
		}
	}
}
