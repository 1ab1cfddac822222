package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// Failure is a delivery that did not get a 2xx. Permanent failures (a 4xx
// other than 408 and 429) are not retried: the receiver refuses the
// record. Its text names the sink, never its URL.
type Failure struct {
	Sink      string
	Status    int    // the HTTP status; 0 when no answer came
	Cause     string // what went wrong, without the URL
	Permanent bool
}

func (f *Failure) Error() string {
	if f.Status != 0 {
		return fmt.Sprintf("sink %s answered %d %s", f.Sink, f.Status, http.StatusText(f.Status))
	}
	return fmt.Sprintf("sink %s: %s", f.Sink, f.Cause)
}

// permanent says whether a status refuses the record for good.
func permanent(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// post sends body to url and classifies the answer.
func post(ctx context.Context, c *http.Client, sink, url string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		// NewRequest's error quotes the URL: say only that it is invalid.
		return &Failure{Sink: sink, Cause: "invalid URL", Permanent: true}
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return &Failure{Sink: sink, Cause: transportCause(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &Failure{Sink: sink, Status: resp.StatusCode, Cause: "status " + strconv.Itoa(resp.StatusCode), Permanent: permanent(resp.StatusCode)}
}

// transportCause says what went wrong without the URL or the address
// (*url.Error and *net.OpError quote them; a Slack URL is a secret).
func transportCause(err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &op) && op.Err != nil:
		return op.Op + ": " + causeText(op.Err)
	}
	return "connection error"
}

// causeText is the innermost message of a system call error (connection
// refused, reset), which carries no address.
func causeText(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
