// Command remediator consumes CloudEvents from NATS JetStream, evaluates
// rules and calls cloud APIs to put encryption settings back where policy
// says. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// exitError carries a process exit code through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintln(stderr, "remediator:", err)
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "remediator",
		Short:         "Remediate cloud encryption drift from CloudEvents on NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newRunCmd(stderr),
		newDemoCmd(stdout, stderr),
		newReplayCmd(stdout),
		newCloudsimCmd(stdout, stderr),
		newRulesCmd(stdout),
		newDLQCmd(stdout),
		newAuditCmd(stdout),
		newIngestCmd(stderr),
		newControlCmd(stdout),
		newApprovalsCmd(stdout),
		newConfigCmd(stdout),
		newSweepCmd(stdout, stderr),
		newPostureCmd(stdout),
		newNotifyCmd(stderr),
	)
	addVersion(root, stdout)
	return root
}

// newLogger builds the JSON logger for services or a readable console
// logger for interactive commands, at level info.
func newLogger(w io.Writer, format string) (*zap.Logger, error) {
	return newLoggerAt(w, format, zapcore.InfoLevel)
}

// newLoggerAt is newLogger at a level (see --log-level).
func newLoggerAt(w io.Writer, format string, level zapcore.Level) (*zap.Logger, error) {
	var enc zapcore.Encoder
	switch format {
	case "json":
		cfg := zap.NewProductionEncoderConfig()
		cfg.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	case "console":
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(cfg)
	default:
		return nil, fmt.Errorf("unknown log format %q (json or console)", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level)), nil
}
