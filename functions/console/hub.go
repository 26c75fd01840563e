package console

import (
	"container/list"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Bounds of what the hub remembers: an order's events are kept so that a
// page that starts watching after they happened (orders.created arrives
// before orders.create has replied) still sees them.
const (
	maxOrders         = 1000
	maxEventsPerOrder = 64
	watcherBuffer     = 64
)

// hub fans the saga events out to the pages watching an order and
// remembers the recent ones. Events arrive on the NATS subscriptions'
// goroutines; pages watch from HTTP handler goroutines.
type hub struct {
	mu       sync.Mutex
	seq      int64
	orders   map[string]*orderLog
	lru      *list.List // of order ids, the most recently touched at the front
	watchers map[string]map[*watcher]struct{}
	// emitters records which function (ce-source) was seen publishing
	// which subject: the topology's observed emissions.
	emitters map[string]map[string]struct{}
	// started remembers the trace each order placed by this console began.
	started map[string]placed
}

// placed is what the console knows of an order it placed itself.
type placed struct {
	traceID, correlationID string
}

type orderLog struct {
	events []event
	elem   *list.Element
}

// watcher is one page's live view of an order. Its channel is closed when
// it falls too far behind; the page's EventSource then reconnects and the
// replay catches it up.
type watcher struct {
	ch chan event
}

func newHub() *hub {
	return &hub{
		orders:   map[string]*orderLog{},
		lru:      list.New(),
		watchers: map[string]map[*watcher]struct{}{},
		emitters: map[string]map[string]struct{}{},
		started:  map[string]placed{},
	}
}

// receive is the NATS message handler of every event subscription.
func (h *hub) receive(msg *nats.Msg) { h.add(eventOf(msg, time.Now())) }

func (h *hub) add(ev event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	ev.Seq = h.seq
	if ev.Source != "" {
		if h.emitters[ev.Subject] == nil {
			h.emitters[ev.Subject] = map[string]struct{}{}
		}
		h.emitters[ev.Subject][ev.Source] = struct{}{}
	}
	if ev.OrderID == "" {
		return
	}
	log := h.touch(ev.OrderID)
	if len(log.events) < maxEventsPerOrder {
		log.events = append(log.events, ev)
	}
	for w := range h.watchers[ev.OrderID] {
		select {
		case w.ch <- ev:
		default:
			close(w.ch)
			delete(h.watchers[ev.OrderID], w)
		}
	}
}

// touch returns the order's log, making it the most recent and forgetting
// the oldest order beyond maxOrders. Called with mu held.
func (h *hub) touch(id string) *orderLog {
	log, ok := h.orders[id]
	if ok {
		h.lru.MoveToFront(log.elem)
		return log
	}
	log = &orderLog{elem: h.lru.PushFront(id)}
	h.orders[id] = log
	for h.lru.Len() > maxOrders {
		old := h.lru.Remove(h.lru.Back()).(string)
		delete(h.orders, old)
		delete(h.started, old)
	}
	return log
}

// watch returns the events of an order seen so far and a watcher for the
// next ones, atomically, so that none falls between the two.
func (h *hub) watch(id string) ([]event, *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := &watcher{ch: make(chan event, watcherBuffer)}
	if h.watchers[id] == nil {
		h.watchers[id] = map[*watcher]struct{}{}
	}
	h.watchers[id][w] = struct{}{}
	var past []event
	if log, ok := h.orders[id]; ok {
		past = append(past, log.events...)
	}
	return past, w
}

// unwatch forgets a watcher; it may have been dropped already.
func (h *hub) unwatch(id string, w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.watchers[id][w]; ok {
		delete(h.watchers[id], w)
		close(w.ch)
	}
	if len(h.watchers[id]) == 0 {
		delete(h.watchers, id)
	}
}

// events returns the events seen for an order, oldest first.
func (h *hub) events(id string) []event {
	h.mu.Lock()
	defer h.mu.Unlock()
	if log, ok := h.orders[id]; ok {
		return append([]event(nil), log.events...)
	}
	return nil
}

// place records the trace and correlation ids of an order the console
// placed.
func (h *hub) place(id string, p placed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.touch(id)
	h.started[id] = p
}

func (h *hub) placedOrder(id string) (placed, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.started[id]
	return p, ok
}

// observedEmitters returns, per subject, the functions seen emitting it.
func (h *hub) observedEmitters() map[string][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]string{}
	for subject, fns := range h.emitters {
		for fn := range fns {
			out[subject] = append(out[subject], fn)
		}
	}
	return out
}

// closeAll ends every watcher, so that the pages' streams end.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, ws := range h.watchers {
		for w := range ws {
			close(w.ch)
		}
		delete(h.watchers, id)
	}
}
