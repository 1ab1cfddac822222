package rules

import (
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/remediator/remediator/events"
)

// findingVal is the finding as CEL sees it: the map Finding.Map returns,
// read field by field from the struct instead of built for every event
// (building it was a quarter of evaluating the built-in rules). Anything
// beyond reading a field (comparing, iterating, converting) goes through
// that map, so it behaves exactly as the map does (TestFindingValIsTheMap).
type findingVal struct {
	f *events.Finding
}

var (
	_ traits.Mapper = findingVal{}
	// findingSize is the number of keys of Finding.Map.
	findingSize = types.Int(len((&events.Finding{}).Map()))
)

func (v findingVal) asMap() traits.Mapper {
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, v.f.Map())
}

// Find implements traits.Mapper.
func (v findingVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return v.asMap().Find(key) // the map's answer to a key of another type
	}
	if read, ok := findingStrings[string(k)]; ok {
		return types.String(read(v.f)), true
	}
	switch k {
	case "self":
		return types.Bool(v.f.Self), true
	case "detail":
		return types.String(v.f.Detail), true
	case "actor":
		a := v.f.Actor
		return types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{"type": a.Type, "id": a.ID, "name": a.Name}), true
	}
	return nil, false
}

// Get implements traits.Indexer.
func (v findingVal) Get(key ref.Val) ref.Val {
	if val, ok := v.Find(key); ok {
		return val
	}
	return v.asMap().Get(key) // the map's error for a missing key
}

// Contains implements traits.Container.
func (v findingVal) Contains(key ref.Val) ref.Val {
	_, ok := v.Find(key)
	return types.Bool(ok)
}

// Size implements traits.Sizer.
func (v findingVal) Size() ref.Val { return findingSize }

// Iterator implements traits.Iterable.
func (v findingVal) Iterator() traits.Iterator { return v.asMap().Iterator() }

// ConvertToNative implements ref.Val.
func (v findingVal) ConvertToNative(t reflect.Type) (any, error) { return v.asMap().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (v findingVal) ConvertToType(t ref.Type) ref.Val { return v.asMap().ConvertToType(t) }

// Equal implements ref.Val.
func (v findingVal) Equal(other ref.Val) ref.Val {
	if o, ok := other.(findingVal); ok {
		other = o.asMap()
	}
	return v.asMap().Equal(other)
}

// Type implements ref.Val.
func (v findingVal) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (v findingVal) Value() any { return v.f.Map() }
