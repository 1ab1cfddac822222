// Package guard is the blast-radius guard: the write limits and the
// circuits that stop a rule (or every rule) from writing once it has
// written too much.
//
// When a rule exceeds its `limits`, or all rules together exceed the
// global write limit, a circuit opens: a key in the control bucket
// (CircuitKey) that every replica watches (Guard.Watch). While it is open
// the rule's events (or every event, for the global circuit, GlobalCircuit)
// are not acted on and wait for a retry. The circuit closes when an
// operator resumes it (`remediator control resume RULE`, which deletes the
// key; the rule's write window starts afresh) or when the cool-down
// passes.
//
// The write limits (a rule's `limits: {writes: N, per: D}` and the global
// write limit) hold for the whole deployment, not per process: each
// limited rule's window is one key of the limits bucket (LimitKey), which
// every replica reads and changes with compare-and-set.
//
// An event takes a slot before it reads (Guard.Take), so concurrent events
// cannot overshoot the limit, even on different replicas; the slot becomes
// a write when the event wrote (Slots.Confirm), or is handed back when it
// did not (Slots.Release). Only writes count against the limit: slots held
// by events still in flight make others wait (Busy), not trip the circuit.
// A slot is renewed while its holder runs and expires otherwise, so a
// crashed replica's slots free themselves. When the shared windows cannot
// be read the guard fails closed: a limited rule does not write
// (Unavailable).
//
// The guard reports what it refused and why (Refusal); what becomes of
// the event (the retry, the audit record of a circuit it opened) is the
// worker's to decide.
package guard
