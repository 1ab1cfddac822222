package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
)

// watchRules reloads the rule files on SIGHUP and when their content
// changes (checked every interval). A set that fails validation is logged
// and rejected; the running set stays.
func watchRules(ctx context.Context, log *zap.Logger, reg *action.Registry, paths []string, builtin bool, w *worker.Worker, interval time.Duration, m *worker.Metrics) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	last := fingerprint(paths)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		trigger := "file_change"
		select {
		case <-ctx.Done():
			return
		case <-hup:
			trigger = "sighup"
		case <-t.C:
			fp := fingerprint(paths)
			if fp == last {
				continue
			}
			last = fp
		}
		set, err := loadRules(reg, paths, builtin)
		if err != nil {
			m.Reloads.WithLabelValues("rejected").Inc()
			log.Error("rules_reload_failed", zap.String("trigger", trigger), zap.String("error", err.Error()),
				zap.String("note", "the previous rule set keeps running"))
			continue
		}
		w.SetRules(set)
		m.Reloads.WithLabelValues("ok").Inc()
		log.Info("rules_reloaded", zap.String("trigger", trigger), zap.Int("rules", len(set.Rules())))
	}
}

// fingerprint hashes the names and contents of every rule file.
func fingerprint(paths []string) string {
	h := sha256.New()
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil
			}
			h.Write([]byte(f))
			h.Write(b)
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}
