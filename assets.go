// Package remediator holds the demo's data, built into the binary so that
// `remediator demo` and `remediator cloudsim` work from any directory,
// after `go install` and in the container image, which has no testdata/.
//
// The files stay under testdata/, where users replay and read them; go:embed
// cannot reach a parent directory and the go tool ignores packages inside
// testdata/, hence this small package at the module root.
package remediator

import "embed"

// Demo holds the fixture events, the demo's rules (its policy) and the
// simulator's demo state, at the paths below.
//
//go:embed testdata/events/*.json testdata/rules/demo/*.yaml testdata/cloudsim/demo.yaml
var Demo embed.FS

// Paths of the demo's parts in Demo, the same as in the repository.
const (
	DemoEvents = "testdata/events"
	DemoRules  = "testdata/rules/demo"
	DemoSeed   = "testdata/cloudsim/demo.yaml"
)
