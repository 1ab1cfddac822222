// Package ledger is the idempotency ledger: a JetStream KV bucket that
// makes each correction happen once across retries, redeliveries, crashes and replicas:
//
//   - e.<hash(source, id, rule)>: the work for one event and rule. Claimed
//     with create-if-absent as a lease, renewed while the work runs, and
//     replaced by a done record (kept for the bucket's TTL, longer than the
//     intake keeps anything) when the work succeeded. A redelivery that
//     finds the done record acks with no cloud call; one that finds a live
//     lease waits; an expired lease (its replica crashed) is taken over.
//   - r.<hash(action, resource)>: a lease on one resource, so events about
//     the same resource are handled one at a time across all replicas; as
//     every action reads before it writes, a burst of drift events about
//     one resource makes one write.
//   - f.<hash(stream, seq)>: when a message first failed, for its dead letter.
//   - w.<hash(stream, seq)>: how many deliveries of a message only waited
//     (waits.go).
//
// The worker holds the leases around an action (worker/hold.go) and
// decides what a busy, done or lost lease means; this package only keeps
// the records, each change a compare-and-set on the revision held.
package ledger
