package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/remediator/remediator/events"
)

// The checks a sweep makes, one per drift it looks for.
const (
	CheckAlibabaDefaultKey = "alibaba.ecs.default_disk_key" // default encryption on, with the approved (or the service) key
	CheckHuaweiEVSKey      = "huawei.evs.default_key"       // the project's EVS default key is the approved one
	CheckHuaweiKMSRotation = "huawei.kms.key_rotation"      // every enabled, rotatable key rotates
	CheckHuaweiKMSDisabled = "huawei.kms.key_disabled"      // every key on the disable allowlist is disabled
)

// Checks lists the checks in report order.
var Checks = []string{CheckAlibabaDefaultKey, CheckHuaweiEVSKey, CheckHuaweiKMSRotation, CheckHuaweiKMSDisabled}

// Target is one resource and the check made of it.
type Target struct {
	Check        string
	Provider     string
	Account      string
	Region       string
	Project      string
	ResourceType string
	ResourceID   string
	Drift        string // the finding's drift: remediator.finding.<Drift>
}

// KMSKey is what a key listing says of one key.
type KMSKey struct {
	ID string
	// Enabled and Rotatable: the key is enabled, and rotation applies to
	// it (symmetric, not a default key, not imported key material).
	Enabled, Rotatable bool
}

// Inventory lists what the policy alone cannot name.
type Inventory interface {
	// ListKMSKeys calls each for every key of the project, page by page.
	ListKMSKeys(ctx context.Context, account, region, project string, each func(KMSKey) error) error
}

// Scope is what the sweep covers besides the policy: the accounts of each
// provider ("alibaba", "huawei") to sweep. Alibaba accounts the policy
// names (alibaba_default_keys) are swept whether listed or not.
type Scope struct {
	Accounts map[string][]string
}

// targets lists the targets the policy covers. Listing a project's keys
// can fail: that project gets an unknown row instead, in rows.
func targets(ctx context.Context, policy map[string]any, sc Scope, inv Inventory) (ts []Target, rows []Row) {
	ts = append(ts, alibabaTargets(policy, sc)...)
	projects := stringMap(policy["huawei_projects"])
	for _, acct := range sorted(sc.Accounts["huawei"]) {
		for _, region := range sorted(slices.Collect(maps.Keys(stringMap(policy["huawei_evs_keys"])))) {
			p := projects[region]
			ts = append(ts, Target{Check: CheckHuaweiEVSKey, Provider: "huawei", Account: acct, Region: region, Project: p,
				ResourceType: "evs_default_key", ResourceID: p + "/evs-default-key", Drift: "disk.default_key_drifted"})
		}
		allow := stringMap(policy["huawei_disable_allowlist"])
		for _, region := range sorted(slices.Collect(maps.Keys(allow))) {
			for _, id := range strings.Split(allow[region], ",") {
				if id = strings.TrimSpace(id); id != "" {
					ts = append(ts, Target{Check: CheckHuaweiKMSDisabled, Provider: "huawei", Account: acct, Region: region,
						Project: projects[region], ResourceType: "kms_key", ResourceID: id, Drift: "kms.key_must_be_disabled"})
				}
			}
		}
		if inv != nil {
			keys, failed := listKeys(ctx, inv, acct, projects)
			ts, rows = append(ts, keys...), append(rows, failed...)
		}
	}
	return ts, rows
}

// listKeys lists the keys of every project, the regions at once (each
// has its own pacing bucket), and returns the rotation targets in region
// order; a project whose listing fails gets an unknown row.
func listKeys(ctx context.Context, inv Inventory, acct string, projects map[string]string) ([]Target, []Row) {
	regions := sorted(slices.Collect(maps.Keys(projects)))
	found := make([][]Target, len(regions))
	failed := make([]*Row, len(regions))
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := projects[region]
			err := inv.ListKMSKeys(ctx, acct, region, p, func(k KMSKey) error {
				if k.Enabled && k.Rotatable {
					found[i] = append(found[i], Target{Check: CheckHuaweiKMSRotation, Provider: "huawei", Account: acct, Region: region,
						Project: p, ResourceType: "kms_key", ResourceID: k.ID, Drift: "kms.key_rotation_disabled"})
				}
				return nil
			})
			if err != nil {
				failed[i] = &Row{Check: CheckHuaweiKMSRotation, Provider: "huawei", Account: acct, Region: region,
					Project: p, Resource: p + "/*", Status: Unknown, Reason: "listing the keys: " + err.Error()}
			}
		}()
	}
	wg.Wait()
	var ts []Target
	var rows []Row
	for i := range regions {
		ts = append(ts, found[i]...)
		if failed[i] != nil {
			rows = append(rows, *failed[i])
		}
	}
	return ts, rows
}

// alibabaTargets: each account's regions with an approved key, and the
// regions that must use the service key.
func alibabaTargets(policy map[string]any, sc Scope) []Target {
	keys, _ := policy["alibaba_default_keys"].(map[string]any)
	service := stringList(policy["alibaba_service_key_regions"])
	accounts := map[string]bool{}
	for _, a := range sc.Accounts["alibaba"] {
		accounts[a] = true
	}
	for a := range keys {
		accounts[a] = true
	}
	var ts []Target
	for _, acct := range sorted(slices.Collect(maps.Keys(accounts))) {
		regions := map[string]bool{}
		for r := range stringMap(keys[acct]) {
			regions[r] = true
		}
		for _, r := range service {
			regions[r] = true
		}
		for _, r := range sorted(slices.Collect(maps.Keys(regions))) {
			ts = append(ts, Target{Check: CheckAlibabaDefaultKey, Provider: "alibaba", Account: acct, Region: r,
				ResourceType: "ecs_default_disk_key", ResourceID: acct + "/" + r, Drift: "disk.default_key_drifted"})
		}
	}
	return ts
}

// finding is the canonical finding event about t, as a scanner would
// send it; its id is the sweep's id and a hash of the target, so the same
// sweep publishes the same ids.
func (t Target) finding(sweepID, source string, at time.Time) (events.Raw, error) {
	h := sha256.Sum256([]byte(strings.Join([]string{t.Check, t.Provider, t.Account, t.Region, t.Project, t.ResourceID}, "\x00")))
	id := "sweep-" + sweepID + "-" + hex.EncodeToString(h[:12])
	typ := events.FindingTypePrefix + t.Drift
	body, err := json.Marshal(map[string]any{
		"specversion": events.SpecVersion, "id": id, "source": source, "type": typ,
		"time": at.UTC().Format(time.RFC3339), "datacontenttype": "application/json",
		"data": map[string]any{
			"provider": t.Provider, "account": t.Account, "region": t.Region, "project_id": t.Project,
			"resource_type": t.ResourceType, "resource_id": t.ResourceID,
			"detail": "found by sweep " + sweepID + " (" + t.Check + ")", "observed_at": at.UTC().Format(time.RFC3339),
		},
	})
	return events.Raw{Body: body, Source: source, ID: id, Type: typ, Origin: "sweep " + sweepID}, err
}

// stringMap reads a policy map of strings (other values are skipped).
func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		}
	}
	return out
}

// stringList reads a policy list of strings, or a comma-separated string.
func stringList(v any) []string {
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return strings.Split(x, ",")
	}
	return nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
