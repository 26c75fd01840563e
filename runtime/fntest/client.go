package fntest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Client is a test's side of a Server: a connection and its JetStream,
// with the streams the function under test consumes but does not own
// (those another function would create). A function's test harness can
// embed it:
//
//	type harness struct{ *fntest.Client }
//	h := &harness{fntest.NewClient(t, fntest.NewServer(t), ordersStream)}
//	h.Publish("orders.created", "m-1", ev)
type Client struct {
	// T is the test the client fails.
	T testing.TB
	// Server is the embedded server.
	Server *Server
	// JS and NC are the client's JetStream and core connection.
	JS jetstream.JetStream
	NC *nats.Conn
}

// NewClient connects to s and creates streams.
func NewClient(t testing.TB, s *Server, streams ...jetstream.StreamConfig) *Client {
	t.Helper()
	c := &Client{T: t, Server: s, JS: s.JetStream(t), NC: s.Connect(t)}
	for _, cfg := range streams {
		if _, err := c.JS.CreateStream(context.Background(), cfg); err != nil {
			t.Fatalf("fntest: stream %s: %v", cfg.Name, err)
		}
	}
	return c
}

// Publish stores v on subject as another function's Emit would (see the
// package function Publish).
func (c *Client) Publish(subject, msgID string, v any) {
	c.T.Helper()
	Publish(c.T, c.JS, subject, msgID, v)
}

// Settled waits until a durable consumer has acknowledged every message
// published so far on its subject (see the package function Settled).
func (c *Client) Settled(stream, consumer string) {
	c.T.Helper()
	Settled(c.T, c.JS, stream, consumer)
}
