//go:build race

package main

// raceEnabled: the race detector changes memory use, so RSS bounds are
// not checked under it (TestCELMemoryBounded).
const raceEnabled = true
