package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
	"github.com/remediator/remediator/worker/streams"
)

// serviceMonitor is the part of the Prometheus operator's type the
// manifests use (its module is not a dependency); strict decoding still
// rejects any unknown field.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace,omitempty"`
		Labels    map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector,omitempty"`
	} `json:"spec"`
}

// TestKustomizeOverlays renders each overlay and strictly decodes every
// object into its Kubernetes type, so a misspelt field fails here.
func TestKustomizeOverlays(t *testing.T) {
	for _, overlay := range []string{"laptop", "production"} {
		t.Run(overlay, func(t *testing.T) {
			k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
			res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("kubernetes", "overlays", overlay))
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, r := range res.Resources() {
				b, err := r.AsYAML()
				if err != nil {
					t.Fatal(err)
				}
				kinds[r.GetKind()]++
				checkObject(t, overlay, r.GetKind(), b)
			}
			for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget", "ServiceMonitor", "ConfigMap", "Secret"} {
				if kinds[kind] == 0 {
					t.Errorf("%s renders no %s", overlay, kind)
				}
			}
		})
	}
}

func checkObject(t *testing.T, overlay, kind string, b []byte) {
	t.Helper()
	var obj any
	switch kind {
	case "Deployment":
		var d appsv1.Deployment
		obj = &d
		defer func() { checkDeployment(t, overlay, &d) }()
	case "Service":
		obj = &corev1.Service{}
	case "ConfigMap":
		obj = &corev1.ConfigMap{}
	case "Secret":
		obj = &corev1.Secret{}
	case "PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "ServiceMonitor":
		obj = &serviceMonitor{}
	default:
		t.Errorf("unexpected kind %s", kind)
		return
	}
	if err := yaml.UnmarshalStrict(b, obj); err != nil {
		t.Errorf("%s %s: %v", overlay, kind, err)
	}
}

// releaseImage is the image with a release tag (semantic version) or a
// digest: never latest, never untagged.
var releaseImage = regexp.MustCompile(`^ghcr\.io/remediator/remediator(:v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?|@sha256:[0-9a-f]{64})$`)

func checkDeployment(t *testing.T, overlay string, d *appsv1.Deployment) {
	t.Helper()
	want := map[string]int32{"laptop": 1, "production": 3}[overlay]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != want {
		t.Errorf("%s: replicas %v, want %d", overlay, d.Spec.Replicas, want)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("%s: probes %+v %+v", overlay, c.ReadinessProbe, c.LivenessProbe)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || d.Spec.Template.Spec.SecurityContext.RunAsNonRoot == nil {
		t.Errorf("%s: the container must be non-root with a read-only root file system", overlay)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("%s: resources unset", overlay)
	}
	if !releaseImage.MatchString(c.Image) {
		t.Errorf("%s: image %q, want ghcr.io/remediator/remediator:vX.Y.Z (a release tag from kustomize images:, never latest)", overlay, c.Image)
	}
}

// TestJetStreamDefinitions: the stream and consumer files in jetstream/
// are what the worker creates (replicas aside: the files are for R3).
func TestJetStreamDefinitions(t *testing.T) {
	_, _, js := embeddedtest.Start(t)
	ctx := context.Background()
	if _, err := streams.EnsureTopology(ctx, js, worker.DefaultConfig().Streams()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("jetstream", "*.json"))
	if len(files) != 10 {
		t.Fatalf("%d definition files, want 10", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if stream, ok := strings.CutPrefix(name, "stream-"); ok {
			var want jetstream.StreamConfig
			strictJSON(t, f, b, &want)
			st, err := js.Stream(ctx, stream)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			got := st.CachedInfo().Config
			got.Replicas, got.Metadata, want.Metadata = want.Replicas, nil, nil
			compare(t, f, want, got)
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(name, "consumer-"), "-", 2)
		var want jetstream.ConsumerConfig
		strictJSON(t, f, b, &want)
		c, err := js.Consumer(ctx, parts[0], parts[1])
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got := c.CachedInfo().Config
		got.Replicas, got.Metadata, want.Metadata = want.Replicas, nil, nil
		compare(t, f, want, got)
	}
}

func strictJSON(t *testing.T, file string, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func compare(t *testing.T, file string, want, got any) {
	t.Helper()
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if !bytes.Equal(wb, gb) {
		t.Errorf("%s differs from what the worker creates:\nfile   %s\nworker %s", file, wb, gb)
	}
}

// TestNATSConfigs: every NATS configuration file parses as nats-server
// reads it, and the cluster nodes fsync every write.
func TestNATSConfigs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("nats", "*node*.conf"))
	files = append(files, filepath.Join("nats", "nats-server.conf"))
	for _, f := range files {
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !opts.SyncAlways {
			t.Errorf("%s: sync_interval is not always", f)
		}
		if strings.Contains(f, "node") && (len(opts.Routes) != 3 || opts.Cluster.Name != "remediator") {
			t.Errorf("%s: not a three-node cluster member", f)
		}
	}
}

// TestNATSInboxPrefixes: each user of nats/accounts.conf subscribes to its
// own inbox prefix only and is denied the others' and nats.go's default,
// and the worker's manifests run it with its prefix.
func TestNATSInboxPrefixes(t *testing.T) {
	opts, err := server.ProcessConfigFile(filepath.Join("nats", "cluster-node-0.conf")) // includes accounts.conf
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Nkeys) != 3 {
		t.Fatalf("%d nkey users, want 3", len(opts.Nkeys))
	}
	prefixes := map[string]bool{}
	var workerPrefix string
	for _, u := range opts.Nkeys {
		sub := u.Permissions.Subscribe
		if sub == nil || len(sub.Allow) != 1 || !strings.HasPrefix(sub.Allow[0], "_INBOX_") || !strings.HasSuffix(sub.Allow[0], ".>") {
			t.Errorf("user %s may subscribe to %+v, want one _INBOX_<user>.>", u.Nkey, sub)
			continue
		}
		p := strings.TrimSuffix(sub.Allow[0], ".>")
		if prefixes[p] {
			t.Errorf("two users share the inbox prefix %s", p)
		}
		prefixes[p] = true
		if slices.Contains(u.Permissions.Publish.Allow, "remediation.audit.>") {
			workerPrefix = p
		}
	}
	for _, u := range opts.Nkeys {
		sub := u.Permissions.Subscribe
		if sub == nil || len(sub.Allow) != 1 {
			continue // reported above
		}
		for p := range prefixes {
			if p+".>" != sub.Allow[0] && !slices.Contains(sub.Deny, p+".>") {
				t.Errorf("user %s is not denied %s.>", u.Nkey, p)
			}
		}
		if !slices.Contains(sub.Deny, "_INBOX.>") {
			t.Errorf("user %s is not denied _INBOX.> (nats.go's default inbox)", u.Nkey)
		}
	}
	b, err := os.ReadFile(filepath.Join("kubernetes", "base", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if workerPrefix == "" || cfg["nats_inbox_prefix"] != workerPrefix {
		t.Errorf("kubernetes/base/config.yaml: nats_inbox_prefix %v, want the worker's %q", cfg["nats_inbox_prefix"], workerPrefix)
	}
}
