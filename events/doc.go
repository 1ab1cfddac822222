// Package events turns transport messages into validated CloudEvents 1.0.
//
// It accepts both CloudEvents content modes: binary (attributes in "ce-"
// headers, data in the body) and structured ("application/cloudevents+json",
// the whole event in the body). A body with no content type and no "ce-"
// headers is read as structured JSON, because that is what most publishers
// send. Decoding goes through github.com/cloudevents/sdk-go/v2's binding
// package, so extensions, time parsing and validation are the SDK's.
//
// The package knows nothing of NATS: callers pass a header map and a body.
// Every decoding failure is an *InvalidError, which the worker dead-letters
// with reason invalid_event and never retries.
package events
