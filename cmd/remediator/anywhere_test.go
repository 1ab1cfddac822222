package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/remediator/remediator/worker/cloudsim"
)

// child is a command of this binary running as its own process; exited
// is closed when it has exited, with err its exit.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	exited         chan struct{}
	err            error
	home           string
}

// wait waits for the child's exit.
func (c *child) wait() error {
	<-c.exited
	return c.err
}

// elsewhere starts a command of this binary as its own process from an
// empty directory, with HOME an empty directory too: as after `go install`
// or in the container image, where there is no testdata/.
// env, added last, overrides.
func elsewhere(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(exe, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "REMEDIATOR_TEST_MAIN=1", "HOME="+home, "XDG_STATE_HOME=",
		"HUAWEICLOUD_SDK_AK=", "HUAWEICLOUD_SDK_SK=", "ALIBABA_CLOUD_ACCESS_KEY_ID=", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdout: &stdout, stderr: &stderr, exited: make(chan struct{}), home: home}
	go func() { c.err = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
		}
	})
	return c
}

// await waits up to 20 s for re in the child's stdout and returns its
// submatches; the child exiting first fails the test with its output.
func (c *child) await(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(c.stdout.String()); m != nil {
			return m
		}
		select {
		case <-c.exited:
			t.Fatalf("exited (%v) before printing %s\nstdout:\n%s\nstderr:\n%s", c.err, re, c.stdout.String(), c.stderr.String())
		case <-deadline:
			t.Fatalf("%s not printed after 20s\nstdout:\n%s\nstderr:\n%s", re, c.stdout.String(), c.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestDemoFromAnyDirectory runs `remediator demo` with no flags outside the
// repository: the fixtures, the demo's policy and the simulator's state
// come from the binary, and the outcome is the one TestDemo sees with the
// repository's files.
func TestDemoFromAnyDirectory(t *testing.T) {
	t.Parallel()
	c := elsewhere(t, nil, "demo", "--quiet", "--timeout", "3m")
	if err := c.wait(); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, c.stdout.String(), c.stderr.String())
	}
	checkDemoTable(t, c.stdout.String())
	// The Huawei SDK writes ~/.huaweicloud/application_id unless given a
	// user agent (README, Operations): nothing may appear in HOME.
	if left, _ := os.ReadDir(c.home); len(left) > 0 {
		t.Errorf("the demo wrote in HOME: %v", left)
	}
}

// TestDemoWithUnusableHome runs the demo with HOME a regular file, where
// nothing can be created (even as root), and with HOME empty (as unset to
// os.UserHomeDir): every cloud call must still succeed.
func TestDemoWithUnusableHome(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	writeFile(t, file, "")
	for _, home := range []string{"HOME=" + file, "HOME="} {
		c := elsewhere(t, []string{home}, "demo", "--quiet", "--timeout", "3m")
		if err := c.wait(); err != nil {
			t.Fatalf("demo with %s: %v\nstdout:\n%s\nstderr:\n%s", home, err, c.stdout.String(), c.stderr.String())
		}
		checkDemoTable(t, c.stdout.String())
	}
}

// TestCloudsimFromAnyDirectory serves `remediator cloudsim` with no --seed
// outside the repository and makes a real SDK call on a key of the demo's
// state.
func TestCloudsimFromAnyDirectory(t *testing.T) {
	t.Parallel()
	c := elsewhere(t, nil, "cloudsim", "--listen", "127.0.0.1:0")
	url := c.await(t, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`))[1]
	cred, err := basic.NewCredentialsBuilder().WithAk(cloudsim.DemoAccessKey).WithSk(cloudsim.DemoSecretKey).WithProjectId(demoProject).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	// A user agent of our own keeps the SDK from writing ~/.huaweicloud
	// in the test's HOME.
	hc, err := kms.KmsClientBuilder().WithEndpoints([]string{url}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(5 * time.Second).WithUserAgent("remediator-test")).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	r, err := kms.NewKmsClient(hc).ShowKeyRotationStatus(&model.ShowKeyRotationStatusRequest{Body: &model.OperateKeyRequestBody{KeyId: demoKeyOff}})
	if err != nil {
		t.Fatalf("ShowKeyRotationStatus of the demo's key %s: %v", demoKeyOff, err)
	}
	if r.KeyRotationEnabled == nil || *r.KeyRotationEnabled {
		t.Errorf("key_rotation_enabled = %v, want false (the demo's drifted key)", r.KeyRotationEnabled)
	}
	resp, err := http.Get(url + "/_sim/calls")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "kms.get-key-rotation-status") {
		t.Errorf("the call is not in /_sim/calls: %s", b)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(); err != nil {
		t.Errorf("cloudsim after SIGTERM: %v\n%s", err, c.stderr.String())
	}
}

// TestCloudsimHelp checks the help names the default seed and every
// service the simulator serves.
func TestCloudsimHelp(t *testing.T) {
	t.Parallel()
	var out, errb syncBuffer
	if c := run(t.Context(), []string{"cloudsim", "--help"}, &out, &errb); c != 0 {
		t.Fatalf("exit %d: %s", c, errb.String())
	}
	for _, s := range []string{"Huawei KMS", "Huawei EVS", "Huawei IAM", "Alibaba ECS", "Alibaba STS", "ECS metadata",
		"built in: testdata/cloudsim/demo.yaml", `"none": no resources`, "/_sim/state"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("cloudsim --help does not say %q:\n%s", s, out.String())
		}
	}
}
