package rules

import (
	"fmt"
	"regexp"
)

// ParamType is the type of an action parameter.
type ParamType string

// Parameter types.
const (
	String ParamType = "string"
)

// ParamSpec describes one parameter of an action.
type ParamSpec struct {
	Name     string
	Type     ParamType
	Required bool
	// Pattern, when set, must match the whole value.
	Pattern *regexp.Regexp
	// Literal params must be written in the rule, never computed from the
	// event: an approved key is configuration, not event data.
	Literal bool
	// Resource marks the parameter naming the resource acted on, which
	// exempt.resources is compared with.
	Resource bool
	Doc      string
}

// Check validates one value against the spec.
func (p ParamSpec) Check(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a %s, got %T", p.Type, v)
	}
	if s == "" && !p.Required {
		return nil // an optional parameter may be empty
	}
	if p.Pattern != nil && !p.Pattern.MatchString(s) {
		return fmt.Errorf("%q does not match %s", s, p.Pattern)
	}
	return nil
}

// Catalog tells the loader which actions exist and what they take.
type Catalog interface {
	// Params returns the parameters of the named action, and false when
	// no such action exists.
	Params(action string) ([]ParamSpec, bool)
}

// CatalogMap is a Catalog backed by a map, handy in tests.
type CatalogMap map[string][]ParamSpec

// Params implements Catalog.
func (c CatalogMap) Params(action string) ([]ParamSpec, bool) {
	p, ok := c[action]
	return p, ok
}
