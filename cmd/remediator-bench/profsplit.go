package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// cpuSplit is a worker's CPU profile split by what the sampled stacks
// were doing.
type cpuSplit struct {
	total, sdk time.Duration
	conn       time.Duration // of sdk: the HTTP connections' read and write loops
	gc         time.Duration // not sdk: the GC's background workers
	samples    int
}

// share is d's share of the total.
func (s cpuSplit) share(d time.Duration) float64 {
	if s.total == 0 {
		return 0
	}
	return float64(d) / float64(s.total)
}

// sdkPrefixes name the functions of an SDK call's path: the Huawei SDK,
// the action package's calls and the goroutines they run on, and the
// huawei package's invoke (its closure runs the SDK call).
var sdkPrefixes = []string{
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/",
	"github.com/remediator/remediator/worker/action.Call", // Call and CallOp
	"github.com/remediator/remediator/worker/action.runOnCaller",
	"github.com/remediator/remediator/worker/action.caller",
	"github.com/remediator/remediator/worker/huawei.invoke",
}

// connPrefix names the goroutines of net/http's client connections. They
// are counted with the SDK: in the worker only the SDK's calls use
// net/http as a client, and a connection's reading and writing are the
// calls' I/O, on goroutines of the transport's own.
const connPrefix = "net/http.(*persistConn)."

// splitProfile reads a CPU profile and attributes each sample to the SDK
// when a frame of its stack is on an SDK call's path (sdkPrefixes,
// connPrefix), to the rest otherwise.
func splitProfile(r io.Reader) (cpuSplit, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return cpuSplit{}, err
	}
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			vi = i
		}
	}
	if vi < 0 {
		return cpuSplit{}, fmt.Errorf("not a CPU profile: sample types %v", p.SampleType)
	}
	var s cpuSplit
	for _, smp := range p.Sample {
		d := time.Duration(smp.Value[vi])
		s.total += d
		s.samples++
		switch stackKind(smp) {
		case "conn":
			s.conn += d
			s.sdk += d
		case "sdk":
			s.sdk += d
		case "gc":
			s.gc += d
		}
	}
	if s.samples == 0 {
		return cpuSplit{}, fmt.Errorf("the CPU profile has no samples")
	}
	return s, nil
}

// stackKind is "sdk", "conn", "gc" or "" (the rest) for a sample's stack.
func stackKind(smp *profile.Sample) string {
	kind := ""
	for _, loc := range smp.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			name := line.Function.Name
			for _, p := range sdkPrefixes {
				if strings.HasPrefix(name, p) {
					return "sdk"
				}
			}
			switch {
			case strings.HasPrefix(name, connPrefix):
				kind = "conn"
			case name == "runtime.gcBgMarkWorker" && kind == "":
				kind = "gc"
			}
		}
	}
	return kind
}
