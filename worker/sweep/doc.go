// Package sweep finds the drift no event announced. It lists the
// resources the policy covers (the accounts and regions it names, each
// Huawei project's KMS keys), asks the rule set what an event about each
// would do, and runs the matched action as a dry run: the action's own
// read and compliance test say whether the resource is compliant. So a
// sweep judges a resource exactly as the worker would on an event about
// it, rules, policy lookups, scopes and exemptions included.
//
// A resource is one Target; it becomes the canonical finding
// (remediator.finding.<drift>) an event-driven scanner would send. The
// Report has a Row per target and check. A non-compliant row keeps its
// finding, which Publish puts on the intake stream with an id derived from
// the sweep's id and the target, so a sweep published twice adds nothing
// and the next sweep, with a new id, finds what is still wrong.
//
// Reads go through the providers' paced clients; an error reading one
// resource makes its row unknown, with the reason, and never stops the
// sweep.
package sweep
