//go:build race

package main

// raceEnabled: the race detector changes memory use and speed, so RSS and
// time bounds are not checked under it (TestCELMemoryBounded,
// TestRulesCheckHugeFile).
const raceEnabled = true
