package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Raw is one structured-mode CloudEvent read from a fixture file, kept as
// the bytes that were read so it can be published unchanged.
type Raw struct {
	Body   []byte
	Source string
	ID     string
	Type   string
	Origin string // file, or file:line for JSON Lines and arrays
}

// FixtureError is a fixture that could not be read as a CloudEvent.
type FixtureError struct {
	Origin string
	Err    error
}

func (e *FixtureError) Error() string { return e.Origin + ": " + e.Err.Error() }
func (e *FixtureError) Unwrap() error { return e.Err }

// ReadFixtures reads CloudEvents in structured JSON from files and
// directories (recursively, in name order). A .json file holds one event or
// a JSON array of events; a .jsonl or .ndjson file holds one event per line.
// Other files in a directory are skipped. Events that cannot be read are
// returned as *FixtureError values joined into the error; the good ones are
// still returned.
func ReadFixtures(paths ...string) ([]Raw, error) {
	var out []Raw
	var errs []error
	for _, p := range paths {
		files, err := fixtureFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			raws, err := readFixtureFile(f)
			out = append(out, raws...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return out, errors.Join(errs...)
}

func fixtureFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isFixtureName(path) {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

func isFixtureName(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".json", ".jsonl", ".ndjson":
		return true
	}
	return false
}

func readFixtureFile(path string) ([]Raw, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".jsonl" || ext == ".ndjson" {
		return readLines(path, b)
	}
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, &FixtureError{Origin: path, Err: err}
		}
		var out []Raw
		var errs []error
		for i, it := range items {
			r, err := rawEvent(fmt.Sprintf("%s[%d]", path, i), it)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, r)
		}
		return out, errors.Join(errs...)
	}
	r, err := rawEvent(path, t)
	if err != nil {
		return nil, err
	}
	return []Raw{r}, nil
}

func readLines(path string, b []byte) ([]Raw, error) {
	var out []Raw
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		r, err := rawEvent(fmt.Sprintf("%s:%d", path, n), bytes.Clone(line))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &FixtureError{Origin: path, Err: err})
	}
	return out, errors.Join(errs...)
}

func rawEvent(origin string, b []byte) (Raw, error) {
	var head struct {
		SpecVersion string `json:"specversion"`
		ID          string `json:"id"`
		Source      string `json:"source"`
		Type        string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Raw{}, &FixtureError{Origin: origin, Err: fmt.Errorf("not a JSON CloudEvent: %w", err)}
	}
	if head.ID == "" || head.Source == "" || head.Type == "" || head.SpecVersion == "" {
		return Raw{}, &FixtureError{Origin: origin, Err: errors.New("missing specversion, id, source or type")}
	}
	return Raw{Body: b, Source: head.Source, ID: head.ID, Type: head.Type, Origin: origin}, nil
}
