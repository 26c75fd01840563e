package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

// flow is a client of the order flow from the host, connected to every
// node of the cluster through its mapped client port.
type flow struct {
	t  testing.TB
	nc *nats.Conn
	js jetstream.JetStream
	// retries counts requests sent again after a retryable failure.
	retries atomic.Int64
}

// connect opens a client connection as user to all three nodes and waits
// until JetStream answers. It is closed when the test ends.
func (s *stack) connect(user, password string) *flow {
	s.t.Helper()
	var urls []string
	for _, n := range s.nodes {
		u, err := n.clientURL(s.ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		urls = append(urls, u)
	}
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Name("tests/containers"),
		nats.UserInfo(user, password),
		// The cluster gossips its nodes' in-network names (nats-1:4222...),
		// which the host cannot resolve.
		nats.IgnoreDiscoveredServers(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.PingInterval(2*time.Second),
	)
	if err != nil {
		s.t.Fatalf("connect as %s to %v: %v", user, urls, err)
	}
	s.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	f := &flow{t: s.t, nc: nc, js: js}
	waitFor(s.t, 30*time.Second, 100*time.Millisecond, "JetStream answers", func() error {
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	return f
}

// serviceError is a micro error reply.
type serviceError struct {
	code int
	desc string
}

func (e *serviceError) Error() string { return fmt.Sprintf("%d %s", e.code, e.desc) }

// retryable reports whether repeating a request may succeed: no reply in
// time, nobody listening yet, or a 503 from a function whose dependency is
// failing over.
func retryable(err error) bool {
	var se *serviceError
	if errors.As(err, &se) {
		return se.code == 503
	}
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionReconnecting)
}

// try sends v as JSON to subject and decodes the reply into out. It repeats
// a retryable failure until within passes, so it is only for requests that
// are safe to repeat: reads, stock.set, gateway.set, and creates that carry
// an Idempotency-Key (in headers, as key, value pairs).
func (f *flow) try(within time.Duration, subject string, v, out any, headers ...string) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for {
		err = f.once(subject, body, out, headers...)
		if err == nil || !retryable(err) || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: %w", subject, err)
			}
			return nil
		}
		f.retries.Add(1)
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *flow) once(subject string, body []byte, out any, headers ...string) error {
	msg := nats.NewMsg(subject)
	msg.Data = body
	for i := 0; i+1 < len(headers); i += 2 {
		msg.Header.Set(headers[i], headers[i+1])
	}
	m, err := f.nc.RequestMsg(msg, 2*time.Second)
	if err != nil {
		return err
	}
	if c := m.Header.Get(micro.ErrorCodeHeader); c != "" {
		code, _ := strconv.Atoi(c)
		return &serviceError{code: code, desc: m.Header.Get(micro.ErrorHeader)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(m.Data, out); err != nil {
		return fmt.Errorf("reply %q: %w", m.Data, err)
	}
	return nil
}

// call is try that fails the test.
func (f *flow) call(subject string, v, out any) {
	f.t.Helper()
	if err := f.try(30*time.Second, subject, v, out); err != nil {
		f.t.Fatal(err)
	}
}
