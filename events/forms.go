package events

import (
	"errors"
	"fmt"
	"strings"
)

// canonical reads remediator.finding.<drift> events (schema in README).
func canonical(env *Envelope) (*Finding, error) {
	d, err := dataObject(env)
	if err != nil {
		return nil, err
	}
	f := &Finding{Form: "finding", Drift: strings.TrimPrefix(env.Event.Type(), FindingTypePrefix)}
	fields := []struct {
		dst *string
		key string
	}{{&f.Provider, "provider"}, {&f.Account, "account"}, {&f.Region, "region"}, {&f.Project, "project_id"},
		{&f.ResourceType, "resource_type"}, {&f.ResourceID, "resource_id"}, {&f.Detail, "detail"}}
	for _, fl := range fields {
		if *fl.dst, err = d.str(fl.key); err != nil {
			return nil, err
		}
	}
	if f.Provider != "alibaba" && f.Provider != "huawei" {
		return nil, fmt.Errorf("provider %q is not alibaba or huawei", f.Provider)
	}
	if f.Region == "" {
		return nil, errors.New("region is missing")
	}
	actor, err := d.obj("actor")
	if err != nil {
		return nil, err
	}
	f.Actor = readActor(actor, "type", "id", "name")
	return f, nil
}

// actionTrailDrifts are the successful API calls that may change the
// account-level default disk key.
var actionTrailDrifts = map[string]bool{
	"ModifyDiskDefaultKMSKeyId": true, "ResetDiskDefaultKMSKeyId": true, "DisableDiskEncryptionByDefault": true,
}

// actionTrail reads EventBridge ActionTrail API-call events (ecs:, ebs:).
func actionTrail(env *Envelope) (*Finding, error) {
	d, err := dataObject(env)
	if err != nil {
		return nil, err
	}
	user, err := d.obj("userIdentity")
	if err != nil {
		return nil, err
	}
	f := &Finding{Form: "actiontrail", Provider: "alibaba", ResourceType: "ecs_default_disk_key",
		Actor: readActor(user, "type", "principalId", "userName")}
	if f.Operation, err = d.str("eventName"); err != nil {
		return nil, err
	}
	params, err := d.obj("requestParameters")
	if err != nil {
		return nil, err
	}
	if f.Account, err = first(ext(env, "aliyunaccountid"), user.field("accountId")); err != nil {
		return nil, err
	}
	if f.Region, err = first(ext(env, "aliyunregionid"), d.field("acsRegion"), params.field("RegionId")); err != nil {
		return nil, err
	}
	if f.Account == "" || f.Region == "" {
		return nil, errors.New("the account or region is missing")
	}
	f.ResourceID = f.Account + "/" + f.Region
	errCode, err := d.str("errorCode")
	if err != nil {
		return nil, err
	}
	switch {
	case errCode != "":
		f.Detail = "the call failed (" + errCode + "): not a drift"
	case actionTrailDrifts[f.Operation]:
		f.Drift = DriftDefaultDiskKey
		if key, _ := params.str("KMSKeyId"); key != "" {
			f.Detail = "default key set to " + key
		}
	default:
		f.Detail = "API " + f.Operation + " does not change the default disk key"
	}
	return f, nil
}

// configNonCompliant reads Cloud Config non-compliance notifications.
func configNonCompliant(env *Envelope) (*Finding, error) {
	d, err := dataObject(env)
	if err != nil {
		return nil, err
	}
	id, err := d.obj("evaluationResultIdentifier")
	if err != nil {
		return nil, err
	}
	q, err := id.obj("evaluationResultQualifier")
	if err != nil {
		return nil, err
	}
	f := &Finding{Form: "config", Provider: "alibaba", Drift: DriftConfigNonCompliant, Actor: Actor{Type: "system", Name: "cloud-config"}}
	for _, fl := range []struct {
		dst *string
		get func() (string, error)
	}{
		{&f.Account, func() (string, error) {
			return first(d.field("accountId"), q.field("resourceOwnerId"), ext(env, "aliyunaccountid"))
		}},
		{&f.Region, func() (string, error) { return first(q.field("regionId"), ext(env, "aliyunregionid")) }},
		{&f.ResourceID, q.field("resourceId")},
		{&f.ResourceType, q.field("resourceType")},
		{&f.Operation, q.field("configRuleName")},
	} {
		if *fl.dst, err = fl.get(); err != nil {
			return nil, err
		}
	}
	if f.Account == "" || f.Region == "" {
		return nil, errors.New("the account or region is missing")
	}
	ann, err := d.obj("annotation")
	if err != nil {
		s, _ := d.str("annotation") // a plain-text annotation is fine too
		f.Detail = s
		return f, nil
	}
	f.Detail = annotationText(ann)
	return f, nil
}

func annotationText(a object) string {
	var parts []string
	for _, k := range []string{"configuration", "desiredValue", "operator", "property"} {
		if v, _ := a.str(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// ctsDrifts maps CTS trace names to what they drift.
var ctsDrifts = map[string]string{
	"disableKeyRotation":         DriftKeyRotationDisabled,
	"enableKey":                  DriftKeyMustBeDisabled,
	"cancelKeyDeletion":          DriftKeyMustBeDisabled,
	"scheduleKeyDeletion":        DriftKeyPendingDeletion,
	"updateDefaultEncryptionKey": DriftDefaultDiskKey,
	"resetDefaultEncryptionKey":  DriftDefaultDiskKey,
	"disableDefaultEncryption":   DriftDefaultDiskKey,
	"changeDefaultEncryptionKey": DriftDefaultDiskKey,
	"modifyDefaultEncryptionKey": DriftDefaultDiskKey,
}

// cloudTrace reads EventGrid events carrying CTS traces (HC.KMS, HC.EVS).
func cloudTrace(env *Envelope) (*Finding, error) {
	d, err := dataObject(env)
	if err != nil {
		return nil, err
	}
	user, err := d.obj("user")
	if err != nil {
		return nil, err
	}
	domain, err := user.obj("domain")
	if err != nil {
		return nil, err
	}
	f := &Finding{Form: "cts", Provider: "huawei", Actor: readActor(user, "type", "id", "name")}
	for _, fl := range []struct {
		dst *string
		get func() (string, error)
	}{
		{&f.Operation, d.field("trace_name")},
		{&f.ResourceID, d.field("resource_id")},
		{&f.ResourceType, d.field("resource_type")},
		{&f.Project, d.field("project_id")},
		{&f.Account, func() (string, error) {
			return first(d.field("domain_id"), d.field("resource_account_id"), domain.field("id"))
		}},
		{&f.Region, func() (string, error) { return first(d.field("region_id"), ext(env, "region")) }},
	} {
		if *fl.dst, err = fl.get(); err != nil {
			return nil, err
		}
	}
	if f.Project == "" || f.Region == "" {
		return nil, errors.New("the project or region is missing")
	}
	code, err := d.str("code")
	if err != nil {
		return nil, err
	}
	switch {
	case code != "" && !strings.HasPrefix(code, "2"):
		f.Detail = "the call failed (HTTP " + code + "): not a drift"
	case ctsDrifts[f.Operation] != "":
		f.Drift = ctsDrifts[f.Operation]
	default:
		f.Detail = "trace " + f.Operation + " is not a drift remediator handles"
	}
	return f, nil
}

func readActor(o object, typeKey, idKey, nameKey string) Actor {
	t, _ := o.str(typeKey)
	id, _ := o.str(idKey)
	name, _ := o.str(nameKey)
	return Actor{Type: t, ID: id, Name: name}
}
