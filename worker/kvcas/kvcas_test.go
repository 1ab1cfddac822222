package kvcas_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/embedded/embeddedtest"
	"github.com/remediator/remediator/worker/kvcas"
)

// bucket starts a JetStream server and returns a fresh bucket on it, and
// the same bucket through a second connection (another replica).
func bucket(t *testing.T) (jetstream.KeyValue, jetstream.KeyValue) {
	t.Helper()
	srv, _, js := embeddedtest.Start(t)
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "CAS"})
	if err != nil {
		t.Fatal(err)
	}
	nc2, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	js2, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	kv2, err := js2.KeyValue(t.Context(), "CAS")
	if err != nil {
		t.Fatal(err)
	}
	return kv, kv2
}

func value(t *testing.T, kv jetstream.KeyValue, key string) (string, uint64) {
	t.Helper()
	e, err := kv.Get(t.Context(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Value()), e.Revision()
}

// set is a change that writes v whatever it reads, noting what it read.
func set(v string, seen *[]string) kvcas.Change {
	return func(cur []byte, exists bool) ([]byte, bool, error) {
		*seen = append(*seen, strconv.FormatBool(exists)+":"+string(cur))
		return []byte(v), true, nil
	}
}

// TestCreateMissingKey: a key never written, and a deleted key, are read
// as missing and created.
func TestCreateMissingKey(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	var seen []string
	if err := kvcas.Update(t.Context(), kv, "k", 3, set("one", &seen)); err != nil {
		t.Fatal(err)
	}
	if v, rev := value(t, kv, "k"); v != "one" || rev != 1 {
		t.Errorf("after the create: %q at revision %d, want \"one\" at 1", v, rev)
	}
	if err := kv.Delete(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	if err := kvcas.Update(t.Context(), kv, "k", 3, set("two", &seen)); err != nil {
		t.Fatal(err)
	}
	if v, _ := value(t, kv, "k"); v != "two" {
		t.Errorf("after the create over the deleted key: %q, want \"two\"", v)
	}
	if want := []string{"false:", "false:"}; !slices.Equal(seen, want) {
		t.Errorf("change saw %q, want %q", seen, want)
	}
}

// TestUpdateAtRevision: an existing key is read with its value and
// replaced by one write at its revision.
func TestUpdateAtRevision(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	rev, err := kv.Put(t.Context(), "k", []byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := kvcas.Update(t.Context(), kv, "k", 3, set("new", &seen)); err != nil {
		t.Fatal(err)
	}
	if v, got := value(t, kv, "k"); v != "new" || got != rev+1 {
		t.Errorf("after the update: %q at revision %d, want \"new\" at %d", v, got, rev+1)
	}
	if want := []string{"true:old"}; !slices.Equal(seen, want) {
		t.Errorf("change saw %q, want %q", seen, want)
	}
}

// TestRacingIncrements: two replicas increment one counter many times at
// once; no increment is lost.
func TestRacingIncrements(t *testing.T) {
	t.Parallel()
	kv, kv2 := bucket(t)
	const each = 150
	var calls atomic.Int64
	incr := func(cur []byte, exists bool) ([]byte, bool, error) {
		calls.Add(1)
		n := 0
		if exists {
			var err error
			if n, err = strconv.Atoi(string(cur)); err != nil {
				return nil, false, err
			}
		}
		return []byte(strconv.Itoa(n + 1)), true, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, h := range []jetstream.KeyValue{kv, kv2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := kvcas.Update(t.Context(), h, "n", 1000, incr); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if v, _ := value(t, kv, "n"); v != strconv.Itoa(2*each) {
		t.Errorf("counter %s, want %d", v, 2*each)
	}
	t.Logf("%d increments took %d changes (the rest were lost races, read again)", 2*each, calls.Load())
}

// TestNothingToWrite: write=false stores nothing, on a missing key and
// on an existing one.
func TestNothingToWrite(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	keep := func([]byte, bool) ([]byte, bool, error) { return []byte("x"), false, nil }
	if err := kvcas.Update(t.Context(), kv, "missing", 3, keep); err != nil {
		t.Fatal(err)
	}
	if _, rev := value(t, kv, "missing"); rev != 0 {
		t.Errorf("the missing key was written (revision %d)", rev)
	}
	rev, err := kv.Put(t.Context(), "k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if err := kvcas.Update(t.Context(), kv, "k", 3, keep); err != nil {
		t.Fatal(err)
	}
	if v, got := value(t, kv, "k"); v != "v" || got != rev {
		t.Errorf("%q at revision %d, want \"v\" at %d untouched", v, got, rev)
	}
}

// TestChangeError: change's error comes back as it is, and nothing is
// written.
func TestChangeError(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	rev, err := kv.Put(t.Context(), "k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	fail := func([]byte, bool) ([]byte, bool, error) { return []byte("x"), true, refused }
	if err := kvcas.Update(t.Context(), kv, "k", 3, fail); err != refused {
		t.Errorf("got %v, want change's error as it is", err)
	}
	if err := kvcas.Update(t.Context(), kv, "missing", 3, fail); err != refused {
		t.Errorf("missing key: got %v, want change's error as it is", err)
	}
	if v, got := value(t, kv, "k"); v != "v" || got != rev {
		t.Errorf("%q at revision %d, want \"v\" at %d untouched", v, got, rev)
	}
	if _, got := value(t, kv, "missing"); got != 0 {
		t.Errorf("the missing key was written (revision %d)", got)
	}
}

// TestTriesExhausted: when another writer changes the key between every
// read and write, Update gives up after tries with ErrContended, on a
// missing key (Create loses) and on an existing one (Update loses).
func TestTriesExhausted(t *testing.T) {
	t.Parallel()
	kv, kv2 := bucket(t)
	for _, key := range []string{"missing", "existing"} {
		if key == "existing" {
			if _, err := kv.Put(t.Context(), key, []byte("0")); err != nil {
				t.Fatal(err)
			}
		}
		calls := 0
		bump := func([]byte, bool) ([]byte, bool, error) {
			calls++
			if _, err := kv2.Put(t.Context(), key, []byte("theirs")); err != nil {
				return nil, false, err
			}
			return []byte("ours"), true, nil
		}
		err := kvcas.Update(t.Context(), kv, key, 4, bump)
		if !errors.Is(err, kvcas.ErrContended) {
			t.Errorf("%s: got %v, want ErrContended", key, err)
		}
		if calls != 4 {
			t.Errorf("%s: change called %d times, want 4 (the tries)", key, calls)
		}
		if v, _ := value(t, kv, key); v != "theirs" {
			t.Errorf("%s: value %q, want the other writer's", key, v)
		}
	}
}

// TestContextEnds: a caller whose context ends stops at once, with the
// context's error, however many tries it had left.
func TestContextEnds(t *testing.T) {
	t.Parallel()
	kv, kv2 := bucket(t)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	bump := func([]byte, bool) ([]byte, bool, error) {
		if _, err := kv2.Put(t.Context(), "k", []byte("theirs")); err != nil {
			return nil, false, err
		}
		return []byte("ours"), true, nil
	}
	start := time.Now()
	err := kvcas.Update(ctx, kv, "k", 1_000_000_000, bump)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s after the context ended", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kvcas.ErrContended) {
		t.Errorf("got %v, want the context's error", err)
	}
}
