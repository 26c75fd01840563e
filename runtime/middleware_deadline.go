package runtime

import (
	"context"
	"time"
)

// bounded gives each message its handler's bound (the invocation's
// deadline). A request's is its deadline, from HeaderDeadline or the
// endpoint's timeout d after it arrived, less a margin for the reply; a
// request whose bound has passed is answered 504 (ErrDeadline) without
// running anything, and a header that is not a time is a 400. An event
// handler's bound is d after it starts; d <= 0 means none.
//
// The bound costs nothing until the handler asks its context for Done:
// most handlers that only compute never do, and a timer per message was
// about 5% of a small endpoint's throughput (invocation.Done).
func bounded(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			inv := invocationFrom(ctx)
			if inv == nil {
				return next.Handle(ctx, m)
			}
			now := time.Now()
			if m.Kind != KindRequest {
				if d > 0 {
					inv.bound = now.Add(d)
				}
				return next.Handle(ctx, m)
			}
			arrival := inv.arrival
			if arrival.IsZero() {
				arrival = now
			}
			deadline, bound, err := requestBound(arrival, d, m.HeaderValue(HeaderDeadline))
			if err != nil {
				return nil, err
			}
			if !bound.IsZero() && !now.Before(bound) {
				return nil, Errorf(ErrDeadline, "%s: the request's deadline %s passed before its handler started (%s after it arrived); nothing was done",
					m.Subject, formatDeadline(deadline), now.Sub(arrival).Round(time.Millisecond))
			}
			inv.bound = bound
			return next.Handle(ctx, m)
		})
	}
}
