package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/embedded/embeddedtest"
)

func TestCheckPubAck(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		`{"stream":"A","seq":1}`:                   true,
		`{"stream":"A","domain":"hub","seq":12}`:   true,
		`{"stream":"A","seq":3,"duplicate": true}`: true,
		`{"seq":3,"stream":"A"}`:                   true, // not the server's order: decoded in full
		`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"A","seq":0}`: false,
		`{"stream":"","seq":1,"error":null}`: false,
		`{}`:                                 false,
		`not json`:                           false,
		``:                                   false,
	} {
		if err := checkPubAck([]byte(in)); (err == nil) != ok {
			t.Errorf("checkPubAck(%s) = %v, want ok %t", in, err, ok)
		}
	}
	var api *jetstream.APIError
	if err := checkPubAck([]byte(`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`)); !errors.As(err, &api) || api.ErrorCode != 10077 {
		t.Errorf("the stream's error is not returned as an *APIError: %v", err)
	}
}

// publishDurable against a real server: stored, a duplicate, a refusal
// by the stream, and no stream at all.
func TestPublishDurable(t *testing.T) {
	t.Parallel()
	_, nc, js := embeddedtest.Start(t)
	st, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "PD", Subjects: []string{"pd.>"}, MaxMsgs: 2, Discard: jetstream.DiscardNew})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(id string) *nats.Msg {
		return &nats.Msg{Subject: "pd.x", Data: []byte("r"), Header: nats.Header{jetstream.MsgIDHeader: {id}}}
	}
	for _, id := range []string{"a", "a", "b"} {
		if err := publishDurable(t.Context(), nc, msg(id)); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
	if info, err := st.Info(t.Context()); err != nil || info.State.Msgs != 2 {
		t.Fatalf("stream holds %v messages (%v), want 2 (a once, b)", info.State.Msgs, err)
	}
	var api *jetstream.APIError
	if err := publishDurable(t.Context(), nc, msg("c")); !errors.As(err, &api) {
		t.Errorf("a full stream's refusal: %v, want an *APIError", err)
	}
	// A reply that never comes: a context without a deadline still ends.
	sub, err := nc.SubscribeSync("silent.>")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	start := time.Now()
	if err := publishDurable(context.Background(), nc, &nats.Msg{Subject: "silent.x", Data: []byte("r")}); !errors.Is(err, context.DeadlineExceeded) ||
		time.Since(start) < publishTimeout || time.Since(start) > 2*publishTimeout {
		t.Errorf("no reply: %v after %s, want the deadline after %s", err, time.Since(start), publishTimeout)
	}
	start = time.Now()
	err = publishDurable(t.Context(), nc, &nats.Msg{Subject: "nostream.x", Data: []byte("r")})
	if !errors.Is(err, jetstream.ErrNoStreamResponse) || time.Since(start) < 400*time.Millisecond {
		t.Errorf("no stream: %v after %s, want ErrNoStreamResponse after two retries", err, time.Since(start))
	}
}
