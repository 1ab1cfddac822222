package events

import (
	"hash/maphash"
	"sync/atomic"
)

// internTable is a fixed-size, lossy, lock-free table of short strings
// (object keys, and short values such as regions, codes and names), each
// with its boxed form: a string hashes to a pair of slots and, when both
// are taken, replaces what was in one of them. Its memory is bounded (internSlots strings of at most maxInterned
// bytes) whatever the input.
type internTable struct {
	seed  maphash.Seed
	slots [internSlots]atomic.Pointer[interned]
}

type interned struct {
	s string
	v any // s, boxed once
}

const (
	internSlots = 4096
	maxInterned = 48
)

var internal = &internTable{seed: maphash.MakeSeed()}

// get returns b's entry. A string may sit in either slot of its pair, so
// two hot strings that hash alike both stay; a new one takes an empty slot
// of the pair, else the one its hash picks.
func (t *internTable) get(b []byte) *interned {
	h := maphash.Bytes(t.seed, b)
	i := h % internSlots
	pair := [2]*atomic.Pointer[interned]{&t.slots[i], &t.slots[i^1]}
	var empty *atomic.Pointer[interned]
	for _, slot := range pair {
		e := slot.Load()
		if e == nil {
			empty = slot
		} else if e.s == string(b) {
			return e
		}
	}
	if empty == nil {
		empty = pair[h>>63]
	}
	e := &interned{s: string(b)}
	e.v = e.s
	empty.Store(e)
	return e
}
