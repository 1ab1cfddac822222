package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is run's --gc-percent. The no-write path allocates
// about 10 KiB per event (decoding, the audit record, the NATS client) and
// the live heap is small, so at Go's default (100) the collector ran
// every few hundred events and took about a sixth of the worker's CPU
// (README, "Measured as users run it"); at 400 the heap stays near 60 MiB
// with the built-in rules and the worker spends about a fifth less CPU
// per event. A large rule set makes the live heap, and so the heap at
// 400, larger: lower it there, or set GOMEMLIMIT as well.
const defaultGCPercent = 400

// applyGCPercent sets the collector's GOGC to percent unless GOGC is set
// in the environment (the runtime has applied it already) or percent is 0.
// It reports the value set and whether it set one.
func applyGCPercent(percent int) (int, bool) {
	if percent <= 0 || os.Getenv("GOGC") != "" {
		return 0, false
	}
	debug.SetGCPercent(percent)
	return percent, true
}
