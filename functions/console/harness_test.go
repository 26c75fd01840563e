package console

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime/embedded"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// consolePermissions are exactly what the console's NATS user may do
// (infra/nats/accounts.conf gets the same): micro discovery, the requests
// the page makes, its own inbox and the nine event subjects.
func consolePermissions() *server.Permissions {
	pub := []string{"$SRV.>",
		contracts.SubjectOrdersCreate, contracts.SubjectOrdersGet, contracts.SubjectOrdersCancel,
		contracts.SubjectInventoryStockGet, contracts.SubjectPaymentsGatewayGet, contracts.SubjectPaymentsGatewaySet}
	for _, fn := range []string{"orders", "inventory", "payments"} {
		pub = append(pub, fn+".dlq.list", fn+".dlq.replay")
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: append([]string{InboxPrefix + ".>"}, eventSubjects()...)},
	}
}

// asyncErrors records what the server refused the console's connection.
type asyncErrors struct {
	mu   sync.Mutex
	errs []string
}

func (a *asyncErrors) add(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err.Error())
}

func (a *asyncErrors) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = nil
}

func (a *asyncErrors) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.errs...)
}

// setup is the whole order flow on a server with users, and a console on
// it as the least-privileged console user, served under /console/ as the
// ops port will serve it.
type setup struct {
	t       testing.TB
	srv     *fntest.Server
	admin   *nats.Conn
	js      jetstream.JetStream
	console *Console
	// nc is the console's connection; refused records its permission
	// errors.
	nc      *nats.Conn
	refused *asyncErrors
	// URL is the console's page, ending in /console/.
	URL string
}

func start(t testing.TB) *setup {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		ServerName: "console-test",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		MaxPayload: embedded.DefaultMaxPayload,
		NoLog:      true,
		NoSigs:     true,
		Users: []*server.User{
			{Username: "admin", Password: "admin-pw"},
			{Username: "console", Password: "console-pw", Permissions: consolePermissions()},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	srv := &fntest.Server{Server: &embedded.Server{Server: s}}
	t.Cleanup(srv.Stop)

	cfg := srv.Config(t.Name())
	cfg.User, cfg.Password = "admin", "admin-pw"
	// A test that stops the server leaves nothing to drain to.
	cfg.ShutdownTimeout = 2 * time.Second
	fntest.RunConfig(t, cfg,
		orders.New(orders.Config{}),
		inventory.New(inventory.Config{Seed: inventory.DemoCatalog()}),
		payments.New(payments.Config{}),
	)
	admin, err := nats.Connect(srv.ClientURL(), nats.UserInfo("admin", "admin-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	js, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}

	refused := &asyncErrors{}
	nc, err := nats.Connect(srv.ClientURL(),
		nats.UserInfo("console", "console-pw"),
		nats.CustomInboxPrefix(InboxPrefix),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refused.add(err) }),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := New(nc, Config{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", http.StripPrefix("/console", c))
	ts := httptest.NewUnstartedServer(mux)
	// What the HTTP server says (a handler's panic, a connection it
	// dropped) goes to the test's log, next to what the page saw.
	ts.Config.ErrorLog = log.New(testWriter{t}, "console http: ", 0)
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(c.Close) // first: it ends the live streams ts.Close waits for
	return &setup{t: t, srv: srv, admin: admin, js: js, console: c, nc: nc, refused: refused, URL: ts.URL + "/console/"}
}

// testWriter writes to a test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// noneRefused fails the test if the server refused the console anything:
// the console needs no permission beyond consolePermissions.
func (s *setup) noneRefused() {
	s.t.Helper()
	if errs := s.refused.list(); len(errs) > 0 {
		s.t.Fatalf("the server refused the console user: %q", errs)
	}
}

// adminCall sends a request as admin and decodes the reply.
func (s *setup) adminCall(subject string, in, out any) {
	s.t.Helper()
	b, _ := json.Marshal(in)
	m, err := s.admin.Request(subject, b, 5*time.Second)
	if err != nil {
		s.t.Fatalf("%s: %v", subject, err)
	}
	if code := m.Header.Get(headerServiceCode); code != "" {
		s.t.Fatalf("%s: %s %s", subject, code, m.Header.Get(headerServiceError))
	}
	if err := json.Unmarshal(m.Data, out); err != nil {
		s.t.Fatalf("%s: %q: %v", subject, m.Data, err)
	}
}

func (s *setup) stock(product string) int {
	s.t.Helper()
	var r contracts.StockReply
	s.adminCall(contracts.SubjectInventoryStockGet, contracts.GetStockRequest{ProductID: product}, &r)
	return r.Quantity
}

// deadLetter publishes a schema-invalid orders.created on the stream, as
// a broken producer would: inventory's reserve handler dead-letters it.
func (s *setup) deadLetter(id string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.js.Publish(ctx, contracts.SubjectOrdersCreated, []byte(`{"order_id":"`+id+`"}`),
		jetstream.WithMsgID("broken-"+id)); err != nil {
		s.t.Fatal(err)
	}
}

// probeRefusal shows that the server does enforce the console user's
// permissions and that refused records it: a publish on an event subject
// is refused.
func (s *setup) probeRefusal() {
	s.t.Helper()
	if err := s.nc.Publish(contracts.SubjectOrdersConfirmed, []byte(`{}`)); err != nil {
		s.t.Fatal(err)
	}
	fntest.Eventually(s.t, 5*time.Second, "the server refusing a publish on orders.confirmed", func() bool {
		for _, e := range s.refused.list() {
			if strings.Contains(strings.ToLower(e), "permissions violation") {
				return true
			}
		}
		return false
	})
	s.refused.reset()
}
