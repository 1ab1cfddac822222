package events

import (
	"encoding/json"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// ToBinary converts a structured-mode JSON event into binary mode: "ce-"
// headers and the data as the body.
func ToBinary(structured []byte) (map[string][]string, []byte, error) {
	var e event.Event
	if err := json.Unmarshal(structured, &e); err != nil {
		return nil, nil, invalid("cannot read structured event", err)
	}
	if err := e.Validate(); err != nil {
		return nil, nil, invalid("not a valid CloudEvent", err)
	}
	h := map[string][]string{
		"ce-specversion": {e.SpecVersion()},
		"ce-id":          {e.ID()},
		"ce-source":      {e.Source()},
		"ce-type":        {e.Type()},
	}
	put := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	put("ce-subject", e.Subject())
	put("ce-dataschema", e.DataSchema())
	put("content-type", e.DataContentType())
	if t := e.Time(); !t.IsZero() {
		put("ce-time", t.UTC().Format(time.RFC3339Nano))
	}
	for k, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return nil, nil, invalid("extension "+k, err)
		}
		put("ce-"+k, s)
	}
	return h, e.Data(), nil
}
