package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Changes are the differences between two rule sets, by rule name, each
// list sorted. A rule that became disabled is removed; one that became
// enabled is added.
type Changes struct {
	Added, Removed, Changed []string
}

// Empty reports whether the two sets enable the same rules as written.
func (c Changes) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

// Diff compares the enabled rules of two sets. A rule has changed when its
// YAML differs in anything but comments, layout and position (so moving a
// rule to another file is no change). A nil set has no rules.
func Diff(old, next *Set) Changes {
	before := map[string]string{}
	if old != nil {
		for _, r := range old.rules {
			before[r.Name] = r.digest
		}
	}
	var c Changes
	seen := map[string]bool{}
	if next != nil {
		for _, r := range next.rules {
			seen[r.Name] = true
			d, ok := before[r.Name]
			switch {
			case !ok:
				c.Added = append(c.Added, r.Name)
			case d != r.digest:
				c.Changed = append(c.Changed, r.Name)
			}
		}
	}
	for name := range before {
		if !seen[name] {
			c.Removed = append(c.Removed, name)
		}
	}
	sort.Strings(c.Added)
	sort.Strings(c.Removed)
	sort.Strings(c.Changed)
	return c
}

// nodeDigest hashes a YAML tree's kinds, tags and values, leaving out
// comments and positions, which do not change what a rule does.
func nodeDigest(n *yaml.Node) string {
	h := sha256.New()
	writeNode(h, n)
	return hex.EncodeToString(h.Sum(nil))
}

func writeNode(h hash.Hash, n *yaml.Node) {
	if n == nil {
		return
	}
	n = deref(n)
	h.Write([]byte(strconv.Itoa(int(n.Kind)) + "\x00" + n.ShortTag() + "\x00" + strconv.Itoa(len(n.Value)) + ":" + n.Value +
		"\x00" + strconv.Itoa(len(n.Content)) + "\x00"))
	for _, c := range n.Content {
		writeNode(h, c)
	}
}
