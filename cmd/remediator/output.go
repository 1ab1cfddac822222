package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// outputFlag is -o of the commands that list or report: table or text
// (the default, for people; tables with a header line), json (one document; one
// object per line for a stream of records), or yaml.
type outputFlag struct {
	format  string
	formats []string
}

// register adds -o/--output; the first format is the default.
func (o *outputFlag) register(fs *pflag.FlagSet, formats ...string) {
	o.formats = formats
	fs.StringVarP(&o.format, "output", "o", formats[0], "output format: "+strings.Join(formats, ", "))
}

// check refuses a format the command does not write.
func (o *outputFlag) check() error {
	if slices.Contains(o.formats, o.format) {
		return nil
	}
	return fmt.Errorf("-o %s: unknown output format; this command writes %s", o.format, strings.Join(o.formats, ", "))
}

// write writes v as one JSON or YAML document; table is the caller's.
func (o *outputFlag) write(w io.Writer, v any) error {
	if o.format == "yaml" {
		return writeYAML(w, v)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONLine writes v as one line of JSON Lines.
func writeJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// writeYAML writes v as YAML with the field names and order its JSON
// has: the JSON is read back as a YAML node (YAML being a superset of
// JSON), then written in block style.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	var block func(*yaml.Node)
	block = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0 && !strings.ContainsAny(n.Value, "\n") {
			n.Style &^= yaml.DoubleQuotedStyle // the encoder quotes what needs it
		}
		for _, c := range n.Content {
			block(c)
		}
	}
	block(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}
