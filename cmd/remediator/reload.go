package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
)

// ruleWatch reloads the rule files on SIGHUP and when their content
// changes (checked every interval). A set that fails validation (an
// empty file among them: a file caught mid-write) is logged and rejected;
// the running set stays. Each accepted reload logs and counts the rules
// it added, removed and changed, so a rule that vanished is seen.
type ruleWatch struct {
	log      *zap.Logger
	reg      *action.Registry
	paths    []string
	builtin  bool
	limits   rules.Limits // a reload over them is rejected
	w        *worker.Worker
	metrics  *worker.Metrics
	interval time.Duration
	running  *rules.Set // the set the worker runs
	// last is the fingerprint taken before running was loaded, so that a
	// change made while the worker started is seen at the first poll.
	last string
}

func (rw *ruleWatch) run(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(rw.interval)
	defer t.Stop()
	for {
		trigger := "file_change"
		select {
		case <-ctx.Done():
			return
		case <-hup:
			trigger = "sighup"
		case <-t.C:
			fp := fingerprint(rw.paths)
			if fp == rw.last {
				continue
			}
			rw.last = fp
		}
		rw.reload(trigger)
	}
}

func (rw *ruleWatch) reload(trigger string) {
	set, err := loadRulesLimited(rw.reg, rw.paths, rw.builtin, rw.limits)
	if err != nil {
		rw.metrics.Reloads.WithLabelValues("rejected").Inc()
		rw.log.Error("rules_reload_failed", zap.String("trigger", trigger), zap.String("error", err.Error()),
			zap.String("note", "the previous rule set keeps running"))
		return
	}
	rw.w.SetRules(set)
	ch := rules.Diff(rw.running, set)
	rw.running = set
	rw.metrics.Reloads.WithLabelValues("ok").Inc()
	rw.metrics.RuleChanges.WithLabelValues("added").Add(float64(len(ch.Added)))
	rw.metrics.RuleChanges.WithLabelValues("removed").Add(float64(len(ch.Removed)))
	rw.metrics.RuleChanges.WithLabelValues("changed").Add(float64(len(ch.Changed)))
	rw.log.Info("rules_reloaded", zap.String("trigger", trigger), zap.Int("rules", len(set.Rules())),
		zap.Strings("added", nonNil(ch.Added)), zap.Strings("removed", nonNil(ch.Removed)), zap.Strings("changed", nonNil(ch.Changed)))
}

// nonNil makes an empty list log as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fingerprint hashes the names and contents of every rule file.
func fingerprint(paths []string) string {
	h := sha256.New()
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			// Streamed, not read whole: a rule file may be far over
			// the size limit, and this runs every poll.
			fh, err := os.Open(f)
			if err != nil {
				return nil
			}
			defer fh.Close()
			h.Write([]byte(f))
			_, _ = io.Copy(h, fh)
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}
