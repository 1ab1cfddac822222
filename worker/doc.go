// Package worker consumes CloudEvents from NATS JetStream, evaluates rules
// and runs corrective actions, and decides what becomes of every message.
//
// # The ack contract
//
// The decision is made in exactly one place (settle.go), from the class of
// the error the handling produced:
//
//   - Success (remediated, already compliant, planned, or no rule matched):
//     the decisions are recorded, then the message is DoubleAcked.
//   - Retryable (throttling, 5xx, timeouts, connection errors) with
//     attempts left: NakWithDelay, with capped exponential backoff and
//     jitter; throttling starts from a longer base. Never a bare Nak.
//   - Permanent (invalid event, too large, invalid params, a provider error
//     documented as permanent) or attempts exhausted (the delivery count has
//     reached MaxDeliver): the original message, body and headers byte for
//     byte, is published to the dead-letter stream with headers saying why
//     (streams.DeadLetterer, the one place a dead letter is made); only
//     once that publish is acknowledged is the original Termed. If the
//     dead-letter publish fails the message is Naked with a delay: nothing
//     is dropped.
//   - Shutdown: messages not yet started, and work cut off by the shutdown
//     timeout, are Naked so another replica takes them at once.
//
// Because JetStream delivers at least once, every action is idempotent: it
// reads the current state and makes no write when the resource is already
// compliant. The dead-letter publish carries a Nats-Msg-Id derived from the
// original stream sequence, so a repeated dead-letter is stored once.
//
// # Flow control
//
// A fixed pool of Concurrency goroutines pulls from one durable consumer
// with a client buffer no larger than the pool (so no message waits in a
// buffer past its AckWait), and signals InProgress every AckWait/3 while a
// slow cloud call runs. Several replicas share the same durable consumer.
package worker
