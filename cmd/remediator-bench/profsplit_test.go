package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestSplitProfile: a sample goes to the SDK when a frame of its stack is
// on an SDK call's path, wherever in the stack; the HTTP connections'
// goroutines count with the SDK; the GC's workers and the rest do not.
func TestSplitProfile(t *testing.T) {
	t.Parallel()
	var fns []*profile.Function
	var locs []*profile.Location
	loc := func(name string) *profile.Location {
		f := &profile.Function{ID: uint64(len(fns) + 1), Name: name}
		l := &profile.Location{ID: uint64(len(locs) + 1), Line: []profile.Line{{Function: f}}}
		fns, locs = append(fns, f), append(locs, l)
		return l
	}
	sample := func(ms int64, stack ...*profile.Location) *profile.Sample {
		return &profile.Sample{Value: []int64{ms, ms * int64(time.Millisecond)}, Location: stack}
	}
	sdk := loc("github.com/huaweicloud/huaweicloud-sdk-go-v3/core.(*HcHttpClient).SyncInvokeWithExtraHeaders")
	caller := loc("github.com/remediator/remediator/worker/action.caller")
	syscall := loc("syscall.Syscall6")
	conn := loc("net/http.(*persistConn).readLoop")
	gc := loc("runtime.gcBgMarkWorker")
	process := loc("github.com/remediator/remediator/worker.(*Worker).process")
	jsonDecode := loc("encoding/json.Unmarshal")
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: int64(10 * time.Millisecond),
		Sample: []*profile.Sample{
			sample(10, jsonDecode, sdk, caller), // the SDK's JSON: leaf outside it
			sample(5, syscall, caller),          // the caller goroutine, below the SDK
			sample(20, syscall, conn),
			sample(30, gc),
			sample(40, jsonDecode, process),
		},
		Function: fns, Location: locs,
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	s, err := splitProfile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := cpuSplit{total: 105 * time.Millisecond, sdk: 35 * time.Millisecond, conn: 20 * time.Millisecond, gc: 30 * time.Millisecond, samples: 5}
	if s != want {
		t.Errorf("split = %+v, want %+v", s, want)
	}
}

func TestSplitProfileRejectsOtherProfiles(t *testing.T) {
	t.Parallel()
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "alloc_space", Unit: "bytes"}},
		Sample: []*profile.Sample{{Value: []int64{1}}}}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := splitProfile(&buf); err == nil {
		t.Error("a heap profile was split as a CPU profile")
	}
}
