package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker/cloudsim"
)

func newCloudsimCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		listen, seedPath string
		chaos            cloudsim.Chaos
		quotas           []string
	)
	cmd := &cobra.Command{
		Use:   "cloudsim",
		Short: "Serve the cloud simulator (Huawei KMS) on a loopback address",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var seed cloudsim.Seed
			if seedPath != "" {
				var err error
				if seed, err = cloudsim.LoadSeed(seedPath); err != nil {
					return err
				}
			}
			for _, q := range quotas {
				key, val, _ := strings.Cut(q, "=")
				n, err := strconv.Atoi(val)
				if key == "" || err != nil || n < 0 {
					return fmt.Errorf("--quota %q: want API=CALLS, CALLS a whole number of calls a second", q)
				}
				if chaos.Quotas == nil {
					chaos.Quotas = map[string]cloudsim.Quota{}
				}
				chaos.Quotas[key] = cloudsim.Quota{PerSecond: n}
			}
			sim := cloudsim.New(seed)
			sim.SetChaos(chaos)
			srv, err := cloudsim.Start(listen, sim)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "cloudsim listening on %s (state: %s/_sim/state, calls: %s/_sim/calls)\n", srv.URL(), srv.URL(), srv.URL())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Close(sctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&listen, "listen", "127.0.0.1:8099", "address to serve on")
	fs.StringVar(&seedPath, "seed", "testdata/cloudsim/demo.yaml", "YAML file with the initial cloud state (empty: no resources)")
	fs.Float64Var(&chaos.ThrottleRate, "throttle-rate", 0, "fraction of calls answered with throttling (429)")
	fs.Float64Var(&chaos.ServerErrorRate, "error-rate", 0, "fraction of calls answered with a 5xx")
	fs.Float64Var(&chaos.TimeoutRate, "timeout-rate", 0, "fraction of calls held until they time out")
	fs.DurationVar(&chaos.TimeoutDelay, "timeout-delay", 30*time.Second, "how long a timed-out call is held")
	fs.DurationVar(&chaos.Latency, "latency", 0, "latency added to every call")
	fs.Uint64Var(&chaos.Seed, "chaos-seed", 1, "random seed for the fault rates")
	fs.StringSliceVar(&quotas, "quota", nil, "throttle past API=CALLS calls in one second per project (or Alibaba account and region), as the providers do: an API, a service sharing one quota (kms) or *")
	return cmd
}
