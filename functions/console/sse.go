package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// keepAlive is how often an idle stream sends a comment, so that proxies
// and the browser keep it open.
const keepAlive = 15 * time.Second

// natsState is the "nats" event of a stream: the console's connection.
type natsState struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (c *Console) natsState() natsState {
	s := natsState{Status: strings.ToLower(c.nc.Status().String())}
	if err := c.connected(); err != nil {
		s.Error = err.Error()
	}
	return s
}

// serveEvents streams an order's saga events to a page as Server-Sent
// Events ("order" events, with the Event as data), starting with those
// already seen (after Last-Event-ID when the browser reconnects), and the
// console's NATS connection state ("nats" events) when it changes.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !token.MatchString(id) {
		writeError(w, errorf(http.StatusBadRequest, "%q is not an order id", id))
		return
	}
	rc := http.NewResponseController(w)
	// A stream outlives any write timeout the server has; where the
	// deadline cannot be lifted, the browser reconnects.
	_ = rc.SetWriteDeadline(time.Time{})
	var last int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		last, _ = strconv.ParseInt(v, 10, 64)
	}
	past, wt := c.hub.watch(id)
	defer c.hub.unwatch(id, wt)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, id int64, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if id > 0 {
			fmt.Fprintf(w, "id: %d\n", id)
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	state := c.natsState()
	fmt.Fprint(w, "retry: 1000\n\n")
	if !send("nats", 0, state) {
		return
	}
	for _, ev := range past {
		if ev.Seq > last && !send("order", ev.Seq, ev) {
			return
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	idle := time.Now()
	for {
		select {
		case ev, ok := <-wt.ch:
			if !ok {
				return // dropped for falling behind, or the console closed
			}
			if !send("order", ev.Seq, ev) {
				return
			}
			idle = time.Now()
		case <-tick.C:
			if s := c.natsState(); s != state {
				state = s
				if !send("nats", 0, state) {
					return
				}
				idle = time.Now()
			} else if time.Since(idle) >= keepAlive {
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
				idle = time.Now()
			}
		case <-r.Context().Done():
			return
		case <-c.closed:
			return
		}
	}
}
