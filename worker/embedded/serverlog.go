package embedded

import (
	"fmt"
	"sync"

	"go.uber.org/zap"
)

// serverLog passes the server's log lines to zap: notices and debug lines
// at debug (the start-up banner alone is some twenty lines), warnings and
// errors at their level. A fatal line (the server cannot listen, say) is
// also handed to Start, which reports it at once; the server's own logger
// would exit the process instead.
type serverLog struct {
	log   *zap.Logger
	fatal chan string // buffered: the first fatal line

	mu      sync.Mutex
	lastErr string // the last error or fatal line, for a start that times out
}

func newServerLog(log *zap.Logger) *serverLog {
	if log == nil {
		log = zap.NewNop()
	}
	return &serverLog{log: log.With(zap.String("component", "embedded_nats")), fatal: make(chan string, 1)}
}

func (l *serverLog) line(format string, v []any) zap.Field {
	return zap.String("line", fmt.Sprintf(format, v...))
}

func (l *serverLog) Noticef(format string, v ...any) {
	l.log.Debug("nats_server_log", l.line(format, v))
}
func (l *serverLog) Debugf(format string, v ...any) {
	l.log.Debug("nats_server_log", l.line(format, v))
}
func (l *serverLog) Tracef(string, ...any)         {} // tracing is never turned on
func (l *serverLog) Warnf(format string, v ...any) { l.log.Warn("nats_server_log", l.line(format, v)) }

func (l *serverLog) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.lastErr = msg
	l.mu.Unlock()
	l.log.Error("nats_server_log", zap.String("line", msg))
}

func (l *serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.lastErr = msg
	l.mu.Unlock()
	l.log.Error("nats_server_log", zap.String("line", msg), zap.Bool("fatal", true))
	select {
	case l.fatal <- msg:
	default:
	}
}

func (l *serverLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}
