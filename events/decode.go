package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	jsoniter "github.com/json-iterator/go"
)

// Mode is the CloudEvents content mode a message arrived in.
type Mode string

// The two content modes.
const (
	Binary     Mode = "binary"
	Structured Mode = "structured"
)

// SpecVersion is the only CloudEvents version accepted.
const SpecVersion = "1.0"

// StructuredContentType is the media type of a structured-mode JSON event.
const StructuredContentType = "application/cloudevents+json"

// StructuredHeader returns a new header map that marks a body as a
// structured-mode event: Content-Type StructuredContentType. It is fresh
// on every call, so a caller may add to it.
func StructuredHeader() map[string][]string {
	return map[string][]string{"Content-Type": {StructuredContentType}}
}

// Envelope is a decoded, validated event and its parsed data.
type Envelope struct {
	Event event.Event
	// Data is the event's data parsed as JSON (maps, slices, float64,
	// string, bool, nil), or nil when the data is absent or not JSON.
	Data any
	Mode Mode
	// Finding is the normalised finding, set by DecodeFinding or by
	// Normalizer.Normalize's caller; nil when the event is of no known form.
	Finding *Finding
}

// InvalidError says why a message is not a usable CloudEvent. It is never
// worth retrying.
type InvalidError struct {
	Msg string
	Err error
}

func (e *InvalidError) Error() string {
	if e.Err == nil {
		return "invalid event: " + e.Msg
	}
	return "invalid event: " + e.Msg + ": " + e.Err.Error()
}

func (e *InvalidError) Unwrap() error { return e.Err }

func invalid(msg string, err error) error { return &InvalidError{Msg: msg, Err: err} }

var prefixed = spec.WithPrefix("ce-")

// Decode reads one CloudEvent from a message's headers and body. Header
// names are matched case-insensitively.
func Decode(ctx context.Context, header map[string][]string, body []byte) (*Envelope, error) {
	m := newMessage(header, body)
	if m.conflict != "" {
		// Which of two values a map walk meets first is chance: the id
		// would change the ledger key and the audit id from one delivery
		// to the next.
		return nil, invalid("header "+m.conflict+" given twice with different values", nil)
	}
	if m.mode == "" {
		return nil, invalid("neither a structured CloudEvent (content type "+StructuredContentType+
			") nor a binary one (ce-specversion header)", nil)
	}
	if m.mode == Binary && m.specVersion != SpecVersion {
		return nil, invalid(fmt.Sprintf("unsupported specversion %q (want %q)", m.specVersion, SpecVersion), nil)
	}
	e, err := toEvent(ctx, m)
	if err != nil {
		return nil, readError(m.mode, body, err)
	}
	if v := e.SpecVersion(); v != SpecVersion { // structured mode: the body named it
		return nil, invalid(fmt.Sprintf("unsupported specversion %q (want %q)", v, SpecVersion), nil)
	}
	if err := e.Validate(); err != nil {
		return nil, invalid("not a valid CloudEvent", err)
	}
	env := &Envelope{Event: *e, Mode: m.mode}
	if env.Data, err = parseData(e, m.mode); err != nil {
		return nil, err
	}
	return env, nil
}

// toEvent reads the message with the SDK. A structured body goes to the
// SDK's own event.UnmarshalJSON directly: binding.ToEvent would copy the
// body and hand it to encoding/json, which scans it twice (to validate
// it, then to find its end) before calling that same method. json.Valid
// keeps one of those scans, so that what follows the object (which the
// SDK's iterator does not look at) is still refused.
func toEvent(ctx context.Context, m *message) (*event.Event, error) {
	if m.mode != Structured {
		return binding.ToEvent(ctx, m)
	}
	if !json.Valid(m.body) {
		return nil, errors.New("body is not valid JSON")
	}
	e := event.New()
	if err := e.UnmarshalJSON(m.body); err != nil {
		return nil, err
	}
	return &e, nil
}

// readError is the InvalidError for a message the SDK could not read. For
// a structured body, it says first whether the body is a JSON object with
// specversion 1.0, more clearly than the SDK's error does.
func readError(mode Mode, body []byte, err error) error {
	if mode == Binary {
		return invalid("cannot decode binary-mode event", err)
	}
	if cerr := checkStructured(body); cerr != nil {
		return cerr
	}
	return invalid("cannot decode structured-mode event", err)
}

// checkStructured rejects bodies that are not a JSON object or that name a
// specversion other than 1.0, with messages clearer than the SDK's.
func checkStructured(body []byte) error {
	var head struct {
		SpecVersion *string `json:"specversion"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return invalid("body is not a JSON object", err)
	}
	if head.SpecVersion == nil {
		return invalid("missing specversion", nil)
	}
	if *head.SpecVersion != SpecVersion {
		return invalid(fmt.Sprintf("unsupported specversion %q (want %q)", *head.SpecVersion, SpecVersion), nil)
	}
	return nil
}

// parseData parses JSON data as encoding/json does into an any: invalid
// UTF-8 becomes U+FFFD, the last of duplicate keys wins, nesting deeper
// than 10000 is an error. Data with a non-JSON content type is left for
// rules to ignore; JSON data that does not parse makes the event invalid.
// A structured body's data the SDK keeps as the JSON value itself was
// checked with the body (toEvent); its base64 data, the content of a JSON
// string (what the SDK keeps for other media types, +json ones among
// them) and a binary event's body were not.
func parseData(e *event.Event, mode Mode) (any, error) {
	raw := e.Data()
	media := e.DataMediaType()
	if len(raw) == 0 || !isJSON(media) {
		return nil, nil
	}
	v, err := decodeJSON(raw, mode == Structured && !e.DataBase64 && sdkKeepsJSON(media))
	if err != nil {
		return nil, invalid("data is not valid JSON", err)
	}
	return v, nil
}

// stdJSON is json-iterator (the CloudEvents SDK's own JSON library) set
// up to behave as encoding/json does.
var stdJSON = jsoniter.ConfigCompatibleWithStandardLibrary

// decodeJSON parses JSON into what encoding/json gives for an any: maps,
// slices, float64, string, bool and nil; checked says raw is known to be
// valid JSON. json-iterator parses in about three quarters of the time
// (events' BenchmarkDecode) and gives the same values (FuzzDecodeJSON
// compares them), but accepts some invalid JSON (a NUL after the value)
// and keeps invalid UTF-8 where encoding/json puts U+FFFD: so unchecked
// JSON is checked first, and JSON that is invalid or not UTF-8, or that
// json-iterator refuses (a number out of float64's range), goes to
// encoding/json itself, for its value or its error.
func decodeJSON(raw []byte, checked bool) (any, error) {
	var v any
	if (checked || json.Valid(raw)) && utf8.Valid(raw) && stdJSON.Unmarshal(raw, &v) == nil {
		return v, nil
	}
	v = nil
	err := json.Unmarshal(raw, &v)
	return v, err
}

// sdkKeepsJSON reports whether the SDK keeps a structured body's data of
// this media type as the JSON value itself (event.consumeData); of any
// other it keeps the content of the JSON string the data must then be.
func sdkKeepsJSON(media string) bool {
	switch media {
	case "", event.ApplicationJSON, event.TextJSON, event.ApplicationCloudEventsJSON, event.ApplicationCloudEventsBatchJSON:
		return true
	}
	return false
}

func isJSON(media string) bool {
	return media == "" || media == "application/json" || media == "text/json" || strings.HasSuffix(media, "+json")
}

// message adapts a header map and body to the SDK's binding.Message.
type message struct {
	header      map[string]string // lower-cased names, first value
	body        []byte
	mode        Mode
	specVersion string
	// conflict names an attribute header given twice (under two casings,
	// or two values of one name) with different values.
	conflict string
}

func newMessage(header map[string][]string, body []byte) *message {
	m := &message{header: make(map[string]string, len(header)), body: body}
	for k, v := range header {
		if len(v) == 0 {
			continue
		}
		lk := strings.ToLower(k)
		if prev, seen := m.header[lk]; seen && prev != v[0] || !sameValues(v) {
			if isAttributeHeader(lk) {
				m.conflict = lk
			}
		}
		m.header[lk] = v[0]
	}
	media := m.header["content-type"]
	switch media {
	case "", StructuredContentType, "application/json": // as they are: no parameters to parse
	default:
		media, _, _ = mime.ParseMediaType(media)
	}
	sv, hasSV := m.header["ce-specversion"]
	switch {
	case media == StructuredContentType:
		m.mode = Structured
	case hasSV:
		m.mode, m.specVersion = Binary, sv
	case media == "" || media == "application/json":
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
			m.mode = Structured
		}
	}
	return m
}

// sameValues reports whether every value of a header is the first one.
func sameValues(v []string) bool {
	for _, s := range v[1:] {
		if s != v[0] {
			return false
		}
	}
	return true
}

// isAttributeHeader reports whether a lower-cased header carries a
// CloudEvents attribute: a ce- header, or content-type (datacontenttype
// in binary mode, and what decides the mode).
func isAttributeHeader(lk string) bool {
	return lk == "content-type" || strings.HasPrefix(lk, "ce-")
}

var _ binding.Message = (*message)(nil)

func (m *message) ReadEncoding() binding.Encoding {
	switch m.mode {
	case Binary:
		return binding.EncodingBinary
	case Structured:
		return binding.EncodingStructured
	}
	return binding.EncodingUnknown
}

func (m *message) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.mode != Structured {
		return binding.ErrNotStructured
	}
	return w.SetStructuredEvent(ctx, format.JSON, bytes.NewReader(m.body))
}

func (m *message) ReadBinary(ctx context.Context, w binding.BinaryWriter) error {
	if m.mode != Binary {
		return binding.ErrNotBinary
	}
	v := prefixed.Version(m.specVersion)
	if v == nil {
		return errors.New("unknown specversion")
	}
	for name, value := range m.header {
		if name == "content-type" {
			if err := w.SetAttribute(v.AttributeFromKind(spec.DataContentType), value); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(name, "ce-") {
			continue
		}
		if a := v.Attribute(name); a != nil {
			if err := w.SetAttribute(a, value); err != nil {
				return fmt.Errorf("attribute %s: %w", name, err)
			}
			continue
		}
		if err := w.SetExtension(strings.TrimPrefix(name, "ce-"), value); err != nil {
			return fmt.Errorf("extension %s: %w", name, err)
		}
	}
	if len(m.body) > 0 {
		return w.SetData(bytes.NewReader(m.body))
	}
	return nil
}

func (m *message) Finish(error) error { return nil }

var _ binding.MessageMetadataReader = (*message)(nil)

// GetAttribute implements binding.MessageMetadataReader for binary mode.
func (m *message) GetAttribute(k spec.Kind) (spec.Attribute, any) {
	v := prefixed.Version(m.specVersion)
	if v == nil {
		return nil, nil
	}
	a := v.AttributeFromKind(k)
	if a == nil {
		return nil, nil
	}
	if s, ok := m.header[a.PrefixedName()]; ok {
		return a, s
	}
	return a, nil
}

// GetExtension implements binding.MessageMetadataReader for binary mode.
func (m *message) GetExtension(name string) any {
	if s, ok := m.header["ce-"+strings.ToLower(name)]; ok {
		return s
	}
	return nil
}
