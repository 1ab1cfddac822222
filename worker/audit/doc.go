// Package audit is what the worker says about each event: the closed
// vocabulary of outcomes and reasons (metric labels, log fields and audit
// records all come from it), the Decision that carries one event's
// outcome for one rule, the Recorder interface the worker records through,
// and the recorder that publishes each final decision to the audit stream
// as a CloudEvent.
package audit
