// Command remediator-bench measures the worker against JetStream itself.
// By default in one run, in-process: an embedded nats-server, the cloud
// simulator and the worker (README.md, Performance); it runs the
// remediator binary as a child process only for --backlog. The external
// subcommand measures the topology users run: nats-server and `remediator
// run` as processes of their own over loopback TCP (external.go). Both
// are kept out of the remediator binary.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/spf13/cobra"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newBenchCmd(stdout)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "remediator-bench:", err)
		return 1
	}
	return 0
}

type benchOptions struct {
	events, concurrency, resources, rate int
	latencyFor                           time.Duration
	cpuProfile                           string
	backlog                              int
	only                                 []string
	throttleEvents                       int
	quota                                int
	rounds                               int
}

// runs reports whether the named part of the benchmark is selected.
func (o benchOptions) runs(part string) bool {
	return len(o.only) == 0 || slices.Contains(o.only, part)
}

func newBenchCmd(stdout io.Writer) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "remediator-bench",
		Short: "Measure the worker against JetStream itself, in one run, in-process",
		Long: "Runs an embedded nats-server and the simulator, then measures: the DoubleAck ceiling of a plain\n" +
			"jetstream consumer; the worker on events that need no write and on events that each need one;\n" +
			"publish-to-outcome latency at a fixed offered rate; writes per distinct drift; peak RSS.",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.cpuProfile != "" {
				f, err := os.Create(o.cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			return runBench(cmd.Context(), stdout, o)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.events, "events", 20000, "events per throughput run")
	fs.IntVar(&o.concurrency, "concurrency", 4, "consumer concurrency (ceiling and worker)")
	fs.IntVar(&o.resources, "resources", 100, "distinct resources the drift events are about")
	fs.IntVar(&o.rate, "rate", 500, "offered events per second for the latency run")
	fs.DurationVar(&o.latencyFor, "latency-duration", 10*time.Second, "length of the latency run")
	fs.IntVar(&o.backlog, "backlog", 0, "also measure the worker process alone draining a backlog of this many events (peak RSS)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringSliceVar(&o.only, "only", nil, "run only these parts: ceiling, record, nowrite, write, latency, drift, throttle")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of the ceiling, record and no-write runs, taken in turn; each is reported at its median, its ratio as the median of the rounds' ratios")
	fs.IntVar(&o.throttleEvents, "throttle-events", 500, "drift events of the throttling runs")
	cmd.AddCommand(newExternalCmd(stdout), newSweepBenchCmd(stdout))
	fs.IntVar(&o.quota, "quota", 200, "the simulator's KMS quota (calls in one second per project) in the throttling runs; the paced run paces at 90% of it with a burst of the other 10%")
	return cmd
}
