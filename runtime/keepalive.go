package runtime

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// holding keeps an event handler's messages from being redelivered while
// the instance works on them: every message taken and not yet settled (its
// handler running, or its emits awaiting their PubAcks) is told InProgress
// once it has been held for half the AckWait. One ticker per handler walks
// the messages held, which is cheaper than a timer per message (a timer
// cost two allocations and the runtime's timer heap on every message).
type holding struct {
	every time.Duration // half the AckWait

	mu   sync.Mutex
	head *invocation // a doubly linked list through invocation.prevHeld/nextHeld
	quit chan struct{}
	wg   sync.WaitGroup
}

func newHolding(ackWait time.Duration) *holding {
	h := &holding{every: ackWait / 2, quit: make(chan struct{})}
	h.wg.Add(1)
	go h.loop()
	return h
}

// hold starts holding inv's message.
func (h *holding) hold(inv *invocation, msg jetstream.Msg, now time.Time) {
	h.mu.Lock()
	inv.held, inv.heldSince = msg, now
	inv.nextHeld = h.head
	if h.head != nil {
		h.head.prevHeld = inv
	}
	h.head = inv
	h.mu.Unlock()
}

// release stops holding inv's message: it is settled.
func (h *holding) release(inv *invocation) {
	h.mu.Lock()
	if inv.prevHeld != nil {
		inv.prevHeld.nextHeld = inv.nextHeld
	} else if h.head == inv {
		h.head = inv.nextHeld
	}
	if inv.nextHeld != nil {
		inv.nextHeld.prevHeld = inv.prevHeld
	}
	inv.prevHeld, inv.nextHeld, inv.held = nil, nil, nil
	h.mu.Unlock()
}

// loop sends InProgress, every quarter AckWait, for the messages held
// longer than half of it.
func (h *holding) loop() {
	defer h.wg.Done()
	t := time.NewTicker(max(h.every/2, 10*time.Millisecond))
	defer t.Stop()
	var due []jetstream.Msg
	for {
		select {
		case <-h.quit:
			return
		case now := <-t.C:
			due = due[:0]
			h.mu.Lock()
			for inv := h.head; inv != nil; inv = inv.nextHeld {
				if now.Sub(inv.heldSince) >= h.every {
					inv.heldSince = now
					due = append(due, inv.held)
				}
			}
			h.mu.Unlock()
			for _, msg := range due {
				_ = msg.InProgress()
			}
		}
	}
}

// stop ends the loop; call it once nothing is held.
func (h *holding) stop() {
	close(h.quit)
	h.wg.Wait()
}
