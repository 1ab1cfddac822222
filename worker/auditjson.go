package worker

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendAuditEvent appends ev as encoding/json.Marshal renders it, byte
// for byte (TestAuditRenderingMatchesEncodingJSON holds it to that), in a
// fifth of the time: the reflection and the sorting of the params map
// were the larger part of recording a decision.
func appendAuditEvent(b []byte, ev *auditEvent) []byte {
	b = append(b, `{"specversion":`...)
	b = appendJSONString(b, ev.SpecVersion)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, ev.ID)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, ev.Source)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, ev.Type)
	b = appendOptional(b, `,"subject":`, ev.Subject)
	b = append(b, `,"time":`...)
	b = appendJSONString(b, ev.Time)
	b = append(b, `,"datacontenttype":`...)
	b = appendJSONString(b, ev.DataContentType)
	b = append(b, `,"data":`...)
	if ev.Data == nil {
		b = append(b, "null"...)
	} else {
		b = appendAuditData(b, ev.Data)
	}
	return append(b, '}')
}

func appendAuditData(b []byte, d *AuditData) []byte {
	b = append(b, `{"outcome":`...)
	b = appendJSONString(b, string(d.Outcome))
	b = appendOptional(b, `,"reason":`, d.Reason)
	b = appendOptional(b, `,"code":`, d.Code)
	b = appendOptional(b, `,"error":`, d.Error)
	b = appendOptional(b, `,"detail":`, d.Detail)
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, d.Rule)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, d.Action)
	b = append(b, `,"provider":`...)
	b = appendJSONString(b, d.Provider)
	b = appendOptional(b, `,"account":`, d.Account)
	b = appendOptional(b, `,"region":`, d.Region)
	b = appendOptional(b, `,"resource":`, d.Resource)
	if len(d.Params) > 0 {
		b = append(b, `,"params":{`...)
		keys := make([]string, 0, len(d.Params))
		for k := range d.Params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, d.Params[k])
		}
		b = append(b, '}')
	}
	b = appendOptional(b, `,"state_before":`, d.Before)
	b = appendOptional(b, `,"state_after":`, d.After)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(d.Attempts), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, d.DurationMS)
	b = append(b, `,"event":{"id":`...)
	b = appendJSONString(b, d.Event.ID)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, d.Event.Source)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, d.Event.Type)
	b = append(b, `,"nats_subject":`...)
	b = appendJSONString(b, d.Event.Subject)
	b = append(b, `,"stream_sequence":`...)
	b = strconv.AppendUint(b, d.Event.Sequence, 10)
	return append(b, "}}"...)
}

// appendOptional appends a member that has omitempty.
func appendOptional(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendJSONString(append(b, name...), v)
}

// appendJSONFloat renders f as encoding/json does (ES6 number form). NaN
// and infinities, which encoding/json refuses, are rendered as 0.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	abs, format := math.Abs(f), byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does, HTML escaping included:
// <, > and & as \u003c, \u003e, \u0026, invalid UTF-8 as \ufffd, U+2028
// and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
