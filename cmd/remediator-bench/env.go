package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/streams"
)

// benchEnv is one embedded server, one simulator and the events' keys.
type benchEnv struct {
	js      jetstream.JetStream // the worker's connection: pulls, acks, the bench's publishes
	records jetstream.JetStream // a second connection for the records, as run opens it
	sim     *cloudsim.Simulator
	url     string
	keys    []string
	dir     string
}

func newBenchEnv(resources, compliant int) (_ *benchEnv, _ func(), err error) {
	dir, err := os.MkdirTemp("", "remediator-bench-")
	if err != nil {
		return nil, nil, err
	}
	var cleanup []func() // run in reverse, now on an error, else by the returned func
	done := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	cleanup = append(cleanup, func() { _ = os.RemoveAll(dir) })
	defer func() {
		if err != nil {
			done()
		}
	}()
	// The server's default sync (not fsync per write), as `nats bench`
	// measures. Its goroutines, and the connection's, carry the profile
	// label part=nats (see labelled).
	var srv *embedded.Server
	var nc *nats.Conn
	labelled("nats", func() {
		if srv, err = embedded.Start(embedded.Options{StoreDir: dir}); err == nil {
			cleanup = append(cleanup, srv.Shutdown)
			if nc, err = srv.Connect(); err == nil {
				cleanup = append(cleanup, nc.Close)
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		return nil, nil, err
	}
	// The worker's records (audit events) go over a second connection,
	// as `remediator run` sends them (cmd/remediator, openRecords).
	var records jetstream.JetStream
	labelled("nats", func() {
		var rc *nats.Conn
		if rc, err = srv.Connect(nats.Name("remediator-records")); err == nil {
			cleanup = append(cleanup, rc.Close)
			records, err = jetstream.New(rc)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	sim, simSrv, keys, err := startBenchSim(resources, compliant)
	if err != nil {
		return nil, nil, err
	}
	cleanup = append(cleanup, func() { _ = simSrv.Close(context.Background()) })
	return &benchEnv{js: js, records: records, sim: sim, url: simSrv.URL(), keys: keys, dir: dir}, done, nil
}

// startBenchSim serves a simulator on a loopback port holding resources
// Huawei KMS keys, the first compliant of them with rotation on; keys are
// their ids. Its goroutines carry the profile label part=simulator.
func startBenchSim(resources, compliant int) (*cloudsim.Simulator, *cloudsim.Server, []string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "huawei:\n  projects:\n    %s:\n      region: cn-north-4\n      kms_keys:\n", benchProjectID)
	keys := make([]string, resources)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
		fmt.Fprintf(&b, "        - {id: %s, state: enabled, rotation: %t}\n", keys[i], i < compliant)
	}
	seed, err := cloudsim.ParseSeed([]byte(b.String()))
	if err != nil {
		return nil, nil, nil, err
	}
	sim := cloudsim.New(seed)
	var srv *cloudsim.Server
	labelled("simulator", func() { srv, err = cloudsim.Start("127.0.0.1:0", sim) })
	if err != nil {
		return nil, nil, nil, err
	}
	return sim, srv, keys, nil
}

const benchProjectID = "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"

func benchEvent(i int, key string) events.Raw {
	id := "bench-" + strconv.Itoa(i)
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "HC.KMS", "type": "KMS:CloudTrace:ApiCall",
		"time": time.Now().UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"data": map[string]any{"trace_name": "disableKeyRotation", "code": "200", "resource_id": key, "resource_type": "cmk",
			"project_id": benchProjectID, "region_id": "cn-north-4", "domain_id": "5f1e2d3c4b5a69788796a5b4c3d2e1f0",
			"user": map[string]any{"name": "ops-alice", "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}, "request": `{"key_id":"` + key + `"}`,
			"response": "{}", "service_type": "KMS", "trace_rating": "normal", "trace_type": "ApiCall", "api_version": "v1.0",
			"source_ip": "203.0.113.10", "record_time": 1795162530333, "trace_id": "7e3f0c1a-" + id}})
	return events.Raw{Body: body, Source: "HC.KMS", ID: id}
}

// publishAll publishes events asynchronously and waits for every ack.
func publishAll(ctx context.Context, js jetstream.JetStream, cfg worker.Config, raws []events.Raw) error {
	return publishEach(ctx, js, cfg, len(raws), func(i int) events.Raw { return raws[i] })
}

// publishEach publishes the n events event(0) ... event(n-1)
// asynchronously, a thousand at a time, each thousand's acks awaited
// before the next: a bounded window, and no backlog held in memory.
func publishEach(ctx context.Context, js jetstream.JetStream, cfg worker.Config, n int, event func(int) events.Raw) error {
	sc := cfg.Streams()
	futures := make([]jetstream.PubAckFuture, 0, 1000)
	for from := 0; from < n; from += 1000 {
		futures = futures[:0]
		for i := from; i < min(n, from+1000); i++ {
			f, err := js.PublishMsgAsync(intakeMsg(sc, event(i)))
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// intakeMsg is the message an event is published as: structured, with the
// Nats-Msg-Id the worker's publishers give it.
func intakeMsg(sc streams.Config, r events.Raw) *nats.Msg {
	return &nats.Msg{Subject: sc.IntakeSubject(r.Source), Data: r.Body,
		Header: nats.Header{"Content-Type": {events.StructuredContentType}, jetstream.MsgIDHeader: {events.DedupID(r.Source, r.ID)}}}
}
