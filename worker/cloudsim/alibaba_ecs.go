package cloudsim

import "net/http"

// ecsAccount is one Alibaba account's ECS state. (Stub: the ECS RPC API is
// being added.)
type ecsAccount struct{}

// resetECS builds the ECS state from the seed; called with s.mu held.
func (s *Simulator) resetECS() { s.ecs = map[string]*ecsAccount{} }

// serveECS handles Alibaba ECS RPC calls (POST /?Action=...).
func (s *Simulator) serveECS(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "ECS not simulated yet", http.StatusNotImplemented)
}
