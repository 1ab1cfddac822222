package streams

// DeadLetterRoom is the part of the server's max_payload (which counts
// headers and body) that the intake stream leaves free for what a dead
// letter adds to the original: the Remediator-* headers, of which the
// error text alone may take maxHeaderError bytes, the rule, action and
// original subject most of the rest. With it, a dead letter of the largest
// event the intake accepts is stored whole; one that still does not fit
// (a stream created earlier with a larger limit, very long names) is
// stored as a stub (publishDeadLetter).
const DeadLetterRoom = 8 << 10

// IntakeMaxMsgSize is the intake stream's MaxMsgSize: the configured one,
// lowered to leave DeadLetterRoom under the server's max_payload. An
// event over it is refused when published, with an error the publisher
// sees, rather than stored and never settled.
func IntakeMaxMsgSize(maxPayload int64, configured int32) int32 {
	if maxPayload <= 0 {
		return configured // not known (no connection yet): keep what was asked
	}
	// A tiny max_payload would leave nothing: keep half, the stub covers the rest.
	limit := max(maxPayload-DeadLetterRoom, maxPayload/2)
	return int32(min(int64(configured), limit))
}
