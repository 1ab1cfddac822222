package guard

import (
	"slices"
	"time"
)

// The window itself: what a limit key holds and the pure changes made to
// it, re-applied to the fresh value when a compare-and-set loses (see
// limit_kv.go).

// window is the value of a limit key. Times are Unix nanoseconds of the
// replicas' clocks.
type window struct {
	Writes []int64       `json:"writes,omitempty"` // ascending
	Held   []reservation `json:"held,omitempty"`
	// Reset is the control-bucket revision of the last resume applied:
	// every replica sees the resume and resets, only the first one counts.
	Reset uint64 `json:"reset,omitempty"`
}

// reservation is a slot taken by an event in flight.
type reservation struct {
	ID    string `json:"id"`
	Until int64  `json:"until"` // expires then unless renewed
}

// trim drops writes that left the window and expired reservations; it
// reports whether it dropped anything.
func (w *window) trim(per time.Duration, now time.Time) bool {
	n := now.UnixNano()
	i := 0
	for i < len(w.Writes) && n-w.Writes[i] >= int64(per) {
		i++
	}
	held := len(w.Held)
	w.Held = slices.DeleteFunc(w.Held, func(r reservation) bool { return r.Until <= n })
	w.Writes = w.Writes[i:]
	return i > 0 || len(w.Held) != held
}

// take reserves a slot named id until now+ttl and returns (0, false, true).
// When the writes fill the window it returns how long until one leaves
// it; when writes and slots in flight fill it, busy. taken says whether
// the slot was reserved.
func (w *window) take(id string, writes int, per, ttl time.Duration, now time.Time) (wait time.Duration, busy, taken bool) {
	w.trim(per, now)
	if len(w.Writes) >= writes {
		return time.Duration(w.Writes[len(w.Writes)-writes] + int64(per) - now.UnixNano()), false, false
	}
	if len(w.Writes)+len(w.Held) >= writes {
		return 0, true, false
	}
	w.Held = append(w.Held, reservation{ID: id, Until: now.Add(ttl).UnixNano()})
	return 0, false, true
}

// confirm turns the slot id into a write at at. The write counts even
// when the slot expired meanwhile: it happened.
func (w *window) confirm(id string, at time.Time) {
	w.release(id)
	t := at.UnixNano()
	i, _ := slices.BinarySearch(w.Writes, t)
	w.Writes = slices.Insert(w.Writes, i, t)
}

// release drops the slot id; it reports whether the slot was there.
func (w *window) release(id string) bool {
	n := len(w.Held)
	w.Held = slices.DeleteFunc(w.Held, func(r reservation) bool { return r.ID == id })
	return len(w.Held) != n
}

// renew extends the slot id to until; it reports whether the slot was
// still there.
func (w *window) renew(id string, until time.Time) bool {
	for i := range w.Held {
		if w.Held[i].ID == id {
			w.Held[i].Until = until.UnixNano()
			return true
		}
	}
	return false
}

// reset forgets the writes once per resume (rev is the revision of the
// circuit's deletion); slots in flight stay. It reports whether it
// changed the window.
func (w *window) reset(rev uint64) bool {
	if w.Reset >= rev {
		return false
	}
	w.Writes, w.Reset = nil, rev
	return true
}
