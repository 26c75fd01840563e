package console

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// quietPeriod ends a gather once no instance has answered for this long.
// natscli's `nats micro` waits 300ms; the console asks again every few
// seconds, so a new instance that answers late shows at the next refresh.
const quietPeriod = 200 * time.Millisecond

// knownWait is how long a gather waits for as many answers as the last one
// had before the quiet period may end it. On a loaded machine an instance
// answered discovery more than quietPeriod after the others: a refresh of
// the page then left its function out, with its dead letters and their
// Replay buttons, until the next one (a CI run of TestBrowser at load
// average 13 found no Replay button it had seen a moment before). An
// instance that stopped costs one refresh this wait; the next expects one
// fewer.
const knownWait = 2 * time.Second

// answer is one reply to a gathered request and how long it took.
type answer struct {
	data []byte
	rtt  time.Duration
}

// gather publishes one request that many may answer (micro discovery) and
// collects the replies: until want have come (want > 0), or until nobody
// answered for quietPeriod after the first and at least expect have, or
// knownWait passed (want == 0), and never past ctx's deadline. No reply at all is nats.ErrNoResponders when the server
// says nobody listens, else nothing.
func gather(ctx context.Context, nc *nats.Conn, subject string, want, expect int) ([]answer, error) {
	var (
		mu      sync.Mutex
		replies []answer
		noResp  bool
		done    = make(chan struct{})
		once    sync.Once
	)
	finish := func() { once.Do(func() { close(done) }) }
	quiet := time.NewTimer(time.Hour)
	defer quiet.Stop()
	start := time.Now()
	sub, err := nc.Subscribe(nc.NewInbox(), func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			noResp = true
			finish()
			return
		}
		replies = append(replies, answer{data: m.Data, rtt: time.Since(start)})
		if want > 0 && len(replies) >= want {
			finish()
		} else if want == 0 {
			quiet.Reset(quietPeriod)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: subscribe for replies: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	msg := nats.NewMsg(subject)
	msg.Reply = sub.Subject
	if err := nc.PublishMsg(msg); err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-quiet.C:
			mu.Lock()
			n := len(replies)
			mu.Unlock()
			left := knownWait - time.Since(start)
			if n >= expect || left <= 0 {
				break wait
			}
			quiet.Reset(left)
		case <-ctx.Done():
			break wait
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if noResp && len(replies) == 0 {
		return nil, fmt.Errorf("%s: %w", subject, nats.ErrNoResponders)
	}
	out := append([]answer(nil), replies...)
	if len(out) == 0 && ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return nil, fmt.Errorf("%s: no answer: %w", subject, ctx.Err())
	}
	return out, nil
}
