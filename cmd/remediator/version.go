package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time by builds that carry no VCS information (the Docker
// build copies the tree without .git):
//
//	go build -ldflags "-X main.version=v0.2.0 -X main.revision=$(git rev-parse HEAD) -X main.buildDate=$(date -u +%FT%TZ)"
//
// Each one, when set, wins over what runtime/debug.ReadBuildInfo reports.
// They are the only package-level variables here because -X can set
// nothing else.
var (
	version   string
	revision  string
	buildDate string
)

// versionInfo is what `remediator version` prints.
type versionInfo struct {
	// Version is the module version: -X main.version, else the build
	// info's (a tag or pseudo-version with `go install ...@v`, or a VCS
	// build; "(devel)" otherwise).
	Version string `json:"version"`
	// Revision is the full VCS revision, "" when unknown.
	Revision string `json:"revision"`
	// Modified says whether the tree had uncommitted changes; nil when
	// unknown (no VCS information, or a revision given with -X).
	Modified *bool `json:"modified"`
	// Date is -X main.buildDate, else the revision's commit time
	// (vcs.time); "" when unknown.
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// readVersion combines the build info with the link-time overrides.
func readVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(bi, version, revision, buildDate)
}

// buildVersion is readVersion with its sources given: bi may be nil.
func buildVersion(bi *debug.BuildInfo, ldVersion, ldRevision, ldDate string) versionInfo {
	v := versionInfo{Version: "(devel)", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		v.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Date = s.Value
			case "vcs.modified":
				m := s.Value == "true"
				v.Modified = &m
			}
		}
	}
	if ldVersion != "" {
		v.Version = ldVersion
	}
	if ldRevision != "" && ldRevision != v.Revision {
		v.Revision, v.Modified = ldRevision, nil // the build info's state is another revision's
	}
	if ldDate != "" {
		v.Date = ldDate
	}
	return v
}

// short is the revision's first 12 characters, as git and Go's
// pseudo-versions abbreviate it.
func (v versionInfo) short() string {
	if len(v.Revision) > 12 {
		return v.Revision[:12]
	}
	return v.Revision
}

// line is the one-line form `remediator --version` prints.
func (v versionInfo) line() string {
	rev := v.short()
	if rev == "" {
		rev = "unknown revision"
	}
	if v.Modified != nil && *v.Modified {
		rev += ", modified"
	}
	if v.Date != "" {
		rev += ", " + v.Date
	}
	return fmt.Sprintf("%s (%s) %s %s/%s", v.Version, rev, v.GoVersion, v.OS, v.Arch)
}

func (v versionInfo) writeText(w io.Writer) {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	modified := "unknown"
	if v.Modified != nil {
		modified = fmt.Sprint(*v.Modified)
	}
	fmt.Fprintf(w, "version:   %s\nrevision:  %s\nmodified:  %s\ndate:      %s\ngo:        %s\nplatform:  %s/%s\n",
		v.Version, unknown(v.Revision), modified, unknown(v.Date), v.GoVersion, v.OS, v.Arch)
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	var output outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision, build date, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := output.check(); err != nil {
				return err
			}
			v := readVersion()
			if output.format == "text" {
				v.writeText(stdout)
				return nil
			}
			return output.write(stdout, v)
		},
	}
	output.register(cmd.Flags(), "text", "json")
	return cmd
}

// addVersion registers the version command and the root's --version flag,
// which prints the one-line form.
func addVersion(root *cobra.Command, stdout io.Writer) {
	root.AddCommand(newVersionCmd(stdout))
	root.Version = readVersion().line()
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
}
