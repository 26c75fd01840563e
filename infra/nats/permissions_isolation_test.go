package nats_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// TestNoFunctionForgesAnothersEvents has every function try to publish
// every event of every other function, as JetStream publishes (what a forged
// payments.completed would be), and checks that the server refused each one
// and that the victim's stream holds nothing more on that subject.
func TestNoFunctionForgesAnothersEvents(t *testing.T) {
	ts := startServer(t)
	ctx := ctxT(t)
	admin := newJS(t, ts.connect(t, "admin"))
	for _, cfg := range ownStreams {
		if _, err := admin.CreateOrUpdateStream(ctx, ts.stream(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	for _, attacker := range functionUsers {
		for _, victim := range functionUsers {
			if attacker == victim {
				continue
			}
			for _, subject := range events[victim] {
				t.Run(attacker+" forges "+subject, func(t *testing.T) {
					t.Parallel() // each waits out its publish timeout
					// Its own deadline: the parallel subtests run a few at a
					// time, long after the parent's ten seconds began.
					ctx := ctxT(t)
					stream := ownStreams[victim].Name
					before := subjectCount(ctx, t, admin, stream, subject)
					c := ts.connect(t, attacker)
					pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
					defer cancel()
					_, err := newJS(t, c).Publish(pctx, subject, []byte(`{"forged":true}`), jetstream.WithMsgID(nuid.Next()))
					if err == nil {
						t.Fatalf("%s published %s: the stream acknowledged it", attacker, subject)
					}
					c.waitViolation(t, "publish", subject)
					if after := subjectCount(ctx, t, admin, stream, subject); after != before {
						t.Fatalf("%s holds %d messages on %s, %d before the forgery", stream, after, subject, before)
					}
				})
			}
		}
	}
}

// subjectCount is how many messages stream holds on subject.
func subjectCount(ctx context.Context, t *testing.T, js jetstream.JetStream, stream, subject string) uint64 {
	t.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("open %s: %v", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatalf("info %s: %v", stream, err)
	}
	return info.State.Subjects[subject]
}

// TestNoFunctionReadsAnothersReplies has every function subscribe to the
// shared inbox (_INBOX.>) and to every other function's inbox, then has the
// victim send a request that gets a reply: the victim reads it, the
// attacker's subscriptions were refused and received nothing.
func TestNoFunctionReadsAnothersReplies(t *testing.T) {
	ts := startServer(t)
	for _, attacker := range functionUsers {
		for _, victim := range functionUsers {
			if attacker == victim {
				continue
			}
			t.Run(attacker+" reads "+victim+"'s replies", func(t *testing.T) {
				c := ts.connect(t, attacker)
				var subs []*nats.Subscription
				for _, inbox := range []string{"_INBOX.>", inboxPrefix(victim) + ".>"} {
					sub, err := c.SubscribeSync(inbox)
					if err != nil {
						t.Fatal(err)
					}
					subs = append(subs, sub)
					c.waitViolation(t, "subscription", inbox)
				}
				v := ts.connect(t, victim)
				// JetStream account info: the server replies to the
				// victim's inbox, as it does to every KV read and publish.
				reply, err := v.Request("$JS.API.INFO", nil, 5*time.Second)
				if err != nil {
					t.Fatalf("%s request: %v", victim, err)
				}
				if !strings.Contains(string(reply.Data), "io.nats.jetstream.api.v1.account_info_response") {
					t.Fatalf("%s got %q", victim, reply.Data)
				}
				// The reply has reached the victim, so a copy for the
				// attacker would be in its queue once its own PING returns.
				if err := c.Flush(); err != nil {
					t.Fatal(err)
				}
				for _, sub := range subs {
					m, err := sub.NextMsg(10 * time.Millisecond)
					if !errors.Is(err, nats.ErrTimeout) {
						t.Fatalf("%s read %q on %s (%v)", attacker, msgData(m), sub.Subject, err)
					}
				}
			})
		}
	}
}

func msgData(m *nats.Msg) string {
	if m == nil {
		return ""
	}
	return string(m.Data)
}
