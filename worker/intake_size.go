package worker

import (
	"go.uber.org/zap"
)

// deadLetterRoom is the part of the server's max_payload (which counts
// headers and body) that the intake stream leaves free for what a dead
// letter adds to the original: the Remediator-* headers, of which the
// error text alone may take maxHeaderError bytes, the rule, action and
// original subject most of the rest. With it, a dead letter of the largest
// event the intake accepts is stored whole; one that still does not fit
// (a stream created earlier with a larger limit, very long names) is
// stored as a stub (publishDeadLetter).
const deadLetterRoom = 8 << 10

// intakeMaxMsgSize is the intake stream's MaxMsgSize: the configured one,
// lowered to leave deadLetterRoom under the server's max_payload. An
// event over it is refused when published, with an error the publisher
// sees, rather than stored and never settled.
func intakeMaxMsgSize(maxPayload int64, configured int32) int32 {
	if maxPayload <= 0 {
		return configured // not known (no connection yet): keep what was asked
	}
	// A tiny max_payload would leave nothing: keep half, the stub covers the rest.
	limit := max(maxPayload-deadLetterRoom, maxPayload/2)
	return int32(min(int64(configured), limit))
}

// logIntakeLimit says what the intake stream's size limit is and why.
func (w *Worker) logIntakeLimit() {
	mp := w.js.Conn().MaxPayload()
	limit := intakeMaxMsgSize(mp, w.cfg.MaxMsgSize)
	w.log.Info("intake_size_limit", zap.String("stream", w.cfg.Stream), zap.Int32("max_msg_size", limit),
		zap.Int64("server_max_payload", mp), zap.Int32("configured_max_msg_size", w.cfg.MaxMsgSize),
		zap.Int("dead_letter_room", deadLetterRoom), zap.Int("max_event_bytes", w.cfg.MaxEventBytes),
		zap.String("note", "the intake leaves room under max_payload for the dead-letter headers; larger events are refused at publish"))
}
