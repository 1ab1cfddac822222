package worker

import (
	"slices"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
)

// untrusted says why the event must not be acted on, or "".
func (w *Worker) untrusted(env *events.Envelope) string {
	if len(w.cfg.TrustedSources) > 0 && !slices.ContainsFunc(w.cfg.TrustedSources, func(p string) bool {
		return rules.MatchGlob(p, env.Event.Source())
	}) {
		return "source " + env.Event.Source() + " is not trusted"
	}
	if len(w.cfg.TrustedAccounts) > 0 && env.Finding != nil && !slices.Contains(w.cfg.TrustedAccounts, env.Finding.Account) {
		return "account " + env.Finding.Account + " is not trusted"
	}
	return ""
}
