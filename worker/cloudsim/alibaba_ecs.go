package cloudsim

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// ecsAccount is one Alibaba account's ECS state, by region.
type ecsAccount struct {
	Regions map[string]*ecsRegion `json:"regions"`
}

type ecsRegion struct {
	EncryptionByDefault bool              `json:"encryption_by_default"`
	DefaultKMSKeyID     string            `json:"default_kms_key_id"`
	KMSKeys             map[string]string `json:"kms_keys"` // id -> Enabled, Disabled, PendingDeletion
}

// ECSRegion is a region's account-level EBS default-encryption state.
type ECSRegion struct {
	EncryptionByDefault bool
	DefaultKMSKeyID     string // "" when the ECS service key is in use
}

// ECSRegion returns the state of an account's region, for assertions.
func (s *Simulator) ECSRegion(account, region string) (ECSRegion, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.ecs[account]
	if !ok || a.Regions[region] == nil {
		return ECSRegion{}, false
	}
	r := a.Regions[region]
	return ECSRegion{EncryptionByDefault: r.EncryptionByDefault, DefaultKMSKeyID: r.DefaultKMSKeyID}, true
}

// resetECS builds the ECS state from the seed; called with s.mu held.
func (s *Simulator) resetECS() {
	s.ecs = map[string]*ecsAccount{}
	for id, acct := range s.seed.Alibaba.Accounts {
		a := &ecsAccount{Regions: map[string]*ecsRegion{}}
		for name, r := range acct.Regions {
			keys := map[string]string{}
			for _, k := range r.KMSKeys {
				keys[k.ID] = orDefault(k.State, "Enabled")
			}
			a.Regions[name] = &ecsRegion{EncryptionByDefault: r.EncryptionByDefault, DefaultKMSKeyID: r.DefaultKMSKeyID, KMSKeys: keys}
		}
		s.ecs[id] = a
	}
}

var ecsWrites = map[string]bool{"ModifyDiskDefaultKMSKeyId": true, "ResetDiskDefaultKMSKeyId": true,
	"DescribeDiskEncryptionByDefaultStatus": false, "DescribeDiskDefaultKMSKeyId": false}

// ecsFailure is an Alibaba RPC error answer.
type ecsFailure struct {
	status        int
	code, message string
}

// serveECS handles Alibaba ECS RPC calls (POST /?Action=...).
func (s *Simulator) serveECS(w http.ResponseWriter, r *http.Request) {
	rid := s.requestID()
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil {
			q = r.Form
		}
	}
	name := q.Get("Action")
	if name == "AssumeRole" {
		s.serveAssumeRole(w, q)
		return
	}
	write, known := ecsWrites[name]
	if !known {
		writeECSError(w, rid, ecsFailure{http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."})
		return
	}
	op := "ecs." + name
	account, cred, authErr := s.verifyAlibaba(q)
	i := s.begin(Call{Op: op, Project: account, Params: map[string]string{"RegionId": q.Get("RegionId"), "KMSKeyId": q.Get("KMSKeyId")}, Write: write, Trace: r.Header.Get("traceparent")})
	status, code := s.answerECS(w, r, rid, name, q, account, cred, authErr)
	s.end(i, status, code)
}

func (s *Simulator) answerECS(w http.ResponseWriter, r *http.Request, rid, name string, q url.Values, account string, cred SeedCredential, authErr *ecsFailure) (int, string) {
	fail := func(f ecsFailure) (int, string) {
		writeECSError(w, rid, f)
		return f.status, f.code
	}
	if authErr != nil {
		return fail(*authErr)
	}
	if q.Get("Version") != "2014-05-26" {
		return fail(ecsFailure{http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid."})
	}
	f, delay := s.nextFault("ecs."+name, account+"/"+q.Get("RegionId"))
	if !sleep(r, delay) {
		return 499, "client_gone"
	}
	if f != nil {
		return fail(ecsFault(f))
	}
	if cred.RAMUser && ecsWrites[name] {
		return fail(ecsFailure{http.StatusForbidden, "Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM."})
	}
	resp, failure := s.ecsOperation(account, name, q.Get("RegionId"), q.Get("KMSKeyId"))
	if failure != nil {
		return fail(*failure)
	}
	resp["RequestId"] = rid
	writeJSON(w, http.StatusOK, resp)
	return http.StatusOK, ""
}

// ecsFault turns a scripted or chaos fault into an Alibaba answer; chaos
// faults arrive with the gateway codes and are translated.
func ecsFault(f *Fault) ecsFailure {
	switch {
	case f.Code == throttleCode:
		return ecsFailure{http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control."}
	case f.Code == "KMS.0001" && f.Status == http.StatusServiceUnavailable:
		return ecsFailure{f.Status, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."}
	case f.Code == "KMS.0001":
		return ecsFailure{f.Status, "InternalError", "The request processing has failed due to some unknown error."}
	case f.Code == "APIGW.0202":
		return ecsFailure{f.Status, "GatewayTimeout", "The request timed out at the gateway."}
	}
	return ecsFailure{f.Status, f.Code, orDefault(f.Message, http.StatusText(f.Status))}
}

// ecsOperation applies one operation under the lock.
func (s *Simulator) ecsOperation(account, name, region, keyID string) (map[string]any, *ecsFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.ecs[account]
	var reg *ecsRegion
	if ok {
		reg = a.Regions[region]
	}
	if reg == nil {
		return nil, &ecsFailure{http.StatusForbidden, "InvalidParameter.RegionIdNotExists", "The specified region does not exists."}
	}
	switch name {
	case "DescribeDiskEncryptionByDefaultStatus":
		return map[string]any{"Encrypted": reg.EncryptionByDefault}, nil
	case "DescribeDiskDefaultKMSKeyId":
		return map[string]any{"KMSKeyId": reg.DefaultKMSKeyID}, nil
	}
	if !reg.EncryptionByDefault {
		return nil, &ecsFailure{http.StatusForbidden, "InvalidDefaultEncryption.NotFound", "You have not configured default encryption setting in this region."}
	}
	if name == "ResetDiskDefaultKMSKeyId" {
		reg.DefaultKMSKeyID = ""
		return map[string]any{}, nil
	}
	state, ok := reg.KMSKeys[keyID]
	switch {
	case keyID == "":
		return nil, &ecsFailure{http.StatusBadRequest, "MissingKMSKeyId", "KMSKeyId is mandatory for this action."}
	case !ok:
		return nil, &ecsFailure{http.StatusForbidden, "InvalidOperation.KMSKeyIdNotFound", fmt.Sprintf("The specified KMSKeyId not found, %s.", keyID)}
	case state != "Enabled":
		return nil, &ecsFailure{http.StatusBadRequest, "InvalidParameter.KMSKeyId.CMKNotEnabled", "The CMK needs to be enabled."}
	}
	reg.DefaultKMSKeyID = keyID
	return map[string]any{}, nil
}

func writeECSError(w http.ResponseWriter, rid string, f ecsFailure) {
	writeJSON(w, f.status, map[string]string{"RequestId": rid, "HostId": "ecs.aliyuncs.com", "Code": f.code,
		"Message": f.message, "Recommend": "https://api.aliyun.com/troubleshoot?q=" + f.code})
}

// verifyAlibaba checks the RPC signature (HMAC-SHA1 over the sorted,
// percent-encoded parameters) and returns the caller's account.
func (s *Simulator) verifyAlibaba(q url.Values) (string, SeedCredential, *ecsFailure) {
	ak := q.Get("AccessKeyId")
	sk, ok := s.creds[ak]
	var cred SeedCredential
	if t, isTemp := s.tempCredential(ak); isTemp {
		if q.Get("SecurityToken") != t.token {
			return "", cred, &ecsFailure{http.StatusBadRequest, "InvalidSecurityToken.Mismatch", "Specified SecurityToken mismatch with the AccessKey."}
		}
		sk, ok, cred = t.secret, true, SeedCredential{AccessKey: ak, SecretKey: t.secret, Account: t.account}
	}
	if !ok {
		return "", SeedCredential{}, &ecsFailure{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	}
	if cred.AccessKey == "" {
		cred = SeedCredential{AccessKey: ak, SecretKey: sk}
	}
	for _, c := range s.seed.Credentials {
		if c.AccessKey == ak {
			cred = c
		}
	}
	if ts, err := time.Parse("2006-01-02T15:04:05Z", q.Get("Timestamp")); err != nil || s.now().Sub(ts).Abs() > maxClockSkew {
		return "", cred, &ecsFailure{http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."}
	}
	if q.Get("Signature") == "" {
		return "", cred, &ecsFailure{http.StatusBadRequest, "IncompleteSignature", "The request signature does not conform to Aliyun standards."}
	}
	if err := checkRPCSignature(q, sk); err != nil {
		return "", cred, &ecsFailure{http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."}
	}
	return s.accountOf(cred), cred, nil
}

// accountOf is the credential's account, or the only seeded account.
func (s *Simulator) accountOf(c SeedCredential) string {
	if c.Account != "" || len(s.seed.Alibaba.Accounts) != 1 {
		return c.Account
	}
	for id := range s.seed.Alibaba.Accounts {
		return id
	}
	return ""
}

func checkRPCSignature(q url.Values, secret string) error {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = rpcEscape(k) + "=" + rpcEscape(q.Get(k))
	}
	sts := "POST&%2F&" + rpcEscape(strings.Join(parts, "&"))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(sts))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(q.Get("Signature"))) {
		return errors.New("signature mismatch")
	}
	return nil
}

func rpcEscape(s string) string {
	e := url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(e)
}
