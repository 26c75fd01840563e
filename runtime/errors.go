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
	// ErrUnavailable means a dependency is down, the handler ran out of
	// time, or the instance is too busy to queue the request; retrying
	// later may succeed: 503. Unavailable wraps a failed call in it.
	ErrUnavailable = errors.New("unavailable")
	// ErrDeadline means the request's deadline (HeaderDeadline, or its
	// endpoint's timeout after it arrived) passed before its handler
	// started, so nothing was done: 504.
	ErrDeadline = errors.New("deadline exceeded")
)

// Micro error codes the runtime replies with.
const (
	codeInvalid     = 400
	codeNotFound    = 404
	codeConflict    = 409
	codeTooLarge    = 413
	codeInternal    = 500
	codeUnavailable = 503
	codeDeadline    = 504
)

// codeOf is the error table: each sentinel, its micro code and the name
// an ErrorBody and a span's error.type carry.
var codeOf = []struct {
	err  error
	code int
	name string
}{
	{ErrInvalid, codeInvalid, "invalid"},
	{ErrNotFound, codeNotFound, "not_found"},
	{ErrConflict, codeConflict, "conflict"},
	{ErrTooLarge, codeTooLarge, "too_large"},
	{ErrUnavailable, codeUnavailable, "unavailable"},
	{ErrDeadline, codeDeadline, "deadline_exceeded"},
	{ErrInternal, codeInternal, "internal"},
}

// codeFor returns the micro error code for err: 0 for nil, the code of the
// first sentinel err wraps, and 500 for anything else.
func codeFor(err error) int {
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
		return codeUnavailable, "unavailable"
	}
	return codeInternal, "internal"
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

// Unavailable is the one way to report that a call to NATS (or another
// dependency) failed and a retry may succeed: a 503. what says, for the
// caller, what could not be done ("order %s could not be read"); the
// caller's description is that and "; try again", with none of the cause's
// internals. The cause stays in the chain (errors.Is finds it) and in the
// error's text, which the log line, the span and a dead letter's reason
// show:
//
//	if err != nil {
//		return runtime.Unavailable(err, "order %s could not be read", id)
//	}
func Unavailable(cause error, what string, args ...any) error {
	return &unavailableError{what: fmt.Sprintf(what, args...), cause: cause}
}

// unavailableError is a failed call: what could not be done, and why.
type unavailableError struct {
	what  string
	cause error
}

func (e *unavailableError) Error() string {
	if e.cause == nil {
		return e.what
	}
	return e.what + ": " + e.cause.Error()
}

func (e *unavailableError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUnavailable}
	}
	return []error{e.cause, ErrUnavailable}
}

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

// isPermanent reports whether an event trigger gives up on err at once.
func isPermanent(err error) bool {
	var p permanentError
	if errors.As(err, &p) {
		return true
	}
	code := codeFor(err)
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

// errorBody describes err for a caller. Internal errors keep their text:
// natsfn is run by the people who read its errors. A failed call
// (Unavailable) says what could not be done, not the client library's
// words for why.
func errorBody(err error) ErrorBody {
	code, name := classify(err)
	desc := err.Error()
	var u *unavailableError
	if code == codeUnavailable && errors.As(err, &u) {
		desc = u.what + "; try again"
	}
	return ErrorBody{Code: code, Error: name, Description: desc}
}
