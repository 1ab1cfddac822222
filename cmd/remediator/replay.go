package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nuid"

	"github.com/spf13/cobra"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/streams"
)

// replayCounts are what a replay did.
type replayCounts struct {
	published, duplicate, rejected int
}

func newReplayCmd(stdout io.Writer) *cobra.Command {
	var (
		cf       clientFlags
		mode     string
		freshIDs bool
	)
	cmd := &cobra.Command{
		Use:   "replay PATH...",
		Short: "Publish CloudEvent JSON files, directories or JSON Lines to the intake stream",
		Long: "Publishes each event with Nats-Msg-Id derived from its source and id, so replaying the\n" +
			"same fixtures again within the stream's duplicate window creates no new work.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.withConn(cmd, connLogger(cmd), func(conn *natsConn) error { return replayFiles(cmd, stdout, conn, cf.cfg, args, mode, freshIDs) })
		},
	}
	fs := cmd.Flags()
	cf.register(fs, "stream", "subject")
	fs.StringVar(&mode, "mode", "structured", "CloudEvents content mode: structured or binary")
	fs.BoolVar(&freshIDs, "fresh-ids", false, "give every event a new unique id (load tests: replays are then new work)")
	return cmd
}

// replayFiles publishes the events of the files at paths.
func replayFiles(cmd *cobra.Command, stdout io.Writer, conn *natsConn, cfg worker.Config, paths []string, mode string, freshIDs bool) error {
	if _, err := streams.EnsureTopology(cmd.Context(), conn.js, cfg.Streams()); err != nil {
		return err
	}
	var err error
	raws, readErr := events.ReadFixtures(paths...)
	if freshIDs {
		if raws, err = withFreshIDs(raws); err != nil {
			return err
		}
	}
	n, err := replayWithProgress(cmd.Context(), cmd.ErrOrStderr(), time.Second, conn, cfg, raws, events.Mode(mode))
	n.rejected += countJoined(readErr)
	if readErr != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), readErr)
	}
	fmt.Fprintf(stdout, "published %d, duplicate %d, rejected %d\n", n.published, n.duplicate, n.rejected)
	if err != nil {
		return err
	}
	if n.rejected > 0 {
		return exitError{code: 1}
	}
	return nil
}

func replay(ctx context.Context, conn *natsConn, cfg worker.Config, raws []events.Raw, mode events.Mode) (replayCounts, error) {
	return replayWithProgress(ctx, io.Discard, time.Hour, conn, cfg, raws, mode)
}

// replayWithProgress publishes and, for sets that take a while, writes a
// progress line (count, rate, time left) to w every interval.
func replayWithProgress(ctx context.Context, w io.Writer, every time.Duration, conn *natsConn, cfg worker.Config, raws []events.Raw, mode events.Mode) (replayCounts, error) {
	var n replayCounts
	sc := cfg.Streams()
	start, last := time.Now(), time.Now()
	for i, r := range raws {
		if i > 0 && time.Since(last) >= every {
			last = time.Now()
			rate := float64(i) / time.Since(start).Seconds()
			left := time.Duration(float64(len(raws)-i)/rate) * time.Second
			fmt.Fprintf(w, "replay: %d/%d events, %.0f/s, about %s left\n", i, len(raws), rate, left.Round(time.Second))
		}
		dup, err := streams.Publish(ctx, conn.js, sc, r, mode)
		var inv *events.InvalidError
		switch {
		case errors.As(err, &inv):
			n.rejected++
		case err != nil:
			return n, fmt.Errorf("%s: %w", r.Origin, err)
		case dup:
			n.duplicate++
		default:
			n.published++
		}
	}
	return n, nil
}

func countJoined(err error) int {
	if err == nil {
		return 0
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return 1
	}
	n := 0
	for _, e := range j.Unwrap() {
		n += countJoined(e)
	}
	return n
}

// withFreshIDs rewrites each event's id to a new unique one.
func withFreshIDs(raws []events.Raw) ([]events.Raw, error) {
	out := make([]events.Raw, len(raws))
	for i, r := range raws {
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Origin, err)
		}
		r.ID = fmt.Sprintf("%s-%s", r.ID, nuid.Next())
		m["id"] = r.ID
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		r.Body = b
		out[i] = r
	}
	return out, nil
}
