package cloudsim

import (
	"encoding/json"
	"net/http"
)

// serveAdmin serves the unauthenticated admin API (a loopback test tool).
func (s *Simulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /_sim/state":
		s.mu.Lock()
		state := map[string]any{"huawei": map[string]any{"projects": s.projects}, "alibaba": map[string]any{"accounts": s.ecs},
			"chaos": s.chaos, "faults": s.faults}
		b, err := json.Marshal(state)
		s.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case "GET /_sim/calls":
		writeJSON(w, http.StatusOK, s.Calls())
	case "POST /_sim/faults":
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.Op == "" || f.Status < 400 {
			http.Error(w, "want a JSON fault with op and a status >= 400", http.StatusBadRequest)
			return
		}
		s.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	case "PUT /_sim/chaos":
		var c Chaos
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, "want a JSON chaos object", http.StatusBadRequest)
			return
		}
		s.SetChaos(c)
		w.WriteHeader(http.StatusNoContent)
	case "POST /_sim/reset":
		s.reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}
