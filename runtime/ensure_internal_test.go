package runtime

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestEnsureStreamTogether: instances that declare one stream at the same
// moment on a fresh server make it with creates alone. An update would
// rewrite the stream another instance has just made while it creates its
// consumers (a data race inside nats-server v2.15.3), and nats.go's
// CreateOrUpdateStream sends one first every time. A declaration that
// differs from the stream still updates it.
func TestEnsureStreamTogether(t *testing.T) {
	srv := startServer(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// One subscription, so its messages arrive in the order nc sent them:
	// once it sees a request sent after the others, it has seen them all.
	var updates, creates, markers atomic.Int32
	if _, err := nc.Subscribe("$JS.API.STREAM.>", func(m *nats.Msg) {
		switch {
		case strings.HasPrefix(m.Subject, "$JS.API.STREAM.UPDATE."):
			updates.Add(1)
		case strings.HasPrefix(m.Subject, "$JS.API.STREAM.CREATE."):
			creates.Add(1)
		case m.Subject == "$JS.API.STREAM.INFO.MARKER":
			markers.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	seen := func() {
		t.Helper()
		want := markers.Load() + 1
		if _, err := nc.Request("$JS.API.STREAM.INFO.MARKER", nil, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Second); markers.Load() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the API requests did not all reach the test's subscription")
			}
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := jetstream.StreamConfig{Name: "SHARED", Subjects: []string{"shared.>"}, Storage: jetstream.FileStorage}
	const instances = 8
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	for range instances {
		wg.Go(func() {
			if _, err := ensureStream(ctx, js, cfg); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ensureStream: %v", err)
	}
	seen()
	if n := updates.Load(); n != 0 {
		t.Fatalf("%d instances declaring a new stream together sent %d updates, want none", instances, n)
	}
	if n := creates.Load(); n < 1 || n > instances {
		t.Fatalf("%d creates, want 1 to %d", n, instances)
	}

	cfg.Description = "changed"
	st, err := ensureStream(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen()
	if got := st.CachedInfo().Config.Description; got != "changed" || updates.Load() != 1 {
		t.Fatalf("a changed declaration: description %q after %d updates, want %q after 1", got, updates.Load(), "changed")
	}
}
