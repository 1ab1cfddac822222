package worker

import (
	"slices"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
)

// Untrusted says why a worker with this configuration must not act on the
// event (its source or account is off TrustedSources or TrustedAccounts),
// or "". The account is the finding's, so env.Finding must be set first
// (events.Normalizer). `remediator rules eval` asks it the same question
// the worker does.
func Untrusted(cfg Config, env *events.Envelope) string {
	if len(cfg.TrustedSources) > 0 && !slices.ContainsFunc(cfg.TrustedSources, func(p string) bool {
		return rules.MatchGlob(p, env.Event.Source())
	}) {
		return "source " + env.Event.Source() + " is not trusted"
	}
	if len(cfg.TrustedAccounts) > 0 && env.Finding != nil && !slices.Contains(cfg.TrustedAccounts, env.Finding.Account) {
		return "account " + env.Finding.Account + " is not trusted"
	}
	return ""
}

// untrusted says why the event must not be acted on, or "".
func (w *Worker) untrusted(env *events.Envelope) string { return Untrusted(w.cfg, env) }
