package containers

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/natsfn/natsfn/contracts"
)

// TestPartitionedFunction freezes one inventory container until it holds
// events it has not acked, then cuts it off the network while orders flow,
// for longer than the reserve handler's AckWait. The
// orders.created events it had taken and never acked are redelivered to
// the other instance: every order placed during the partition ends
// confirmed before the partition heals. Then it is reconnected; it serves
// again, and nothing was reserved or charged twice.
//
// The functions run with NATSFN_ACK_WAIT=10s (suiteAckWait); the test
// reads the consumer's AckWait from the server and checks it is that.
//
// Why inventory: cutting orders off would also cut off orders.create,
// whose requests the server keeps routing to the lost instance until it
// notices the connection is dead (server ping_interval, 2m by default);
// inventory's endpoints are not on the order path, so cutting inventory
// off isolates what this test is about: redelivery of unacked events.
func TestPartitionedFunction(t *testing.T) {
	s := newStack(t, 2)
	f := s.admin
	const initial = 1000
	f.setStock("sku-load", initial, 250)
	ackWait := f.ackWait(contracts.StreamOrders, "inventory-reserve")
	if ackWait != suiteAckWait {
		t.Fatalf("inventory-reserve AckWait %s, want NATSFN_ACK_WAIT's %s", ackWait, suiteAckWait)
	}

	l := f.startLoad(10, "sku-load", 1)
	l.waitCount(20, 30*time.Second)
	// Cut off the instance that is taking the orders: the server hands new
	// messages to the pull request that is waiting, and at this rate one
	// instance's pull takes them all, so the other may hold nothing.
	victim, other := s.fns["inventory"][0], s.fns["inventory"][1]
	stats, err := f.instanceStats("inventory", 2)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := eventFigures(stats[victim.instance], "reserve")
	second, _ := eventFigures(stats[other.instance], "reserve")
	if second.Delivered > first.Delivered {
		victim, other = other, victim
	}
	// Freeze it first, so that it holds events it was handed and has not
	// acked when the cut comes (at this rate an instance that is only
	// cut may hold none at that instant, and then nothing is redelivered:
	// a run failed so). The server goes on filling the frozen instance's
	// open pull; the other instance acks what it gets at once. That pull
	// expires every AckWait/2 and a frozen instance cannot pull again, so
	// one frozen just as its pull ends holds nothing; a CI run saw 0
	// pending for 10 s, which that would explain. Then it is thawed and
	// frozen again.
	holding := func() error {
		held := 0
		deadline := time.Now().Add(5 * time.Second)
		for {
			// Three checks in a row, so that it is not the other
			// instance's event of the moment.
			if n := f.ackPending(contracts.StreamOrders, "inventory-reserve"); n < 2 {
				held = 0
				if time.Now().After(deadline) {
					return errorf("%d events delivered and not acked", n)
				}
			} else if held++; held == 3 {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for attempt := 1; ; attempt++ {
		s.pause(victim)
		err := holding()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("%s frozen three times, holding no events within 5 s each time: %v", victim.instance, err)
		}
		t.Logf("%s frozen holding no events (%v); thawed to freeze it again", victim.instance, err)
		s.unpause(victim)
		time.Sleep(time.Second)
	}
	s.disconnect(victim)
	s.unpause(victim)
	cut := time.Now()
	mark := l.count()
	t.Logf("%s cut off after %d orders", victim.instance, mark)
	l.waitCount(mark+80, 30*time.Second)
	acked, failed := l.stop()
	if len(failed) > 0 {
		t.Errorf("%d creates failed (first: %v)", len(failed), failed[0])
	}

	// Everything settles while the partition lasts: what the lost
	// instance held came back to the other one after AckWait.
	views := f.settleAll(acked, ackWait+45*time.Second)
	t.Logf("%d orders final %s after the cut; outcomes %v", len(views), time.Since(cut).Round(time.Millisecond), outcomes(views))
	for id, v := range views {
		if v.Status != contracts.StatusConfirmed {
			t.Errorf("order %s: %s/%s, want confirmed: %+v", id, v.Status, v.Reason, v.Timeline)
		}
	}
	stats, err = f.instanceStats("inventory", 1)
	if err != nil {
		t.Fatal(err)
	}
	reserve, _ := eventFigures(stats[other.instance], "reserve")
	t.Logf("inventory reserve on %s: %d delivered, %d of them redelivered, %d acked", other.instance, reserve.Delivered, reserve.Redelivered, reserve.Acked)
	if reserve.Redelivered == 0 {
		t.Errorf("%s got no redelivered orders.created: the cut instance held nothing", other.instance)
	}
	f.audit("sku-load", initial, views)

	// Heal the partition, longer than AckWait after the cut: the orders
	// may all be final a little before (the redeliveries came at AckWait,
	// measured by the server from each delivery), then it lasts that long.
	if wait := ackWait - time.Since(cut); wait > 0 {
		t.Logf("every order final %s before AckWait since the cut; the partition lasts until then", wait.Round(time.Millisecond))
		time.Sleep(wait + time.Second)
	}
	s.reconnect(victim)
	healed := time.Now()
	t.Logf("partition healed after %s; the test client retried %d requests meanwhile", healed.Sub(cut).Round(time.Millisecond), f.retries.Load())
	waitFor(t, 60*time.Second, 250*time.Millisecond, victim.instance+" ready after the partition", func() error {
		return victim.ready(s.ctx)
	})
	t.Logf("%s ready %s after the partition healed", victim.instance, time.Since(healed).Round(time.Millisecond))

	// The flow still works, and the books still balance.
	more := []string{}
	for range 10 {
		more = append(more, f.place("c-after", item("sku-load", 1)))
	}
	all := f.settleAll(append(acked, more...), 60*time.Second)
	for _, id := range more {
		if v := all[id]; v.Status != contracts.StatusConfirmed {
			t.Errorf("order %s after the partition: %+v", id, v)
		}
	}
	f.audit("sku-load", initial, all)
}

// pause freezes a container's processes (docker pause).
func (s *stack) pause(f *function) {
	s.t.Helper()
	if _, err := s.docker.ContainerPause(s.ctx, f.c.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		s.t.Fatalf("pause %s: %v", f.instance, err)
	}
}

// unpause thaws a container paused by pause.
func (s *stack) unpause(f *function) {
	s.t.Helper()
	if _, err := s.docker.ContainerUnpause(s.ctx, f.c.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		s.t.Fatalf("unpause %s: %v", f.instance, err)
	}
}

// ackPending is how many messages a durable consumer has delivered and
// not had acked.
func (f *flow) ackPending(stream, consumer string) int {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := f.js.Consumer(ctx, stream, consumer)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return info.NumAckPending
}

// disconnect cuts a function container off the test's network.
func (s *stack) disconnect(f *function) {
	s.t.Helper()
	if _, err := s.docker.NetworkDisconnect(s.ctx, s.net.ID, client.NetworkDisconnectOptions{Container: f.c.GetContainerID(), Force: true}); err != nil {
		s.t.Fatalf("disconnect %s: %v", f.instance, err)
	}
}

// reconnect puts a function container back on the test's network under
// its alias.
func (s *stack) reconnect(f *function) {
	s.t.Helper()
	if _, err := s.docker.NetworkConnect(s.ctx, s.net.ID, client.NetworkConnectOptions{
		Container:      f.c.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: []string{f.instance}},
	}); err != nil {
		s.t.Fatalf("reconnect %s: %v", f.instance, err)
	}
}

// ackWait reads a durable consumer's AckWait from the server.
func (f *flow) ackWait(stream, consumer string) time.Duration {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := f.js.Consumer(ctx, stream, consumer)
	if err != nil {
		f.t.Fatalf("consumer %s: %v", consumer, err)
	}
	return c.CachedInfo().Config.AckWait
}
