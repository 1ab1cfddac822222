// Package notify delivers chosen audit records to people: a generic
// webhook (a CloudEvent in binary mode over HTTP) and a Slack-compatible
// incoming webhook (a readable message).
//
// Each sink has its own durable pull consumer on the audit stream, so a
// sink that fails holds back no other sink and never the worker. The
// delivery contract, decided in one place (Notifier.settle):
//
//   - sent (2xx): the record is acked;
//   - filtered out by the sink's rules or accounts: acked, nothing sent;
//   - rejected (4xx other than 408 and 429): permanent for that record:
//     logged, counted, and terminated (Term) so it does not loop;
//   - unreadable record: logged, counted, terminated;
//   - anything else (5xx, 408, 429, a timeout, a connection error):
//     NakWithDelay with an exponential delay (1 s doubling up to the
//     sink's cap, 1 min by default) and no attempt limit (MaxDeliver -1),
//     so nothing is lost while the sink is down. While a sink fails, its
//     records are not sent at all until the delay has passed: one probe
//     per period instead of a request per record.
//
// Delivery is at least once: the Idempotency-Key header (and ce-id) is the
// audit record's id, deterministic per event, rule and outcome, so a
// receiver can drop the rare duplicate (a 2xx whose ack was lost).
//
// Sink URLs and tokens are read from environment variables or files and
// are never logged nor put in an error: errors name the sink.
package notify
