package console

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// InboxPrefix is the inbox prefix a console's connection must use
// (nats.CustomInboxPrefix(InboxPrefix)): the console user may subscribe to
// its own replies only, not to every client's `_INBOX.>`.
const InboxPrefix = "_INBOX_console"

// Config tunes a console. The zero value is ready to use.
type Config struct {
	// Timeout bounds every NATS request and discovery round a page asks
	// for; 5s by default.
	Timeout time.Duration
	// Products are offered in the order form; the demo catalog's by default.
	Products []string
}

// Console serves the web console over one NATS connection. It is an
// http.Handler: serve it at the root of a listener, or under a prefix with
// http.StripPrefix (its links are relative).
type Console struct {
	nc     *nats.Conn
	cfg    Config
	hub    *hub
	subs   []*nats.Subscription
	mux    http.Handler
	closed chan struct{}
	once   sync.Once
	// instances is how many instances answered the last discovery, which
	// the next one waits for (knownWait).
	instances atomic.Int64
}

// New starts a console on nc, which should use InboxPrefix, and subscribes
// to the saga's event subjects (core NATS, no JetStream). The connection
// stays the caller's: Close does not close it.
func New(nc *nats.Conn, cfg Config) (*Console, error) {
	if nc == nil {
		return nil, errors.New("console: no NATS connection")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if len(cfg.Products) == 0 {
		cfg.Products = []string{"sku-1", "sku-2", "sku-3", "sku-rare"}
	}
	c := &Console{nc: nc, cfg: cfg, hub: newHub(), closed: make(chan struct{})}
	// One channel for every subject, read by one goroutine: the
	// connection's reader fills it in the order the server sent the
	// events, which is causal (orders.confirmed after the
	// payments.completed it follows). A subscription each, with its own
	// goroutine, showed them out of order on a loaded machine.
	events := make(chan *nats.Msg, eventBuffer)
	go c.receive(events)
	for _, subject := range eventSubjects() {
		sub, err := nc.ChanSubscribe(subject, events)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("console: subscribe %s: %w", subject, err)
		}
		c.subs = append(c.subs, sub)
	}
	// While NATS is down the subscriptions wait in the reconnect buffer;
	// once up, flush so that the next order's events are not missed.
	if nc.IsConnected() {
		if err := nc.FlushTimeout(cfg.Timeout); err != nil {
			c.Close()
			return nil, fmt.Errorf("console: subscribe to the events: %w", err)
		}
	}
	c.mux = c.routes()
	return c, nil
}

// eventBuffer is how many events may wait for the hub; beyond it the
// connection drops them as a slow consumer would.
const eventBuffer = 8192

// receive hands the events to the hub, in order, until Close.
func (c *Console) receive(events <-chan *nats.Msg) {
	for {
		select {
		case msg := <-events:
			c.hub.receive(msg)
		case <-c.closed:
			return
		}
	}
}

// ServeHTTP serves the page, its fragments, the JSON API and the live
// event streams.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Close unsubscribes and ends the pages' live streams, so that an
// http.Server's Shutdown does not wait for them. It may be called more
// than once.
func (c *Console) Close() {
	c.once.Do(func() {
		close(c.closed)
		for _, s := range c.subs {
			_ = s.Unsubscribe()
		}
		c.hub.closeAll()
	})
}
