package main

import (
	"fmt"

	"go.uber.org/zap/zapcore"
)

// logLevel is the value of --log-level: debug, info, warn or error.
// It is checked when set, so a bad value is reported where it came from:
// the flag, REMEDIATOR_LOG_LEVEL or the --config file's line.
type logLevel struct{ level zapcore.Level }

const logLevelUsage = "least severe log lines written: debug, info, warn or error"

func (l *logLevel) String() string { return l.level.String() }
func (l *logLevel) Type() string   { return "level" }

// Set takes the four levels the commands log at. zapcore.ParseLevel also
// takes dpanic, panic and fatal, at which nothing is logged: a level that
// hides every line is refused rather than taken silently.
func (l *logLevel) Set(s string) error {
	switch s {
	case "debug":
		l.level = zapcore.DebugLevel
	case "info":
		l.level = zapcore.InfoLevel
	case "warn":
		l.level = zapcore.WarnLevel
	case "error":
		l.level = zapcore.ErrorLevel
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return nil
}
