//go:build !race

package main

// raceEnabled: see cel_race_test.go.
const raceEnabled = false
