package events

import (
	"errors"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// parseJSON parses one JSON value, as strictly as encoding/json.Valid, into
// what encoding/json.Unmarshal into an any gives: map[string]any, []any,
// float64, string, bool and nil, invalid UTF-8 replaced by U+FFFD, the last
// of duplicate keys winning. It is one pass over the input where
// json.Valid followed by a decoder is two; decoding an event spent a
// quarter of its time in json.Valid alone.
func parseJSON(b []byte) (any, error) {
	p := getParser(b)
	defer putParser(p)
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.i != len(b) {
		return nil, p.syntax("after top-level value")
	}
	return v, nil
}

// parsers are reused for their scratch space.
var parsers = sync.Pool{New: func() any { return &jsonParser{members: make([]member, 0, 64)} }}

func getParser(b []byte) *jsonParser {
	p := parsers.Get().(*jsonParser)
	*p = jsonParser{b: b, members: p.members[:0], dataStart: -1}
	return p
}

func putParser(p *jsonParser) {
	p.b = nil
	if cap(p.members) > 1024 {
		p.members = make([]member, 0, 64) // one huge object does not pin its scratch
	} else {
		clear(p.members[:cap(p.members)]) // nor do the values of one that failed to parse
	}
	parsers.Put(p)
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

type jsonParser struct {
	b []byte
	i int
	// For the outermost object (see structuredFast): whether a key
	// repeats, and the span of its "data" member's value (-1: none).
	topDup             bool
	dataStart, dataEnd int
	// replaced is set when invalid UTF-8 or a lone surrogate escape was
	// replaced by U+FFFD: the SDK's reader does neither as encoding/json.
	replaced bool
	// members is scratch for the objects being read (see object).
	members []member
}

// jsonSyntaxError says where a JSON text stops being valid.
type jsonSyntaxError struct {
	msg    string
	offset int
}

func (e *jsonSyntaxError) Error() string {
	return e.msg + " at offset " + strconv.Itoa(e.offset)
}

// syntax is the error for the byte at p.i, which is not allowed where
// the parser is: "invalid character 'x' <where>", or the end of input.
func (p *jsonParser) syntax(where string) error {
	if p.i >= len(p.b) {
		return &jsonSyntaxError{msg: "unexpected end of JSON input", offset: p.i}
	}
	c := strconv.QuoteRune(rune(p.b[p.i]))
	if p.b[p.i] >= utf8.RuneSelf {
		c = strconv.Quote(string(p.b[p.i : p.i+1]))
	}
	return &jsonSyntaxError{msg: "invalid character " + c + " " + where, offset: p.i}
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	p.skipSpace()
	if p.i >= len(p.b) {
		return nil, p.syntax("looking for a value")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		if depth >= maxJSONDepth {
			return nil, &jsonSyntaxError{msg: "exceeded max depth", offset: p.i}
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= maxJSONDepth {
			return nil, &jsonSyntaxError{msg: "exceeded max depth", offset: p.i}
		}
		return p.array(depth + 1)
	case c == '"':
		return p.strValue()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.syntax("looking for beginning of value")
}

func (p *jsonParser) literal(word string) error {
	for j := 0; j < len(word); j++ {
		if p.i >= len(p.b) || p.b[p.i] != word[j] {
			return p.syntax("in literal " + word)
		}
		p.i++
	}
	return nil
}

// object reads an object. Its members are gathered on p.members and the
// map made at its final size: growing a map as members arrive was a
// fifth of decoding an event.
func (p *jsonParser) object(depth int) (map[string]any, error) {
	top := depth == 1
	p.i++ // {
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return map[string]any{}, nil
	}
	base := len(p.members)
	defer func() { p.members = p.members[:base] }()
	for {
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.syntax("looking for beginning of object key string")
		}
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if p.skipSpace(); p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.syntax("after object key")
		}
		p.i++
		start := p.i // the SDK's raw data begins right after the colon
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if top && k == "data" {
			p.dataStart, p.dataEnd = start, p.i
		}
		p.members = append(p.members, member{k, v})
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.syntax("after object key:value pair")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			ms := p.members[base:]
			m := make(map[string]any, len(ms))
			for _, kv := range ms {
				m[kv.key] = kv.val
			}
			if top && len(m) != len(ms) {
				p.topDup = true
			}
			clear(ms) // let the values go with the map, not the scratch
			return m, nil
		default:
			return nil, p.syntax("after object key:value pair")
		}
	}
}

// member is one object member waiting for its object's map.
type member struct {
	key string
	val any
}

func (p *jsonParser) array(depth int) ([]any, error) {
	p.i++ // [
	a := []any{}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.syntax("after array element")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.syntax("after array element")
		}
	}
}

// str reads a string. The common case (no escapes, ASCII or valid UTF-8)
// is one scan and one copy.
func (p *jsonParser) str() (string, error) {
	p.i++ // "
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return p.slowStr(start)
		case c < 0x20:
			return "", p.syntax("in string literal")
		}
		p.i++
	}
	return "", p.syntax("in string literal")
}

// key reads an object key. Short keys without escapes come from the
// intern table: events of one kind repeat the same names, and allocating
// each again was a fifth of decoding's allocations.
func (p *jsonParser) key() (string, error) {
	start := p.i + 1
	for j := start; j < len(p.b) && j-start <= maxInterned; j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return internal.get(p.b[start:j]).s, nil
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return p.str()
		}
	}
	return p.str()
}

// strValue reads a string value; short ones without escapes, which
// repeat from event to event (regions, result codes, user names), come
// boxed from the intern table.
func (p *jsonParser) strValue() (any, error) {
	start := p.i + 1
	for j := start; j < len(p.b) && j-start <= maxInterned/2; j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return internal.get(p.b[start:j]).v, nil
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return p.str()
		}
	}
	return p.str()
}

// slowStr finishes a string that has escapes or non-ASCII bytes.
func (p *jsonParser) slowStr(start int) (string, error) {
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", p.syntax("in string literal")
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				p.replaced = true
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, p.b[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	return "", p.syntax("in string literal")
}

// escape reads one backslash escape and returns its rune; a \u escape of
// a lone surrogate is U+FFFD, as encoding/json decodes it.
func (p *jsonParser) escape() (rune, error) {
	p.i++ // backslash
	if p.i >= len(p.b) {
		return 0, p.syntax("in string escape code")
	}
	c := p.b[p.i]
	p.i++
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A high surrogate followed by a \u low surrogate is one rune.
		if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
			save := p.i
			p.i += 2
			r2, err := p.hex4()
			if err != nil {
				return 0, err
			}
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				return dec, nil
			}
			p.i = save // not a pair: the second escape stands alone
		}
		p.replaced = true // jsoniter (the SDK) would take both escapes here
		return utf8.RuneError, nil
	}
	p.i--
	return 0, p.syntax("in string escape code")
}

func (p *jsonParser) hex4() (rune, error) {
	var r rune
	for range 4 {
		if p.i >= len(p.b) {
			return 0, p.syntax("in \\u hexadecimal character escape")
		}
		c := p.b[p.i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, p.syntax("in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
		p.i++
	}
	return r, nil
}

// errNumberRange is encoding/json's complaint about a number no float64
// holds.
var errNumberRange = errors.New("number out of the range of a float64")

// number reads a number with JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() (float64, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return 0, p.syntax("in numeric literal")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return 0, p.syntax("after decimal point in numeric literal")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return 0, p.syntax("in exponent of numeric literal")
		}
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil {
		return 0, &jsonSyntaxError{msg: errNumberRange.Error() + ": " + string(p.b[start:p.i]), offset: start}
	}
	return f, nil
}

func (p *jsonParser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
