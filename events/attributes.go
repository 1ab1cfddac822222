package events

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Attributes returns the event's context attributes and extensions as one
// map, the shape rules see as `event`. Time is RFC 3339 text; absent
// optional attributes are absent from the map.
func (e *Envelope) Attributes() map[string]any {
	ev := &e.Event
	m := map[string]any{
		"id":          ev.ID(),
		"source":      ev.Source(),
		"type":        ev.Type(),
		"specversion": ev.SpecVersion(),
	}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("subject", ev.Subject())
	put("datacontenttype", ev.DataContentType())
	put("dataschema", ev.DataSchema())
	if t := ev.Time(); !t.IsZero() {
		m["time"] = t.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range ev.Extensions() {
		if _, clash := m[k]; !clash {
			m[k] = v
		}
	}
	return m
}

// DedupID is the identity of an event for duplicate detection: CloudEvents
// defines source plus id as unique. It is a hex SHA-256, safe to use as a
// Nats-Msg-Id or a KV key.
func DedupID(source, id string) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}
