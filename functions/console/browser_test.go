package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// page is a headless Chromium tab on the console.
type page struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	exceptions []string
	// browserLog is what the browser itself logged (source "network",
	// "security", ...): a fetch that fails with "Failed to fetch" names
	// its net:: reason only here.
	browserLog []string
}

// openPage starts headless Chromium (Debian's chromium package; .ci/run
// installs it) and opens url. There is no skipping: without a browser the
// page is untested, so the test fails.
func openPage(t *testing.T, url string) *page {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no Chromium on PATH: apt-get install -y chromium (.ci/run installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)

	p := &page{t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			switch {
			case m.IsException():
				p.exceptions = append(p.exceptions, m.String())
			case m.Source != "":
				p.browserLog = append(p.browserLog, m.Time.Format("15:04:05.000")+" "+m.Source+" "+m.String()+" "+m.URL)
			}
			p.mu.Unlock()
		}
	}()
	p.do(chromedp.Navigate(url))
	return p
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v\n%s", err, p.state())
	}
}

// eval runs a JavaScript expression and returns its value.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("eval %s: %v\n%s", expr, err, p.state())
	}
	return v
}

// text is an element's text ("" when there is none).
func (p *page) text(selector string) string {
	p.t.Helper()
	return strings.TrimSpace(eval[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, selector)))
}

// waitFor polls a JavaScript predicate until it holds.
// pageWait bounds every wait for the page to show something. The waits end
// as soon as it does; the bound only says when to give up. The flow's speed
// is not what this test measures: on the 2-core CI machine, loaded with
// the container suites beside it, an order took 20 s from the click to
// "confirmed" on 2026-12-02 (its inventory step 9.5 s), past the 20 s this
// test allowed then.
const pageWait = 60 * time.Second

func (p *page) waitFor(what, predicate string, within time.Duration) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		p.t.Fatalf("waiting %s for %s: %v\n%s", within, what, err, p.state())
	}
}

// state is what the page shows, for a failure message.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
		`"errors: " + document.getElementById("errors").innerText + "\nnotice: " + document.getElementById("notice").innerText + "\norder: " + document.getElementById("order").innerText
		+ "\nfunctions: " + [...document.querySelectorAll("#functions .function")].map(f => f.dataset.function).join(", ")
		+ "\ndead letters: " + (document.getElementById("deadletters")?.innerText ?? "(no section)")`))
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.browserLog) > 0 {
		s += "\nthe browser's log:\n  " + strings.Join(p.browserLog, "\n  ")
	}
	return s
}

func (p *page) noExceptions() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exceptions) > 0 {
		p.t.Fatalf("the page threw: %q", p.exceptions)
	}
}

// screenshot saves the whole page as a PNG, in $NATSFN_SCREENSHOTS when set
// (to look at it), else in the test's temporary directory, and checks it
// is a picture of something: a PNG of the page's size with many colours.
func (p *page) screenshot(name string) string {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("NATSFN_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		p.t.Fatalf("screenshot %s is not a PNG: %v", file, err)
	}
	r := img.Bounds()
	colours := map[[4]uint32]bool{}
	for y := r.Min.Y; y < r.Max.Y; y += 7 {
		for x := r.Min.X; x < r.Max.X; x += 7 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	if r.Dx() < 1000 || r.Dy() < 1000 || len(colours) < 50 || len(b) < 50_000 {
		p.t.Fatalf("screenshot %s: %dx%d, %d bytes, %d colours: not the page", file, r.Dx(), r.Dy(), len(b), len(colours))
	}
	p.t.Logf("screenshot: %s (%dx%d)", file, r.Dx(), r.Dy())
	return file
}

// clickInSystem clicks a button of the system view (Refresh, Replay). The
// page replaces that view every few seconds, and a chromedp click finds the
// node in one call and clicks it in another, so it can miss a node replaced
// in between ("Could not find node with given id"): the page finds and
// clicks the button in one step.
func (p *page) clickInSystem(selector string) {
	p.t.Helper()
	if !eval[bool](p, fmt.Sprintf(`(() => {
		const b = document.querySelector(%q);
		if (!b) return false;
		b.click();
		return true;
	})()`, selector)) {
		p.t.Fatalf("no %s on the page\n%s", selector, p.state())
	}
}

// placeOrder fills the order form and submits it.
func (p *page) placeOrder(customer, product string, quantity int) {
	p.t.Helper()
	p.do(
		chromedp.SetValue(chromedp.CSS(`#order-form input[name=customer_id]`), customer),
		chromedp.SetValue(chromedp.CSS(`#order-form select[name=product_id]`), product),
		chromedp.SetValue(chromedp.CSS(`#order-form input[name=quantity]`), fmt.Sprint(quantity)),
		chromedp.Click(chromedp.CSS(`#place-order`)),
	)
}

func (p *page) setGateway(mode contracts.GatewayMode) {
	p.t.Helper()
	p.do(
		chromedp.SetValue(chromedp.CSS(`#gateway-form select[name=mode]`), string(mode)),
		chromedp.Click(chromedp.CSS(`#set-gateway`)),
	)
	p.waitFor("the gateway in mode "+string(mode), fmt.Sprintf(`document.getElementById("gateway-state").dataset.mode === %q`, mode), pageWait)
}

// orderSettled waits for the watched order to reach a status with a step
// on event in its timeline.
func (p *page) orderSettled(status contracts.OrderStatus, event string) {
	p.t.Helper()
	p.waitFor("the order "+string(status)+" with "+event, fmt.Sprintf(`(() => {
		const s = document.getElementById("order-status");
		return !!s && s.dataset.status === %q && !!document.querySelector('#order-timeline tr[data-event=%q]');
	})()`, status, event), pageWait)
}

// TestBrowser runs the console in headless Chromium on the whole flow: it
// shows what runs and the topology, places an order that is confirmed,
// shows a declined one cancelled with its stock back, and replays a dead
// letter; it saves a screenshot, and the page shows no error throughout.
func TestBrowser(t *testing.T) {
	s := start(t)
	s.probeRefusal()
	p := openPage(t, s.URL)

	p.waitFor("three functions", `document.querySelectorAll("#functions .function").length === 3`, pageWait)
	// 9 events and the major 2 of inventory.reserved and payments.*.
	if n := eval[int](p, `document.querySelectorAll("#topology svg .node.subject").length`); n != 13 {
		t.Fatalf("%d events in the topology, want 13", n)
	}
	// 13 emissions (both majors declared) and 11 handlers consuming
	// (orders stores its own orders.created: event first).
	if n := eval[int](p, `document.querySelectorAll("#topology svg path.link").length`); n != 24 {
		t.Fatalf("%d arrows in the topology, want 24", n)
	}
	if got := p.text(`#edges tr[data-subject="orders.created"]`); !strings.Contains(got, "inventory · reserve") {
		t.Fatalf("orders.created row: %q", got)
	}

	// An order confirmed, its steps pushed as they happen.
	p.placeOrder("c-browser", "sku-1", 2)
	p.orderSettled(contracts.StatusConfirmed, contracts.SubjectOrdersConfirmed)
	first := p.text("#order-id")
	trace := p.text("#order-trace")
	if !hex32.MatchString(trace) || !strings.Contains(p.text("#notice"), trace) {
		t.Fatalf("trace %q; notice %q", trace, p.text("#notice"))
	}
	p.waitFor("four steps done", `document.querySelectorAll("ol.saga li.done").length === 4`, pageWait)
	// The steps were pushed (Server-Sent Events), not only polled.
	if n := eval[string](p, `document.getElementById("order").dataset.events`); n != "4" {
		t.Fatalf("%s events pushed to the page, want 4", n)
	}
	for _, e := range []string{"orders.created", "inventory.reserved", "payments.completed", "orders.confirmed"} {
		if p.text(`#order-timeline tr[data-event="`+e+`"]`) == "" {
			t.Fatalf("no %s in the timeline", e)
		}
	}

	// A declined payment: cancelled, the stock released and back.
	p.setGateway(contracts.GatewayDecline)
	before := s.stock("sku-2")
	p.placeOrder("c-declined", "sku-2", 1)
	p.orderSettled(contracts.StatusCancelled, contracts.SubjectInventoryReleased)
	if p.text("#order-id") == first {
		t.Fatal("the page still shows the first order")
	}
	if got := p.text("#order-reason"); got != string(contracts.ReasonPaymentDeclined) {
		t.Fatalf("reason %q", got)
	}
	p.waitFor("the stock of sku-2 back", fmt.Sprintf(`document.querySelector('#order-stock tr[data-product="sku-2"]').dataset.stock === "%d"`, before), pageWait)
	if got := s.stock("sku-2"); got != before {
		t.Fatalf("inventory.stock.get says %d of sku-2, want %d", got, before)
	}
	p.setGateway(contracts.GatewayOK)

	// A dead letter, with its reason, replayed from the page.
	s.deadLetter("broken-browser")
	p.clickInSystem(`#refresh`)
	row := `#deadletters .dlq[data-function="inventory"] tr[data-seq]`
	p.waitFor("inventory's dead letter", fmt.Sprintf(`!!document.querySelector(%q)`, row), pageWait)
	seq := eval[string](p, fmt.Sprintf(`document.querySelector(%q).dataset.seq`, row))
	if reason := p.text(row + " td.reason"); !strings.Contains(reason, "orders.created.v1") {
		t.Fatalf("dead letter reason %q does not name the schema it broke", reason)
	}
	p.screenshot("console.png")
	p.clickInSystem(fmt.Sprintf(`button[data-replay-fn="inventory"][data-replay-seq="%s"]`, seq))
	p.waitFor("the replay done", fmt.Sprintf(`document.getElementById("notice").textContent.includes("Replayed dead letter %s of inventory")
		&& !document.querySelector('#deadletters tr[data-seq="%s"]')`, seq, seq), pageWait)

	if !eval[bool](p, `document.getElementById("errors").hidden`) {
		t.Fatalf("the page shows errors:\n%s", p.state())
	}
	p.noExceptions()
	s.noneRefused()
}

// loseAnswer makes the browser lose the console's answer to the next
// request with the method whose URL matches pattern (Chromium's URL
// pattern: * for any characters): the console carries it out and answers,
// and the page sees "Failed to fetch", as when Chromium ends its open
// requests because the machine's network interfaces changed
// (net::ERR_NETWORK_CHANGED; Docker's networks come and go beside CI's
// browser tests). lost says how many answers were lost so far.
func (p *page) loseAnswer(method, pattern string) (lost func() int) {
	p.t.Helper()
	var mu sync.Mutex
	n := 0
	paused := chromedp.Events(p.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: pattern, RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		p.t.Fatalf("intercept %s: %v", pattern, err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			mu.Lock()
			lose := n == 0 && ev.Request.Method == method
			if lose {
				n++
			}
			mu.Unlock()
			if lose {
				_, _ = chromedp.Call(p.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
			} else {
				_, _ = chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
		}
	}()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// ordersCreatedFor counts the orders.created events of a customer in the
// stream: how many orders were placed for them.
func (s *setup) ordersCreatedFor(customer string) int {
	s.t.Helper()
	stream, err := s.js.StreamNameBySubject(context.Background(), contracts.SubjectOrdersCreated)
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, m := range fntest.Messages(s.t, s.js, stream, contracts.SubjectOrdersCreated) {
		var ev contracts.OrderCreatedEvent
		if json.Unmarshal(m.Data, &ev) == nil && ev.CustomerID == customer {
			n++
		}
	}
	return n
}

// TestBrowserLostAnswers: when the browser loses the console's answer to
// a request the console carried out, the page sends it again where that
// is safe, and nothing is done twice: an order placed once (its
// Idempotency-Key), a dead letter replayed once, a refresh that recovers;
// the page shows no error.
func TestBrowserLostAnswers(t *testing.T) {
	s := start(t)
	p := openPage(t, s.URL)
	p.waitFor("three functions", `document.querySelectorAll("#functions .function").length === 3`, pageWait)
	// Every error the page shows from now on, even for a moment (a later
	// success clears it from the box).
	eval[bool](p, `(() => {
		window.shownErrors = [];
		const box = document.getElementById("errors");
		new MutationObserver(() => box.querySelectorAll("p.error").forEach((e) => window.shownErrors.push(e.textContent)))
			.observe(box, { childList: true, subtree: true, characterData: true });
		return true;
	})()`)

	refreshLost := p.loseAnswer("GET", "*/view/system")
	p.clickInSystem(`#refresh`)
	fntest.Eventually(t, pageWait, "the refresh's answer lost", func() bool { return refreshLost() == 1 })

	before := s.stock("sku-3")
	placeLost := p.loseAnswer("POST", "*/api/orders")
	p.placeOrder("c-lost-answer", "sku-3", 1)
	p.orderSettled(contracts.StatusConfirmed, contracts.SubjectOrdersConfirmed)
	if placeLost() != 1 {
		t.Fatalf("%d answers to the order lost, want 1", placeLost())
	}
	if n := s.ordersCreatedFor("c-lost-answer"); n != 1 {
		t.Fatalf("%d orders placed for c-lost-answer, want 1", n)
	}
	if got := s.stock("sku-3"); got != before-1 {
		t.Fatalf("stock of sku-3 %d, want %d", got, before-1)
	}
	if !strings.Contains(p.text("#notice"), p.text("#order-id")) {
		t.Fatalf("notice %q does not name order %q", p.text("#notice"), p.text("#order-id"))
	}

	s.deadLetter("lost-answer")
	p.clickInSystem(`#refresh`)
	row := `#deadletters .dlq[data-function="inventory"] tr[data-seq]`
	p.waitFor("inventory's dead letter", fmt.Sprintf(`!!document.querySelector(%q)`, row), pageWait)
	seq := eval[string](p, fmt.Sprintf(`document.querySelector(%q).dataset.seq`, row))
	replayLost := p.loseAnswer("POST", "*/api/deadletters/*/replay")
	p.clickInSystem(fmt.Sprintf(`button[data-replay-fn="inventory"][data-replay-seq="%s"]`, seq))
	p.waitFor("the replay done", fmt.Sprintf(`document.getElementById("notice").textContent.includes("Replayed dead letter %s of inventory")
		&& !document.querySelector('#deadletters tr[data-seq="%s"]')`, seq, seq), pageWait)
	if replayLost() != 1 {
		t.Fatalf("%d answers to the replay lost, want 1", replayLost())
	}

	if shown := eval[[]string](p, `window.shownErrors`); len(shown) > 0 {
		t.Fatalf("the page showed errors: %q\n%s", shown, p.state())
	}
	p.noExceptions()
	s.noneRefused()
}

// TestBrowserShowsFetchErrors: when NATS goes away, the page says so, for
// the periodic refresh and for an order placed, rather than going quiet.
func TestBrowserShowsFetchErrors(t *testing.T) {
	s := start(t)
	p := openPage(t, s.URL)
	p.waitFor("three functions", `document.querySelectorAll("#functions .function").length === 3`, pageWait)

	s.srv.Shutdown()
	fntest.Eventually(t, 20*time.Second, "the console's connection to notice", func() bool { return !s.nc.IsConnected() })
	p.clickInSystem(`#refresh`)
	p.waitFor("the refresh error", `(() => {
		const e = document.querySelector('#errors p[data-source="refresh"]');
		return !document.getElementById("errors").hidden && !!e && e.textContent.includes("503 not connected to NATS");
	})()`, pageWait)
	if !eval[bool](p, `document.getElementById("system").classList.contains("stale")`) {
		t.Fatal("the stale system view is not marked stale")
	}
	p.placeOrder("c-1", "sku-1", 1)
	p.waitFor("the order error", `(() => {
		const e = document.querySelector('#errors p[data-source="place order"]');
		return !!e && e.textContent.includes("not connected to NATS");
	})()`, pageWait)
	p.screenshot("console-nats-down.png")
	p.noExceptions()
}
