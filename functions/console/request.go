package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// apiError is a failure the page shows as it is: an HTTP status and what
// went wrong, naming the NATS subject when a request failed.
type apiError struct {
	Status  int    `json:"status"`
	Subject string `json:"subject,omitempty"`
	Message string `json:"error"`
}

func (e *apiError) Error() string {
	if e.Subject == "" {
		return e.Message
	}
	return e.Subject + ": " + e.Message
}

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// statusOf is the HTTP status of an error: an apiError's own, else 500.
func statusOf(err error) int {
	if e, ok := errors.AsType[*apiError](err); ok {
		return e.Status
	}
	return http.StatusInternalServerError
}

// connected fails at once while the connection is down: a request would
// otherwise wait in the reconnect buffer for its whole timeout, and the
// page would show a timeout rather than the reason.
func (c *Console) connected() error {
	if st := c.nc.Status(); st != nats.CONNECTED {
		return errorf(http.StatusServiceUnavailable, "not connected to NATS (%s)", strings.ToLower(st.String()))
	}
	return nil
}

// request sends one request with the console's deadline and maps what
// can go wrong to an apiError: NATS down, nobody listening, no reply in
// time, or the function's micro error (its code becomes the HTTP status).
func (c *Console) request(ctx context.Context, subject string, body []byte, hdr nats.Header) (*nats.Msg, error) {
	if err := c.connected(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	m, err := c.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: subject, Data: body, Header: hdr})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		fn, _, _ := strings.Cut(subject, ".")
		return nil, &apiError{Status: http.StatusServiceUnavailable, Subject: subject,
			Message: "nobody answers: is the " + fn + " function running?"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, &apiError{Status: http.StatusGatewayTimeout, Subject: subject,
			Message: "no reply within " + c.cfg.Timeout.String()}
	case err != nil:
		return nil, &apiError{Status: http.StatusBadGateway, Subject: subject, Message: err.Error()}
	}
	if code := m.Header.Get(headerServiceCode); code != "" {
		status, _ := strconv.Atoi(code)
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		desc := m.Header.Get(headerServiceError)
		if desc == "" {
			desc = "error " + code
		}
		return nil, &apiError{Status: status, Subject: subject, Message: desc}
	}
	return m, nil
}

// call sends in as JSON and decodes the reply into out.
func (c *Console) call(ctx context.Context, subject string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return errorf(http.StatusInternalServerError, "%s: encode request: %v", subject, err)
	}
	m, err := c.request(ctx, subject, body, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(m.Data, out); err != nil {
		return &apiError{Status: http.StatusBadGateway, Subject: subject, Message: "reply is not what it should be: " + err.Error()}
	}
	return nil
}
