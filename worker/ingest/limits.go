package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
)

// Attribute limits at the door. CloudEvents sets none; these are far above
// what the buses send (ids are UUIDs, sources and types a few dozen
// bytes) and keep one event from carrying kilobytes of attributes into
// subjects, ids, headers and logs downstream.
const (
	maxIDBytes       = 256
	maxTypeBytes     = 256
	maxSourceBytes   = 1024
	maxAttrBytes     = 1024 // subject, dataschema, datacontenttype, extension values
	maxExtensionName = 64
)

// checkAttributes refuses an event whose attributes exceed the limits.
func checkAttributes(e event.Event) *rejection {
	attrs := []struct {
		name, value string
		limit       int
	}{
		{"id", e.ID(), maxIDBytes},
		{"source", e.Source(), maxSourceBytes},
		{"type", e.Type(), maxTypeBytes},
		{"subject", e.Subject(), maxAttrBytes},
		{"dataschema", e.DataSchema(), maxAttrBytes},
		{"datacontenttype", e.DataContentType(), maxAttrBytes},
	}
	for _, a := range attrs {
		if len(a.value) > a.limit {
			return tooLong(a.name, len(a.value), a.limit)
		}
	}
	for name, v := range e.Extensions() {
		if len(name) > maxExtensionName {
			return tooLong("an extension name", len(name), maxExtensionName)
		}
		s, err := types.Format(v)
		if err != nil {
			return &rejection{http.StatusBadRequest, "invalid_event", fmt.Sprintf("extension %s: %v", name, err)}
		}
		if len(s) > maxAttrBytes {
			return tooLong("extension "+name, len(s), maxAttrBytes)
		}
	}
	return nil
}

func tooLong(what string, n, limit int) *rejection {
	return &rejection{http.StatusBadRequest, "invalid_event", fmt.Sprintf("%s is %d bytes, the limit is %d", what, n, limit)}
}

// encode makes each event the structured message the intake stores. An
// event that cannot be encoded (binary JSON data that is not JSON) or
// whose message, headers included, is over the intake's limit once
// encoded (re-encoding escapes: '<' becomes \u003c, '"' becomes \", bytes
// become base64) is refused: neither would ever be accepted, and 503
// would make the bus retry it for ever.
func (h *Handler) encode(evs []event.Event) ([]*nats.Msg, *rejection) {
	msgs := make([]*nats.Msg, 0, len(evs))
	for i, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, &rejection{http.StatusBadRequest, "invalid_event", fmt.Sprintf("event %d cannot be encoded: its data does not match its datacontenttype", i)}
		}
		msg := &nats.Msg{Subject: h.cfg.Intake.IntakeSubject(e.Source()), Data: b,
			Header: nats.Header{"Content-Type": {events.StructuredContentType}, jetstream.MsgIDHeader: {events.DedupID(e.Source(), e.ID())}}}
		if limit := h.cfg.MaxMsgBytes; limit > 0 {
			if n := int64(msg.Size() - len(msg.Subject)); n > limit {
				return nil, &rejection{http.StatusRequestEntityTooLarge, "too_large",
					fmt.Sprintf("event %d is %d bytes once encoded for the intake, the limit is %d", i, n, limit)}
			}
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// publishRejection is the answer to a failed publish: too_large when the
// server or the stream refused the size (a limit changed under us since
// the start: permanent), else unavailable, so the bus retries.
func publishRejection(err error) rejection {
	var apiErr *jetstream.APIError
	if errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
		return rejection{http.StatusRequestEntityTooLarge, "too_large", "the event is over the intake's size limit"}
	}
	return rejection{http.StatusServiceUnavailable, "unavailable", "the intake stream did not acknowledge: retry"}
}
