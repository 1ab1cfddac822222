// Package streams is the worker's side of JetStream that is not the run
// loop: the topology (the intake, dead-letter, audit and advisory streams,
// the KV buckets, the durable consumer), publishing an event to the intake
// on a bounded subject, and the dead letters: making one (DeadLetterer,
// for a delivery the worker gives up on and for a message the server
// announces as exhausted), its Remediator-* headers and the stub that
// stands in for an original too large to store, and reading, redriving and
// purging them (the dlq commands).
package streams
