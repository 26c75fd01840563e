package containers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
)

// leastPrivilege checks the accounts of infra/nats on the running cluster
// s: the payments user may not publish an orders.created event (the server
// refuses it and ORDERS stores nothing), and a client without a user is
// refused at connect.
func leastPrivilege(t *testing.T, s *stack) {
	url, err := s.nodes[0].clientURL(s.ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("payments may not publish orders.created", func(t *testing.T) {
		before := s.admin.subjectCount(contracts.StreamOrders, contracts.SubjectOrdersCreated)
		asyncErrs := make(chan error, 16)
		nc, err := nats.Connect(url, nats.UserInfo("payments", "payments-demo-password"),
			nats.IgnoreDiscoveredServers(),
			// The payments user may read only its own replies.
			nats.CustomInboxPrefix("_INBOX_payments"),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				select {
				case asyncErrs <- err:
				default:
				}
			}))
		if err != nil {
			t.Fatalf("connect as payments: %v", err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		body := []byte(`{"order_id":"forged","customer_id":"c-x","items":[{"product_id":"sku-a","quantity":1}]}`)
		if ack, err := js.Publish(ctx, contracts.SubjectOrdersCreated, body); err == nil {
			t.Fatalf("payments published orders.created: stored as %s #%d", ack.Stream, ack.Sequence)
		}
		select {
		case err := <-asyncErrs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), contracts.SubjectOrdersCreated) {
				t.Fatalf("server said %v, want a publish permissions violation on %s", err, contracts.SubjectOrdersCreated)
			}
			t.Logf("server: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("no permissions violation reported for the publish")
		}
		if after := s.admin.subjectCount(contracts.StreamOrders, contracts.SubjectOrdersCreated); after != before {
			t.Fatalf("ORDERS holds %d orders.created messages, was %d", after, before)
		}
	})

	t.Run("anonymous client refused", func(t *testing.T) {
		nc, err := nats.Connect(url, nats.IgnoreDiscoveredServers())
		if err == nil {
			nc.Close()
			t.Fatal("a client without a user connected")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("connect without a user: %v, want an authorization violation", err)
		}
	})
}

// subjectCount returns how many messages a stream holds on a subject.
func (f *flow) subjectCount(stream, subject string) uint64 {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := f.js.Stream(ctx, stream)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		f.t.Fatal(err)
	}
	return info.State.Subjects[subject]
}
