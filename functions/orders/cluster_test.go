package orders_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestGetRightAfterCreateOnThreeReplicas: on a 3-node cluster, orders.get
// sent as soon as orders.create answered finds the order, and so does
// orders.cancel. The instance is connected to a node that does not lead
// the orders bucket, so a plain read is a direct get its replica answers,
// which may not have applied the create yet (TestHealthyCluster/micro_discovery in
// tests/containers saw such a 404); the function reads a "not found"
// again from the leader before it answers 404. Without that re-read the
// test failed 4 runs of 4, with a 404 between the 88th and the 150th order.
func TestGetRightAfterCreateOnThreeReplicas(t *testing.T) {
	t.Parallel()
	cluster := fntest.NewCluster(t, nil)
	nc := cluster.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h := &harness{t: t, nc: nc, js: js}
	for _, def := range contracts.Streams() {
		if def.Name == contracts.StreamOrders {
			continue
		}
		// The first requests wait for the cluster to elect its meta leader.
		fntest.Eventually(t, 20*time.Second, "stream "+def.Name, func() bool {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := js.CreateOrUpdateStream(actx, jetstream.StreamConfig{Name: def.Name, Subjects: def.Subjects, Replicas: 3})
			return err == nil
		})
	}
	stock, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: contracts.BucketStock, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(stockRecord{Quantity: 1000, PriceCents: 250})
	if _, err := stock.Put(ctx, "sku-1", data); err != nil {
		t.Fatal(err)
	}
	// The orders bucket as the function declares it, made first so that
	// the instance can be connected to a node that does not lead it.
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: contracts.BucketOrders, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	leader := info.CachedInfo().Cluster.Leader
	var follower *server.Server
	for _, s := range cluster.Servers {
		if s.Name() != leader {
			follower = s
			break
		}
	}

	cfg := cluster.Config(t.Name())
	cfg.NATSURL = follower.ClientURL()
	fntest.RunConfig(t, cfg, orders.New(orders.Config{}))

	for i := range 300 {
		id := h.create(order(item("sku-1", 1)), nil).OrderID
		if msg, code := h.requestJSON(contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: id}, nil); code != 0 {
			t.Fatalf("order %d: orders.get right after orders.create: code %d: %s", i, code, msg.Data)
		}
		id = h.create(order(item("sku-1", 1)), nil).OrderID
		if r, code := h.cancel(id); code != 0 || r.Status != contracts.StatusCancelled {
			t.Fatalf("order %d: orders.cancel right after orders.create: code %d, %+v", i, code, r)
		}
	}
}
