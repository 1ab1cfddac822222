package cloudsim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault makes the next Count calls to Op fail with Status, Code and
// Message, after Delay. Op "*" matches every operation. Faults queue in
// order per operation.
type Fault struct {
	Op      string        `json:"op"`
	Count   int           `json:"count"`
	Status  int           `json:"status"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Delay   time.Duration `json:"delay"`
}

// Chaos injects random faults and latency into every call.
type Chaos struct {
	ThrottleRate    float64       `json:"throttle_rate"`     // 429 with the API gateway's throttling body
	ServerErrorRate float64       `json:"server_error_rate"` // 500 or 503
	TimeoutRate     float64       `json:"timeout_rate"`      // hold for TimeoutDelay (or until the client leaves), then 504
	TimeoutDelay    time.Duration `json:"timeout_delay"`
	Latency         time.Duration `json:"latency"` // added to every call
	Seed            uint64        `json:"seed"`
	// Quotas throttle as the providers do: past a quota's calls in one
	// second (a fixed window, as the API gateways count), calls are
	// answered with the provider's throttling error. A key is an API
	// ("kms.enable-key-rotation", "ecs.ModifyDiskDefaultKMSKeyId"), a
	// service ("kms": its APIs share one quota) or "*" (every other API,
	// each its own). Quotas are kept per project (Huawei) or per account
	// and region (Alibaba).
	Quotas map[string]Quota `json:"quotas,omitempty"`
}

// Quota is how many calls one second allows.
type Quota struct {
	PerSecond int `json:"per_second"`
}

// Call is one API call as the simulator saw it. It is logged when the call
// starts (Done false) and updated when it ends.
type Call struct {
	Seq     int               `json:"seq"`
	Op      string            `json:"op"`
	Project string            `json:"project,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Write   bool              `json:"write"`
	Trace   string            `json:"traceparent,omitempty"` // the W3C traceparent header the call carried
	Done    bool              `json:"done"`
	Status  int               `json:"status"`
	Code    string            `json:"code,omitempty"`
	Start   time.Time         `json:"start"`
	End     time.Time         `json:"end,omitzero"`
}

// Key is the state of one KMS key.
type Key struct {
	ID               string    `json:"id"`
	Alias            string    `json:"alias"`
	State            string    `json:"state"` // Huawei key_state: "1".."5"
	Rotation         bool      `json:"rotation"`
	RotationInterval int       `json:"rotation_interval"`
	Rotations        int       `json:"number_of_rotations"`
	Origin           string    `json:"origin"`
	Spec             string    `json:"spec"`
	Default          bool      `json:"default"`
	Created          time.Time `json:"created"`
}

type project struct {
	Region string          `json:"region"`
	Keys   map[string]*Key `json:"kms_keys"`
	EVS    *evsState       `json:"evs,omitempty"`
}

// Simulator is the simulated cloud. It is safe for concurrent use.
type Simulator struct {
	seed Seed
	// huawei is the seed's projects with the generated keys added.
	huawei map[string]SeedProject
	creds  map[string]string // AK -> SK
	now    func() time.Time

	mu       sync.Mutex
	projects map[string]*project
	ecs      map[string]*ecsAccount // Alibaba account id -> state
	temp     map[string]tempCred    // STS credentials by AccessKeyId
	mdTokens map[string]bool        // metadata service session tokens
	calls    []Call
	faults   map[string][]Fault
	chaos    Chaos
	quotas   map[string]*window // by scope and quota key
	rnd      *rand.Rand
	reqSeq   int
}

// New returns a simulator holding the seed's state.
func New(seed Seed) *Simulator {
	s := &Simulator{seed: seed, huawei: seed.Huawei.expand(), now: time.Now, creds: map[string]string{}}
	for _, c := range seed.Credentials {
		s.creds[c.AccessKey] = c.SecretKey
	}
	if len(s.creds) == 0 {
		s.creds[DemoAccessKey] = DemoSecretKey
	}
	s.reset()
	return s
}

// reset restores the seed and clears calls, faults and chaos.
func (s *Simulator) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects = map[string]*project{}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for pid, p := range s.huawei {
		pr := &project{Region: p.Region, Keys: map[string]*Key{}}
		for _, k := range p.KMSKeys {
			state := stateCodes[k.State]
			if state == "" {
				state = stateCodes["enabled"]
			}
			pr.Keys[k.ID] = &Key{ID: k.ID, Alias: k.Alias, State: state, Rotation: k.Rotation, RotationInterval: 365,
				Origin: orDefault(k.Origin, "kms"), Spec: orDefault(k.Spec, "AES_256"), Default: k.Default, Created: created}
		}
		s.projects[pid] = pr
	}
	s.resetECS()
	s.resetEVS()
	s.temp = map[string]tempCred{}
	s.mdTokens = map[string]bool{}
	s.calls, s.faults, s.chaos, s.quotas = nil, map[string][]Fault{}, Chaos{}, map[string]*window{}
	s.rnd = rand.New(rand.NewPCG(1, 2))
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// Inject queues a scripted fault.
func (s *Simulator) Inject(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	s.faults[f.Op] = append(s.faults[f.Op], f)
	s.mu.Unlock()
}

// SetChaos replaces the random fault settings.
func (s *Simulator) SetChaos(c Chaos) {
	s.mu.Lock()
	s.chaos, s.quotas = c, map[string]*window{}
	s.rnd = rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	s.mu.Unlock()
}

// Calls returns a copy of the call log.
func (s *Simulator) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// Writes counts successful (2xx) write calls to op, or to every op when
// op is "".
func (s *Simulator) Writes(op string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Write && c.Done && c.Status/100 == 2 && (op == "" || c.Op == op) {
			n++
		}
	}
	return n
}

// Key returns the current state of a KMS key.
func (s *Simulator) Key(projectID, keyID string) (Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[projectID]
	if !ok {
		return Key{}, false
	}
	k, ok := p.Keys[keyID]
	if !ok {
		return Key{}, false
	}
	return *k, true
}

// SetRotation turns a KMS key's rotation on or off out of band, as a person
// in the console would (no call is logged). It reports whether the key
// exists.
func (s *Simulator) SetRotation(projectID, keyID string, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[projectID]
	if !ok {
		return false
	}
	k, ok := p.Keys[keyID]
	if ok {
		k.Rotation = on
	}
	return ok
}

// begin logs the start of a call and returns its index.
func (s *Simulator) begin(c Call) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Seq = len(s.calls) + 1
	c.Start = s.now()
	s.calls = append(s.calls, c)
	return len(s.calls) - 1
}

// end records how a call ended.
func (s *Simulator) end(i, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.calls[i]
	c.Done, c.Status, c.Code, c.End = true, status, code, s.now()
}

// nextFault pops the scripted fault for op, if any, throttles a call past
// its quota in scope (a project or account), or draws a chaos fault. It
// returns the fault and the latency to add.
func (s *Simulator) nextFault(op, scope string) (*Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{op, "*"} {
		q := s.faults[key]
		if len(q) == 0 {
			continue
		}
		f := q[0]
		q[0].Count--
		if q[0].Count <= 0 {
			s.faults[key] = q[1:]
		}
		return &f, s.chaos.Latency + f.Delay
	}
	c := s.chaos
	if s.overQuota(op, scope) {
		return &Fault{Status: http.StatusTooManyRequests, Code: throttleCode, Message: throttleMessage}, c.Latency
	}
	r := s.rnd.Float64()
	switch {
	case r < c.ThrottleRate:
		return &Fault{Status: http.StatusTooManyRequests, Code: throttleCode, Message: throttleMessage}, c.Latency
	case r < c.ThrottleRate+c.ServerErrorRate:
		status := []int{http.StatusInternalServerError, http.StatusServiceUnavailable}[s.rnd.IntN(2)]
		return &Fault{Status: status, Code: "KMS.0001", Message: "Internal service error."}, c.Latency
	case r < c.ThrottleRate+c.ServerErrorRate+c.TimeoutRate:
		d := c.TimeoutDelay
		if d <= 0 {
			d = 30 * time.Second
		}
		return &Fault{Status: http.StatusGatewayTimeout, Code: "APIGW.0202", Message: "Gateway timed out."}, c.Latency + d
	}
	return nil, c.Latency
}

// window counts the calls of one second.
type window struct {
	second int64
	n      int
}

// overQuota counts a call to op in scope against its quota and reports
// whether the quota was spent already; s.mu is held.
func (s *Simulator) overQuota(op, scope string) bool {
	key, q := op, Quota{}
	var ok bool
	if q, ok = s.chaos.Quotas[op]; !ok {
		svc, _, _ := strings.Cut(op, ".")
		if q, ok = s.chaos.Quotas[svc]; ok {
			key = svc
		} else if q, ok = s.chaos.Quotas["*"]; !ok {
			return false
		}
	}
	if q.PerSecond <= 0 {
		return false
	}
	w := s.quotas[scope+"/"+key]
	if w == nil {
		w = &window{}
		s.quotas[scope+"/"+key] = w
	}
	if sec := s.now().Unix(); sec != w.second {
		w.second, w.n = sec, 0
	}
	w.n++
	return w.n > q.PerSecond
}

func (s *Simulator) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqSeq++
	return fmt.Sprintf("sim-%08x-%04d", s.rnd.Uint32(), s.reqSeq)
}

// ServeHTTP routes admin, Huawei KMS and (later) other provider requests.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.serveAdmin(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1.0/"):
		s.serveKMS(w, r)
	case strings.HasPrefix(r.URL.Path, "/latest/"):
		s.serveMetadata(w, r)
	case r.URL.Path == "/v3.0/OS-CREDENTIAL/securitytokens" && r.Method == http.MethodPost:
		s.serveSecurityTokens(w, r)
	case strings.HasPrefix(r.URL.Path, "/v5/"):
		s.serveEVS(w, r)
	case r.URL.Path == "/" && r.URL.Query().Get("Action") != "":
		s.serveECS(w, r)
	default:
		writeJSON(w, http.StatusNotFound, kmsError("APIGW.0101", "The API does not exist or has not been published in the environment."))
	}
}

// sleep waits d or until the client goes away; false means it went away.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
