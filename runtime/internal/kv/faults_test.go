package kv_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// TestServerChecksOrder pins down the server behaviour the engine's
// retries are built on (nats-server v2.15.2 and v2.15.3): the retry of a landed
// conditional write, same Nats-Msg-Id and expected revision, is answered
// "wrong last sequence" by a single-replica stream and "duplicate" by a
// replicated one, while an atomic batch answers 10201 on both.
func TestServerChecksOrder(t *testing.T) {
	check := func(t *testing.T, js jetstream.JetStream, replicas int) (plain error, dup bool, batch error) {
		ctx := bg(t)
		open[item](t, js, kv.Config{Bucket: "order", Replicas: replicas})
		msg := func() *nats.Msg {
			m := nats.NewMsg("$KV.order.k")
			m.Data = []byte(`{"n":1}`)
			m.Header.Set(nats.MsgIdHdr, "write-1")
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			return m
		}
		if _, err := js.PublishMsg(ctx, msg()); err != nil {
			t.Fatal(err)
		}
		ack, plain := js.PublishMsg(ctx, msg())
		_, batch = jetstreamext.PublishMsgBatch(ctx, js, []*nats.Msg{msg()})
		return plain, ack != nil && ack.Duplicate, batch
	}
	code := func(err error) jetstream.ErrorCode {
		var api *jetstream.APIError
		if errors.As(err, &api) {
			return api.ErrorCode
		}
		return 0
	}
	t.Run("R1", func(t *testing.T) {
		plain, _, batch := check(t, connect(t, newSingle(t).url(), nil), 1)
		if code(plain) != 10071 {
			t.Errorf("plain retry on R1: %v, want 10071 wrong last sequence", plain)
		}
		if code(batch) != 10201 {
			t.Errorf("batch retry on R1: %v, want 10201", batch)
		}
	})
	t.Run("R3", func(t *testing.T) {
		plain, dup, batch := check(t, connect(t, fntest.NewCluster(t, nil).URLs(), nil), 3)
		if plain != nil || !dup {
			t.Errorf("plain retry on R3: duplicate=%v, %v; want a duplicate ack", dup, plain)
		}
		if code(batch) != 10201 {
			t.Errorf("batch retry on R3: %v, want 10201", batch)
		}
	})
}

// TestLostAckIsAppliedOnce cuts the connection right after a write is sent:
// the server stores it, the answer is lost, and the write's retry must
// neither apply it again nor report a lost race.
func TestLostAckIsAppliedOnce(t *testing.T) {
	t.Run("R1", func(t *testing.T) { lostAck(t, newSingle(t).url(), 1) })
	t.Run("R3", func(t *testing.T) { lostAck(t, fntest.NewCluster(t, nil).URLs(), 3) })
}

func lostAck(t *testing.T, urls string, replicas int) {
	cut := &cutter{}
	js := connect(t, urls, cut)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "lost", History: 20, Replicas: replicas})
	if _, err := b.Create(ctx, "k", item{N: 1}); err != nil {
		t.Fatal(err)
	}

	t.Run("Modify", func(t *testing.T) {
		cut.arm("HPUB $KV.lost.k ")
		calls := 0
		v, rev, err := b.Modify(ctx, "k", func(v *item, _ bool) error { calls++; v.N++; return nil })
		if err != nil {
			t.Fatalf("Modify after a lost answer: %v", err)
		}
		if cut.count() != 1 {
			t.Fatalf("the connection was cut %d times, want 1", cut.count())
		}
		h := history(t, js, "lost", "k")
		if len(h) != 2 || calls != 1 || v.N != 2 {
			t.Fatalf("%d revisions, fn called %d times, n=%d; want 2, 1, 2", len(h), calls, v.N)
		}
		if rev != h[1].Revision() {
			t.Errorf("Modify returned revision %d, the write is at %d", rev, h[1].Revision())
		}
	})

	t.Run("Transact", func(t *testing.T) {
		if _, err := b.Create(ctx, "other", item{N: 10}); err != nil {
			t.Fatal(err)
		}
		cut.arm(jetstreamext.BatchCommitHeader)
		calls := 0
		err := b.Transact(ctx, func(tx *kv.Tx[item]) error {
			calls++
			if err := tx.Load(ctx, "k", "other"); err != nil {
				return err
			}
			k, _, _ := tx.Get(ctx, "k")
			o, _, _ := tx.Get(ctx, "other")
			return errors.Join(tx.Put("k", item{N: k.N + 1}), tx.Put("other", item{N: o.N - 1}))
		})
		if err != nil {
			t.Fatalf("Transact after a lost answer: %v", err)
		}
		if cut.count() != 2 {
			t.Fatalf("the connection was cut %d times in all, want 2", cut.count())
		}
		// From the leader: two direct gets may be answered by two replicas,
		// one of them a moment behind.
		k, _, _ := b.GetLatest(ctx, "k")
		o, _, _ := b.GetLatest(ctx, "other")
		// Applied once. On three replicas the function may run a second
		// time: the retry's reads can come from a replica that has not yet
		// applied the lost commit, and that attempt then loses on its
		// revisions (its batch's message ids are the first's, so it cannot
		// apply twice) and runs again on what the leader has.
		maxCalls := 1
		if replicas > 1 {
			maxCalls = 2
		}
		if calls < 1 || calls > maxCalls || k.N != 3 || o.N != 9 {
			t.Fatalf("fn called %d times, k=%d other=%d; want once (twice on R3), 3, 9", calls, k.N, o.N)
		}
		if h := history(t, js, "lost", "other"); len(h) != 2 {
			t.Errorf("other has %d revisions, want 2", len(h))
		}
	})
}

// TestWriteRidesOutARestart: the server is down for longer than one
// attempt's bound; writes made meanwhile succeed once it is back, within
// their deadline, and are applied once.
func TestWriteRidesOutARestart(t *testing.T) {
	s := newSingle(t)
	js := connect(t, s.url(), nil)
	b := open[item](t, js, kv.Config{Bucket: "restart", History: 10})
	ctx := bg(t)
	rev, err := b.Create(ctx, "k", item{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx, "a", item{N: 5}); err != nil {
		t.Fatal(err)
	}
	s.stop()
	back := make(chan struct{})
	go func() {
		defer close(back)
		time.Sleep(3 * time.Second) // more than an attempt's 2 s
		s.start()
	}()
	wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	nrev, err := b.Update(wctx, "k", item{N: 2}, rev)
	if err != nil {
		t.Fatalf("Update across the restart: %v", err)
	}
	t.Logf("the update took %v across a 3 s outage", time.Since(start).Round(time.Millisecond))
	<-back
	var calls atomic.Int32
	err = b.Transact(wctx, func(tx *kv.Tx[item]) error {
		calls.Add(1)
		if err := tx.Load(wctx, "k", "a"); err != nil {
			return err
		}
		return errors.Join(tx.Put("k", item{N: 3}), tx.Put("a", item{N: 4}))
	})
	if err != nil {
		t.Fatal(err)
	}
	h := history(t, js, "restart", "k")
	if len(h) != 3 || h[1].Revision() != nrev {
		t.Fatalf("k has %d revisions (the update at %d); want 3 with the update second", len(h), nrev)
	}
}

// TestDeadlineEndsRetries: with the server gone, a write gives up at its
// deadline and starts no attempt after it.
func TestDeadlineEndsRetries(t *testing.T) {
	s := newSingle(t)
	js := connect(t, s.url(), nil)
	b := open[item](t, js, kv.Config{Bucket: "gone"})
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Create(ctx, "k", item{N: 1})
	if err == nil {
		t.Fatal("a write succeeded with no server")
	}
	if errors.Is(err, kv.ErrConflict) {
		t.Fatalf("an outage reported as a conflict: %v", err)
	}
	if d := time.Since(start); d > 1700*time.Millisecond {
		t.Errorf("the write returned %v after it started, past its 1.5 s deadline", d)
	}
}

// TestUncommittedBatchIsNeverVisible stages part of a batch and then loses
// it, by closing the connection or by stopping the server, and restarts
// the server on the same store: nothing of the batch shows, and the keys'
// revisions still hold for the next transaction.
func TestUncommittedBatchIsNeverVisible(t *testing.T) {
	for _, how := range []string{"connection closed", "server stopped"} {
		t.Run(how, func(t *testing.T) {
			s := newSingle(t)
			js := connect(t, s.url(), nil)
			b := open[item](t, js, kv.Config{Bucket: "crash"})
			ctx := bg(t)
			revs := map[string]uint64{}
			for _, k := range []string{"a", "b", "c"} {
				rev, err := b.Create(ctx, k, item{N: 1})
				if err != nil {
					t.Fatal(err)
				}
				revs[k] = rev
			}

			nc, err := nats.Connect(s.url())
			if err != nil {
				t.Fatal(err)
			}
			pjs, _ := jetstream.New(nc)
			batch, err := jetstreamext.NewBatchPublisher(pjs)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"a", "b"} { // c and the commit never come
				m := nats.NewMsg("$KV.crash." + k)
				m.Data = []byte(`{"n":99}`)
				m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(revs[k], 10))
				if err := batch.AddMsg(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			unchanged := func(when string) {
				t.Helper()
				for k, rev := range revs {
					v, got, err := b.GetLatest(ctx, k)
					if err != nil || v.N != 1 || got != rev {
						t.Errorf("%s: %s = %+v at %d, %v; want n=1 at %d", when, k, v, got, err, rev)
					}
				}
			}
			unchanged("staged")
			if how == "connection closed" {
				nc.Close()
				unchanged("the publisher gone")
			}
			s.stop()
			s.start()
			nc.Close()
			unchanged("after a restart")
			err = b.Transact(ctx, func(tx *kv.Tx[item]) error {
				if err := tx.Load(ctx, "a", "b", "c"); err != nil {
					return err
				}
				return errors.Join(tx.Put("a", item{N: 2}), tx.Put("b", item{N: 2}), tx.Put("c", item{N: 2}))
			})
			if err != nil {
				t.Fatalf("a transaction after the lost batch: %v", err)
			}
		})
	}
}
