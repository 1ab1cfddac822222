package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/remediator/remediator/worker/ingest"
	"github.com/remediator/remediator/worker/streams"
)

// sourcesFile is the --sources file of `ingest`: who may send what.
type sourcesFile struct {
	Sources []struct {
		Source         string `yaml:"source"`
		TokenEnv       string `yaml:"token_env"`
		TokenFile      string `yaml:"token_file"`
		HMACSecretEnv  string `yaml:"hmac_secret_env"`
		HMACSecretFile string `yaml:"hmac_secret_file"`
	} `yaml:"sources"`
}

func loadSources(path string) ([]ingest.Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f sourcesFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []ingest.Source
	for i, s := range f.Sources {
		tok, err := credentialSource{AccessKeyEnv: s.TokenEnv, AccessKeyFile: s.TokenFile}.secret("token")
		if err != nil {
			return nil, fmt.Errorf("%s: sources[%d]: %w", path, i, err)
		}
		sec, err := credentialSource{AccessKeyEnv: s.HMACSecretEnv, AccessKeyFile: s.HMACSecretFile}.secret("hmac_secret")
		if err != nil {
			return nil, fmt.Errorf("%s: sources[%d]: %w", path, i, err)
		}
		out = append(out, ingest.Source{Pattern: s.Source, Token: tok, HMACSecret: sec})
	}
	return out, nil
}

func newIngestCmd(stderr io.Writer) *cobra.Command {
	var (
		listen, sourcesPath, cert, key string
		opsListen                      string
		types                          []string
		maxBody                        int64
		cf                             clientFlags
		lim                            ingestLimits
		level                          logLevel
	)
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Receive CloudEvents over HTTP (binary, structured, batch) and publish them to the intake stream",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLoggerAt(stderr, "json", level.level)
			if err != nil {
				return err
			}
			sources, err := loadSources(sourcesPath)
			if err != nil {
				return err
			}
			if err := lim.validate(); err != nil {
				return err
			}
			// reg holds the ingest metrics (remediator_ingest_*) for the
			// process's /metrics listener (--http).
			reg := newBaseRegistry()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return cf.withConn(cmd, log, func(c *natsConn) error {
				cfg := cf.cfg
				if _, err := streams.EnsureTopology(ctx, c.js, cfg.Streams()); err != nil {
					return err
				}
				maxMsg, err := intakeMaxMsgBytes(ctx, c, cfg)
				if err != nil {
					return err
				}
				h, err := ingest.New(c.js, ingest.Config{Sources: sources, AllowedTypes: types, MaxBodyBytes: maxBody, Intake: cfg.Streams(), MaxMsgBytes: maxMsg,
					SignatureWindow: lim.signatureWindow, MaxUnauthenticated: lim.maxUnauthenticated, Metrics: ingest.NewMetrics(reg)})
				if err != nil {
					return err
				}
				stopOps, err := startIngestOps(opsListen, reg, c, log)
				if err != nil {
					return err
				}
				defer stopOps()
				sctx, closedErr := untilClosed(ctx, c, log)
				return closedErr(serveIngest(sctx, log, h, lim, listen, cert, key))
			})
		},
	}
	fs := cmd.Flags()
	fs.Var(&level, "log-level", logLevelUsage)
	fs.StringVar(&listen, "listen", "127.0.0.1:8080", "address to serve on")
	cf.register(fs, "stream", "subject")
	fs.StringVar(&sourcesPath, "sources", "", "YAML file of allowed sources and their credentials (required)")
	fs.StringSliceVar(&types, "allow-type", nil, "allowed event types: globs as in rules (* any run, ? one character), e.g. '*:ActionTrail:ApiCall'; default any")
	fs.StringVar(&opsListen, "http", "", "serve /metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9465), apart from --listen; empty: off")
	fs.Int64Var(&maxBody, "max-body", 1<<20, "largest request body in bytes")
	fs.StringVar(&cert, "tls-cert", "", "TLS certificate file (serve HTTPS)")
	fs.StringVar(&key, "tls-key", "", "TLS key file")
	lim.register(fs)
	_ = cmd.MarkFlagRequired("sources")
	return cmd
}

func serveIngest(ctx context.Context, log *zap.Logger, h *ingest.Handler, lim ingestLimits, listen, cert, key string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := lim.server(h)
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- srv.ServeTLS(ln, cert, key)
			return
		}
		errc <- srv.Serve(ln)
	}()
	log.Info("ingest_listening", zap.String("addr", ln.Addr().String()), zap.Bool("tls", cert != ""))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	log.Info("ingest_stopped", zap.Any("counts", h.Stats()))
	return err
}
