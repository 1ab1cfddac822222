package worker

import (
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/streams"
)

// logIntakeLimit says what the intake stream's size limit is and why.
func (w *Worker) logIntakeLimit() {
	mp := w.js.Conn().MaxPayload()
	limit := streams.IntakeMaxMsgSize(mp, w.cfg.MaxMsgSize)
	w.log.Info("intake_size_limit", zap.String("stream", w.cfg.Stream), zap.Int32("max_msg_size", limit),
		zap.Int64("server_max_payload", mp), zap.Int32("configured_max_msg_size", w.cfg.MaxMsgSize),
		zap.Int("dead_letter_room", streams.DeadLetterRoom), zap.Int("max_event_bytes", w.cfg.MaxEventBytes),
		zap.String("note", "the intake leaves room under max_payload for the dead-letter headers; larger events are refused at publish"))
}
