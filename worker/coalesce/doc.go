// Package coalesce answers many events about one resource with one read.
//
// An Observation is a read by this process that found one action, with one
// set of parameters, compliant (or wrote and then verified it). Before the
// read began, the worker knew that the intake stream held sequence mark:
// it had received that message, or the stream had reported it as its last
// sequence. Every message at or before mark was stored before the read
// began, so the change it reports happened before the read: the read saw
// the state that change left, or a later one. An event with sequence <=
// mark is therefore already answered, with no cloud call and no ledger round
// trip. The rule uses only the stream's own order, no clocks. An event
// stored after mark is never covered: it may report a newer drift.
//
// Observations are kept for the table's ttl (--coalesce-for) and only in memory; each replica
// keeps its own. A read in flight is shared: an event that arrives while
// another goroutine reads the same thing waits for that read and is covered
// by it if the read began after the event was received.
//
// Replicas share what they read through the ledger (share.go): an event
// waiting for a resource's lease held by another replica is answered by
// that replica's read.
package coalesce
