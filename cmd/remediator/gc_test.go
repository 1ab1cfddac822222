package main

import (
	"runtime/debug"
	"testing"
)

func TestApplyGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	t.Setenv("GOGC", "")
	if p, set := applyGCPercent(250); !set || p != 250 {
		t.Fatalf("applyGCPercent(250) = %d, %v; want 250, true", p, set)
	}
	if got := debug.SetGCPercent(100); got != 250 {
		t.Fatalf("GOGC after applyGCPercent(250) = %d", got)
	}
	if _, set := applyGCPercent(0); set {
		t.Fatal("applyGCPercent(0) set a value; 0 leaves Go's own")
	}
	t.Setenv("GOGC", "50")
	if _, set := applyGCPercent(400); set {
		t.Fatal("applyGCPercent set a value with GOGC in the environment")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC changed to %d with GOGC in the environment", got)
	}
}
