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

	"github.com/remediator/remediator"
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
		Short: "Serve the cloud simulator (Huawei KMS, Huawei EVS, Alibaba ECS) on a loopback address",
		Long: `Serves, on one listener, the cloud APIs remediator calls, as the official SDKs call them
(signatures checked), with state kept per project or account and region:

  Huawei KMS v1.0    POST /v1.0/{project_id}/kms/{describe-key, get-key-rotation-status,
                     enable-key-rotation, disable-key-rotation, enable-key, disable-key,
                     cancel-key-deletion}
  Huawei EVS v5      /v5/{project_id}/default-encryption/{status, enable, disable, key, key/reset}
  Huawei IAM v3.0    POST /v3.0/OS-CREDENTIAL/securitytokens (agency temporary credentials)
  Alibaba ECS        POST /?Action= DescribeDiskEncryptionByDefaultStatus, DescribeDiskDefaultKMSKeyId,
                     ModifyDiskDefaultKMSKeyId, ResetDiskDefaultKMSKeyId (Version 2014-05-26)
  Alibaba STS        POST /?Action=AssumeRole (RAM role temporary credentials)
  ECS metadata       /latest/api/token, /latest/meta-data/ram/security-credentials/{role}
  admin              GET /_sim/state, GET /_sim/calls, POST /_sim/faults, PUT /_sim/chaos,
                     POST /_sim/reset

The initial state is the demo's, built into the binary (testdata/cloudsim/demo.yaml in the
repository: the keys, projects and regions the fixture events name), unless --seed names a
YAML file of the same form, or "none" for no resources. Without credentials in the seed it
accepts the public demo pair, which remediator run uses with --cloud-endpoint and no credentials.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var seed cloudsim.Seed
			if seedPath != "none" {
				var err error
				if seed, err = loadSeed(seedPath); err != nil {
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
	fs.StringVar(&seedPath, "seed", "", `YAML file with the initial cloud state (default: the demo's, built in: `+remediator.DemoSeed+`; "none": no resources)`)
	fs.Float64Var(&chaos.ThrottleRate, "throttle-rate", 0, "fraction of calls answered with throttling (429)")
	fs.Float64Var(&chaos.ServerErrorRate, "error-rate", 0, "fraction of calls answered with a 5xx")
	fs.Float64Var(&chaos.TimeoutRate, "timeout-rate", 0, "fraction of calls held until they time out")
	fs.DurationVar(&chaos.TimeoutDelay, "timeout-delay", 30*time.Second, "how long a timed-out call is held")
	fs.DurationVar(&chaos.Latency, "latency", 0, "latency added to every call")
	fs.Uint64Var(&chaos.Seed, "chaos-seed", 1, "random seed for the fault rates")
	fs.StringSliceVar(&quotas, "quota", nil, "throttle past API=CALLS calls in one second per project (or Alibaba account and region), as the providers do: an API, a service sharing one quota (kms) or *")
	return cmd
}
