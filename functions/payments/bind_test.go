package payments

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestBindGatewayWaitsOutNotFound: a "bucket not found" answered just after
// the runtime opened the bucket (a booting cluster's meta leader that has
// not applied its creation yet) is waited out, not turned into an exit. The
// bucket appears 300 ms into the wait here; bindGateway returns it.
func TestBindGatewayWaitsOutNotFound(t *testing.T) {
	c := fntest.NewClient(t, fntest.NewServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	made := make(chan error, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		_, err := c.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: BucketGateway})
		made <- err
	})
	start := time.Now()
	kv, err := bindGateway(ctx, c.JS, 5*time.Second)
	if err != nil {
		t.Fatalf("bindGateway: %v", err)
	}
	if err := <-made; err != nil {
		t.Fatalf("create the bucket: %v", err)
	}
	if kv.Bucket() != BucketGateway {
		t.Fatalf("bound bucket %q, want %q", kv.Bucket(), BucketGateway)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("returned after %v, before the bucket existed", waited)
	}
}

// TestBindGatewayGivesUp: a bucket that never appears is reported as not
// found once the wait is over, naming the bucket.
func TestBindGatewayGivesUp(t *testing.T) {
	c := fntest.NewClient(t, fntest.NewServer(t))
	start := time.Now()
	_, err := bindGateway(context.Background(), c.JS, 400*time.Millisecond)
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("bindGateway: %v, want bucket not found", err)
	}
	if took := time.Since(start); took < 400*time.Millisecond || took > 3*time.Second {
		t.Fatalf("gave up after %v, want 400ms (the whole wait)", took)
	}
	if !strings.HasPrefix(err.Error(), "bucket "+BucketGateway) {
		t.Fatalf("error %q does not name the bucket", err)
	}
}
