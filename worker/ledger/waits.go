package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Waits. The server counts every delivery of a message, but a delivery
// that only found another delivery's lease held (busy), or that was handed
// back at shutdown, was no attempt at the work: spending the attempts on
// such waits dead-lettered valid events after a crash left leases behind.
// So the worker counts them per message here (w.<hash(stream, sequence)>),
// subtracts them from the server's delivery count, and gives the consumer
// MaxDeliver+MaxWaits deliveries.

// Waits is what the ledger knows of a message's deliveries that waited.
type Waits struct {
	Count int // deliveries that only waited or were handed back
	// Worked is true when a rule did work on the message before one of
	// those waits: its redeliveries must read the ledger, not an
	// observation, for that rule.
	Worked bool
}

func waitsKey(stream string, seq uint64) string {
	return Key("w", stream, strconv.FormatUint(seq, 10))
}

// ErrMalformed is the error of a value the ledger cannot parse.
var ErrMalformed = errors.New("malformed ledger value")

// Waits reads the message's waits; a message that never waited has none.
// An unreadable count is an error, a malformed one ErrMalformed.
func (l *Ledger) Waits(ctx context.Context, stream string, seq uint64) (Waits, error) {
	e, err := l.kv.Get(ctx, waitsKey(stream, seq))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Waits{}, nil
	}
	if err != nil {
		return Waits{}, err
	}
	v, worked := strings.CutSuffix(string(e.Value()), "+")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return Waits{}, fmt.Errorf("%w: wait count %q", ErrMalformed, e.Value())
	}
	return Waits{Count: n, Worked: worked}, nil
}

// SetWaits stores the message's waits.
func (l *Ledger) SetWaits(ctx context.Context, stream string, seq uint64, w Waits) error {
	v := strconv.Itoa(w.Count)
	if w.Worked {
		v += "+"
	}
	_, err := l.kv.Put(ctx, waitsKey(stream, seq), []byte(v))
	return err
}

// ForgetWaits drops a settled message's count.
func (l *Ledger) ForgetWaits(ctx context.Context, stream string, seq uint64) {
	_ = l.kv.Delete(ctx, waitsKey(stream, seq))
}
