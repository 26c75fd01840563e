package runtime

import (
	"time"
)

// HeaderDeadline is the request header that carries the caller's deadline:
// an absolute RFC 3339 UTC time with fractional seconds, e.g.
// "2026-12-01T10:00:04.250Z". The runtime does no work for a request whose
// deadline has passed (a 504, ErrDeadline), and bounds the handler so that
// it answers before it (a 503 when it runs out of time). Without the
// header, a request's deadline is its endpoint's WithTimeout (5s by
// default) after it reached the instance. Request sets it on every call
// from one function to another. The clocks of caller and instance must
// agree (NTP); a deadline later than the endpoint's own is cut to it.
const HeaderDeadline = "Natsfn-Deadline"

// deadlineLayout writes a deadline: RFC 3339 in UTC, to the nanosecond.
const deadlineLayout = time.RFC3339Nano

// parseDeadline reads a HeaderDeadline value.
func parseDeadline(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, Errorf(ErrInvalid, "header %s: %q is not an RFC 3339 time such as %s",
			HeaderDeadline, v, time.Now().UTC().Add(5*time.Second).Format(deadlineLayout))
	}
	return t, nil
}

// formatDeadline writes t as a HeaderDeadline value.
func formatDeadline(t time.Time) string { return t.UTC().Format(deadlineLayout) }

// replyMargin is how much earlier than a request's deadline its handler's
// bound ends, so that the 503 of a handler that ran out of time reaches the
// caller before the caller gives up: a tenth of the time the request had
// when it arrived, at most 250ms (4.75s of a default 5s).
func replyMargin(budget time.Duration) time.Duration {
	return min(max(budget/10, 0), maxReplyMargin)
}

const maxReplyMargin = 250 * time.Millisecond

// requestBound returns a request's deadline and its handler's bound: the
// caller's deadline (hdr, when given) cut to the endpoint's own timeout
// after arrival, and a margin before it.
func requestBound(arrival time.Time, timeout time.Duration, hdr string) (deadline, bound time.Time, err error) {
	if timeout > 0 {
		deadline = arrival.Add(timeout)
	}
	if hdr != "" {
		caller, err := parseDeadline(hdr)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		if deadline.IsZero() || caller.Before(deadline) {
			deadline = caller
		}
	}
	if deadline.IsZero() {
		return deadline, deadline, nil
	}
	return deadline, deadline.Add(-replyMargin(deadline.Sub(arrival))), nil
}
