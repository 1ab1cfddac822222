// Package action defines what a corrective action is, the registry rules
// name actions from, and the error classes that drive the worker's ack
// decision.
//
// Every action ensures a desired state: it reads the current state, does
// nothing when the resource is already compliant, writes otherwise, and
// reads back to verify. Calling it twice is safe. An action declares the
// parts that differ (Desired: how to read, when the state is compliant,
// what refuses a write, how to write) and Ensure runs the template; it
// declares its calls (Op: which are writes, at what default rate), from
// which its provider learns what to fence and how to pace.
//
// An action's error says what to do next by its type, never by its text:
// a *Error with class Retryable (try again later), Permanent (dead-letter),
// or AlreadyDone (the desired state holds; ack). Providers map their SDK
// errors into these classes in one table each, with ByStatus for the codes
// a table does not name, and run their SDK calls through CallOp.
package action
