package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors classify what went wrong. Wrap them with context
// (fmt.Errorf("reserve %s: %w", sku, runtime.ErrConflict)) and the runtime maps
// them to a micro error code at the edge: an endpoint replies with the code, an
// event trigger terminates (4xx) or retries (5xx) the message.
var (
	// ErrInvalid means the input can never succeed: 400.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound means a referenced thing does not exist: 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request contradicts the current state: 409.
	ErrConflict = errors.New("conflict")
	// ErrTooLarge means the payload is over the handler's limit: 413.
	ErrTooLarge = errors.New("payload too large")
	// ErrInternal is a bug or an unexpected failure: 500.
	ErrInternal = errors.New("internal error")
	// ErrUnavailable means a dependency is down or a deadline passed; retrying
	// later may succeed: 503.
	ErrUnavailable = errors.New("unavailable")
)

// Micro error codes the runtime replies with.
const (
	CodeInvalid     = 400
	CodeNotFound    = 404
	CodeConflict    = 409
	CodeTooLarge    = 413
	CodeInternal    = 500
	CodeUnavailable = 503
)

var codeOf = []struct {
	err  error
	code int
	name string
}{
	{ErrInvalid, CodeInvalid, "invalid"},
	{ErrNotFound, CodeNotFound, "not_found"},
	{ErrConflict, CodeConflict, "conflict"},
	{ErrTooLarge, CodeTooLarge, "too_large"},
	{ErrUnavailable, CodeUnavailable, "unavailable"},
	{ErrInternal, CodeInternal, "internal"},
}

// Code returns the micro error code for err: 0 for nil, the code of the first
// sentinel err wraps, and 500 for anything else.
func Code(err error) int {
	code, _ := classify(err)
	return code
}

func classify(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	for _, c := range codeOf {
		if errors.Is(err, c.err) {
			return c.code, c.name
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return CodeUnavailable, "unavailable"
	}
	return CodeInternal, "internal"
}

// Errorf builds an error of one of the sentinels' kinds whose text is just
// the message, e.g. runtime.Errorf(runtime.ErrNotFound, "order %s", id):
// errors.Is(err, runtime.ErrNotFound) holds, and the caller reads
// "order 42" rather than "order 42: not found". Use %w in format to keep a
// cause as well.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{err: fmt.Errorf(format, args...), kind: kind}
}

// kindError is a message classified by a sentinel.
type kindError struct {
	err  error
	kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// permanentError marks an error that no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as final for an event trigger: the message is
// terminated and dead-lettered at once instead of retried. Errors wrapping
// ErrInvalid, ErrNotFound, ErrConflict or ErrTooLarge are permanent already.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether an event trigger gives up on err at once.
func IsPermanent(err error) bool {
	var p permanentError
	if errors.As(err, &p) {
		return true
	}
	code := Code(err)
	return code >= 400 && code < 500
}

// retryError asks for a redelivery after a given delay.
type retryError struct {
	err   error
	after time.Duration
}

func (e retryError) Error() string { return e.err.Error() }
func (e retryError) Unwrap() error { return e.err }

// RetryAfter asks an event trigger to redeliver the message after d instead of
// the BackOff schedule's delay, e.g. while a circuit breaker is open.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		err = ErrUnavailable
	}
	return retryError{err: err, after: d}
}

// retryDelay returns the delay err asks for, if any.
func retryDelay(err error) (time.Duration, bool) {
	var r retryError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// ErrorBody is the JSON body of an endpoint's error reply. The same code and
// description are in the Nats-Service-Error-Code and Nats-Service-Error headers.
type ErrorBody struct {
	Code        int    `json:"code"`
	Error       string `json:"error"`
	Description string `json:"description"`
}

// encode marshals the body without escaping <, > and & (a description
// such as "must be >= 1" stays readable in `nats req`).
func (b ErrorBody) encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(b) // plain values always encode
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// errorBody describes err for a caller. Internal errors keep their text too:
// natsfn is run by the people who read its errors.
func errorBody(err error) ErrorBody {
	code, name := classify(err)
	return ErrorBody{Code: code, Error: name, Description: err.Error()}
}
