package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/approval"
)

// approvalsAPI serves the approvals on run's --http address, for a chat
// bot or a console: GET /approvals, GET /approvals/{id}, POST
// /approvals/{id}/approve and /deny with {"as": NAME, "comment": TEXT}.
// Every request needs "Authorization: Bearer <token>" (the token file's
// content); the token is never logged.
type approvalsAPI struct {
	token []byte
	conn  func() *natsConn // nil until connected
	cfg   worker.Config
	log   *zap.Logger
}

// readToken reads the token file: one line, at least 16 bytes.
func readToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--approvals-token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < 16 {
		return nil, fmt.Errorf("--approvals-token-file %s: the token is %d bytes, want at least 16 (e.g. `openssl rand -hex 32 > %s`)", path, len(t), path)
	}
	return []byte(t), nil
}

func (a *approvalsAPI) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /approvals", a.auth(a.list))
	mux.HandleFunc("GET /approvals/{id}", a.auth(a.show))
	mux.HandleFunc("POST /approvals/{id}/{verb}", a.auth(a.decide))
}

func (a *approvalsAPI) auth(next func(http.ResponseWriter, *http.Request, *approvals)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), a.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="remediator approvals"`)
			httpError(w, http.StatusUnauthorized, "missing or wrong bearer token (the content of --approvals-token-file)")
			return
		}
		c := a.conn()
		if c == nil {
			httpError(w, http.StatusServiceUnavailable, "not connected to NATS yet")
			return
		}
		ap, err := openApprovals(r.Context(), c.js, a.cfg)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		next(w, r, ap)
	}
}

func (a *approvalsAPI) list(w http.ResponseWriter, r *http.Request, ap *approvals) {
	ps, err := ap.store.List(r.Context())
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if ps == nil {
		ps = []approval.Plan{}
	}
	writeJSON(w, http.StatusOK, ps)
}

func (a *approvalsAPI) show(w http.ResponseWriter, r *http.Request, ap *approvals) {
	p, _, err := ap.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		httpError(w, statusOf(err), explainApproval(err).Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *approvalsAPI) decide(w http.ResponseWriter, r *http.Request, ap *approvals) {
	verb := r.PathValue("verb")
	if verb != "approve" && verb != "deny" {
		httpError(w, http.StatusNotFound, "POST /approvals/{id}/approve or /deny")
		return
	}
	var body struct {
		As      string `json:"as"`
		Comment string `json:"comment"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		httpError(w, http.StatusBadRequest, `the body must be JSON {"as": NAME, "comment": TEXT}: `+err.Error())
		return
	}
	p, err := ap.decide(r.Context(), r.PathValue("id"), verb == "approve", body.As, body.Comment)
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	a.log.Info("approval_decided", zap.String("approval_id", p.ID), zap.String("verb", verb), zap.String("by", body.As), zap.String("state", string(p.State)))
	writeJSON(w, http.StatusOK, p)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, approval.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, approval.ErrActor):
		return http.StatusForbidden
	case errors.Is(err, approval.ErrExpired), errors.Is(err, approval.ErrSettled), errors.Is(err, approval.ErrVoted):
		return http.StatusConflict
	case errors.Is(err, approval.ErrNoName):
		return http.StatusBadRequest
	}
	return http.StatusServiceUnavailable
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
