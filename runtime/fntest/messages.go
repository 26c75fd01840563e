package fntest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
)

// Publish stores v as JSON on subject, with the Nats-Msg-Id msgID and the
// correlation id "corr-<msgID>", as another function's Emit would: the way
// to trigger an event handler in a test.
func Publish(t testing.TB, js jetstream.JetStream, subject, msgID string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("fntest: encode %s: %v", subject, err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, msgID)
	msg.Header.Set(runtime.HeaderCorrelationID, "corr-"+msgID)
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatalf("fntest: publish %s: %v", subject, err)
	}
}

// Request calls an endpoint with a raw body and returns the reply's body
// and its Nats-Service-Error-Code ("" on success).
func Request(t testing.TB, nc *nats.Conn, subject string, body []byte) ([]byte, string) {
	t.Helper()
	msg, err := nc.Request(subject, body, 5*time.Second)
	if err != nil {
		t.Fatalf("fntest: request %s: %v", subject, err)
	}
	return msg.Data, msg.Header.Get(micro.ErrorCodeHeader)
}

// Messages returns every message a stream holds on subject, oldest first
// (none when the stream does not exist).
func Messages(t testing.TB, js jetstream.JetStream, stream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("fntest: stream %s: %v", stream, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		if m, err := st.GetMsg(ctx, seq); err == nil && m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}
