package cloudsim

import "net/http"

// evsState is a project's EVS default-encryption state. (Stub: the EVS v5
// API is being added.)
type evsState struct{}

// resetEVS builds each project's EVS state from the seed; called with s.mu
// held, after the projects exist.
func (s *Simulator) resetEVS() {}

// serveEVS handles Huawei EVS v5 default-encryption calls.
func (s *Simulator) serveEVS(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "EVS not simulated yet", http.StatusNotImplemented)
}
