package kv

import (
	"context"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
)

// replies receives the answers of requests that get several, such as a
// multi-key direct get: one subscription on <inbox>.*, made on first use,
// and a channel per request in flight. nats.go's own response
// subscription hands a request its first reply only, and a subscription
// per request cost 11% of the CPU of a three-key transaction (SUB and
// UNSUB each time, and their interest spread through a cluster).
type replies struct {
	nc     *nats.Conn
	once   sync.Once
	err    error
	prefix string // "<inbox>."

	mu    sync.Mutex
	next  uint64
	waits map[string]chan *nats.Msg
}

// open returns a reply subject and the channel its replies arrive on, room
// for max of them; done forgets it.
func (r *replies) open(max int) (subject string, ch <-chan *nats.Msg, done func(), err error) {
	r.once.Do(func() {
		r.prefix = r.nc.NewInbox() + "."
		r.waits = map[string]chan *nats.Msg{}
		_, r.err = r.nc.Subscribe(r.prefix+"*", r.deliver)
	})
	if r.err != nil {
		return "", nil, nil, r.err
	}
	c := make(chan *nats.Msg, max)
	r.mu.Lock()
	r.next++
	token := strconv.FormatUint(r.next, 36)
	r.waits[token] = c
	r.mu.Unlock()
	done = func() {
		r.mu.Lock()
		delete(r.waits, token)
		r.mu.Unlock()
	}
	return r.prefix + token, c, done, nil
}

// deliver hands a reply to its request; a reply beyond the room asked for,
// or for a request gone, is dropped.
func (r *replies) deliver(m *nats.Msg) {
	token := m.Subject[len(r.prefix):]
	r.mu.Lock()
	c := r.waits[token]
	r.mu.Unlock()
	if c == nil {
		return
	}
	select {
	case c <- m:
	default:
	}
}

// next waits for the next reply on ch.
func nextReply(ctx context.Context, ch <-chan *nats.Msg) (*nats.Msg, error) {
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
