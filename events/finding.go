package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Drift kinds a finding can report.
const (
	DriftKeyRotationDisabled = "kms.key_rotation_disabled"
	DriftKeyMustBeDisabled   = "kms.key_must_be_disabled"
	DriftKeyPendingDeletion  = "kms.key_pending_deletion"
	DriftDefaultDiskKey      = "disk.default_key_drifted"
	DriftConfigNonCompliant  = "config.non_compliant"
)

// FindingTypePrefix prefixes the CloudEvent type of canonical findings:
// remediator.finding.<drift>.
const FindingTypePrefix = "remediator.finding."

// Finding is what an event says drifted, whatever form it came in. Rules
// read it as `finding` beside the raw event. A zero Drift means the event
// is of a known form but reports no drift (a failed call, an unrelated
// API, a change made by the worker itself).
type Finding struct {
	Form         string `json:"form"`     // actiontrail, config, cts, finding
	Provider     string `json:"provider"` // alibaba, huawei
	Account      string `json:"account"`  // Alibaba account id, Huawei domain id
	Region       string `json:"region"`
	Project      string `json:"project"` // Huawei project id
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`
	Drift        string `json:"drift"`
	Operation    string `json:"operation"` // the API call or trace name, or the config rule
	Actor        Actor  `json:"actor"`
	Detail       string `json:"detail"`
	// Self is true when the change was made by one of the worker's own
	// principals: acting on it again would start a remediation loop.
	Self bool `json:"self"`
}

// Actor is who made the change.
type Actor struct {
	Type string `json:"type"` // root-account, ram-user, assumed-role, system, user...
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Map returns the finding as the map CEL sees.
func (f *Finding) Map() map[string]any {
	return map[string]any{
		"form": f.Form, "provider": f.Provider, "account": f.Account, "region": f.Region, "project": f.Project,
		"resource_type": f.ResourceType, "resource_id": f.ResourceID, "drift": f.Drift, "operation": f.Operation,
		"actor":  map[string]any{"type": f.Actor.Type, "id": f.Actor.ID, "name": f.Actor.Name},
		"detail": f.Detail, "self": f.Self,
	}
}

// Normalizer turns events into findings. SelfPrincipals are the worker's
// own identities (ActionTrail principalId or userName, CTS user id or
// name); changes they made are marked Self.
type Normalizer struct {
	SelfPrincipals []string
}

// Normalize returns the event's finding, nil when the event is of no
// known form, or an *InvalidError when it claims a known form but cannot
// be read (a missing account or region, a wrong type).
func (n Normalizer) Normalize(env *Envelope) (*Finding, error) {
	typ, source := env.Event.Type(), env.Event.Source()
	var f *Finding
	var err error
	switch {
	case strings.HasPrefix(typ, FindingTypePrefix):
		f, err = canonical(env)
	case strings.HasSuffix(typ, ":ActionTrail:ApiCall") && strings.HasPrefix(source, "acs."):
		f, err = actionTrail(env)
	case typ == "config:Config:NonCompliantNotification":
		f, err = configNonCompliant(env)
	case strings.Contains(typ, ":CloudTrace:") && strings.HasPrefix(source, "HC."):
		f, err = cloudTrace(env)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, invalid(fmt.Sprintf("%s event", typ), err)
	}
	for _, p := range n.SelfPrincipals {
		if p != "" && (p == f.Actor.ID || p == f.Actor.Name) {
			f.Self = true
		}
	}
	return f, nil
}

// DecodeFinding reads one CloudEvent from a message's headers and body
// (Decode) and normalises it (n.Normalize), with its finding set on the
// envelope: nil when the event is of no known form. Every failure is
// Decode's or Normalize's own *InvalidError, unchanged. When the event
// decodes but its finding cannot be read, the envelope is returned with
// the error (its Finding nil), so that a caller can still name the event.
func DecodeFinding(ctx context.Context, header map[string][]string, body []byte, n Normalizer) (*Envelope, error) {
	env, err := Decode(ctx, header, body)
	if err != nil {
		return nil, err
	}
	if env.Finding, err = n.Normalize(env); err != nil {
		return env, err
	}
	return env, nil
}

// object is a JSON object with lenient readers for the vendors' habit of
// sending numbers as strings and the other way round.
type object map[string]any

func dataObject(env *Envelope) (object, error) {
	m, ok := env.Data.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("data is %s, not a JSON object", kind(env.Data))
	}
	return object(m), nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "absent"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "a value"
}

// str reads a string or number field; "" when absent.
func (o object) str(key string) (string, error) {
	switch v := o[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("%s is %s, want a string", key, kind(o[key]))
}

// obj reads a nested object, which some sources send as a JSON string.
func (o object) obj(key string) (object, error) {
	switch v := o[key].(type) {
	case nil:
		return object{}, nil
	case map[string]any:
		return object(v), nil
	case string:
		if strings.TrimSpace(v) == "" {
			return object{}, nil
		}
		var parsed any
		err := json.Unmarshal([]byte(v), &parsed)
		m, isObject := parsed.(map[string]any)
		if err != nil || !isObject && parsed != nil {
			return nil, fmt.Errorf("%s is a string that is not a JSON object", key)
		}
		return object(m), nil // null: no fields
	}
	return nil, fmt.Errorf("%s is %s, want an object", key, kind(o[key]))
}

// first returns the first non-empty string of the fields, in order.
func first(fields ...func() (string, error)) (string, error) {
	for _, f := range fields {
		v, err := f()
		if err != nil {
			return "", err
		}
		if v != "" {
			return v, nil
		}
	}
	return "", nil
}

func (o object) field(key string) func() (string, error) {
	return func() (string, error) { return o.str(key) }
}

func ext(env *Envelope, name string) func() (string, error) {
	return func() (string, error) {
		v, ok := env.Event.Extensions()[name]
		if !ok {
			return "", nil
		}
		return fmt.Sprint(v), nil
	}
}
