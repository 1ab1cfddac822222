package streams

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// nats.go (1.55) decodes a header block all or nothing: one line without a
// colon and a delivered message has a nil Header (the async error handler
// gets ErrBadHeaderMsg), and Stream.GetMsg fails with that error. The raw
// block is not kept anywhere a jetstream.Msg exposes. So the dead letterer reads
// the stored message through the stream's message-get API itself and
// parses the block leniently, to carry the original headers into the dead
// letter.

// storedMsg is a message read back from a stream.
type storedMsg struct {
	subject string
	header  nats.Header
	data    []byte
	// block is the raw header block when a line of it could not be parsed.
	block []byte
}

// original is s as the message to dead-letter, sequence seq of stream.
func (s storedMsg) original(stream string, seq uint64) Original {
	return Original{Subject: s.subject, Header: s.header, Data: s.data, Stream: stream, Seq: seq, headerBlock: s.block}
}

// getTimeout bounds reading a stored message when the caller's context
// has no deadline, as jetstream's default API timeout does.
const getTimeout = 5 * time.Second

// getStored reads one message of a stream, its headers parsed leniently.
// A missing message is jetstream.ErrMsgNotFound.
func (x *DeadLetterer) getStored(ctx context.Context, stream string, seq uint64) (storedMsg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, getTimeout)
		defer cancel()
	}
	prefix := x.js.Options().APIPrefix // set only by NewWithAPIPrefix
	if prefix == "" {
		prefix = jetstream.DefaultAPIPrefix
	}
	prefix = strings.TrimSuffix(prefix, ".") + "."
	req := []byte(`{"seq":` + strconv.FormatUint(seq, 10) + `}`)
	resp, err := x.js.Conn().RequestWithContext(ctx, prefix+"STREAM.MSG.GET."+stream, req)
	if err != nil {
		return storedMsg{}, err
	}
	var r struct {
		Message *struct {
			Subject string `json:"subject"`
			Header  []byte `json:"hdrs"`
			Data    []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	switch err := json.Unmarshal(resp.Data, &r); {
	case err != nil:
		return storedMsg{}, err
	case r.Error != nil && r.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return storedMsg{}, jetstream.ErrMsgNotFound
	case r.Error != nil:
		return storedMsg{}, r.Error
	case r.Message == nil:
		return storedMsg{}, errors.New("message get: no message in the response")
	}
	h, lossy := parseHeaderBlock(r.Message.Header)
	s := storedMsg{subject: r.Message.Subject, header: h, data: r.Message.Data}
	if lossy {
		s.block = r.Message.Header
	}
	return s, nil
}

// parseHeaderBlock parses a NATS header block line by line, skipping the
// lines it cannot parse instead of giving up on the block; lossy says
// whether it skipped any.
func parseHeaderBlock(b []byte) (h nats.Header, lossy bool) {
	if len(b) == 0 {
		return nil, false
	}
	h = nats.Header{}
	for i, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		if i == 0 && strings.HasPrefix(line, "NATS/") {
			continue // version line, with an inline status on replies only
		}
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			lossy = true
			continue
		}
		h[k] = append(h[k], strings.TrimLeft(v, " \t"))
	}
	return h, lossy
}

// recoverHeaders reads back the headers of a message delivered without
// any: usually it had none, but a block nats.go could not parse arrives
// the same way. A failed read is logged and the dead letter goes without
// them rather than not at all.
func (x *DeadLetterer) recoverHeaders(ctx context.Context, stream string, seq uint64) (nats.Header, []byte) {
	s, err := x.getStored(ctx, stream, seq)
	if err != nil {
		x.log.Warn("header_recovery_failed", zap.String("stream", stream), zap.Uint64("stream_seq", seq), zap.Error(err))
		return nil, nil
	}
	if s.block != nil {
		x.log.Warn("header_block_unparsable", zap.String("stream", stream), zap.Uint64("stream_seq", seq),
			zap.Int("headers_recovered", len(s.header)))
	}
	return s.header, s.block
}
