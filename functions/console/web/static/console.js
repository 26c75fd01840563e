// natsfn console: swaps in the fragments the server renders, streams the
// watched order's events (Server-Sent Events), and shows every failure in
// the error box: nothing is swallowed.
"use strict";

const errors = new Map(); // what failed → why

function showErrors() {
  const box = document.getElementById("errors");
  box.querySelectorAll("[data-source]:not([data-source=page])").forEach((p) => p.remove());
  for (const [source, message] of errors) {
    const p = document.createElement("p");
    p.className = "error";
    p.dataset.source = source;
    p.textContent = source + ": " + message;
    box.append(p);
  }
  box.hidden = box.children.length === 0;
}

function fail(source, err) {
  errors.set(source, err.message || String(err));
  showErrors();
}

function ok(source) {
  if (errors.delete(source)) showErrors();
  // The server-rendered errors are about the first load; a later success
  // of the same kind answers them.
  if (source === "refresh") {
    document.querySelectorAll("#errors [data-source=page]").forEach((p) => p.remove());
    showErrors();
  }
}

function notice(text) {
  const p = document.getElementById("notice");
  p.textContent = text;
  p.hidden = false;
}

// A fetch that gets no answer (the browser says only "Failed to fetch") may
// not have reached the console, or its answer may have been lost on the
// way back: Chromium ends every open request when the machine's network
// interfaces change (net::ERR_NETWORK_CHANGED, as Docker's networks come
// and go), loopback included. A request that is safe to send again is
// sent again, after each of these waits; opts.repeatable says a POST is.
const resendAfter = [250, 1000];

// call fetches url and returns the body; a failed fetch or a non-2xx reply
// throws an Error that says what the server said (err.status is the HTTP
// status; err.resent says the request was sent more than once).
async function call(method, url, body, opts = {}) {
  const init = { method, headers: { ...opts.headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const repeatable = method === "GET" || opts.repeatable;
  let resp;
  let sent = 0;
  for (;;) {
    sent++;
    try {
      resp = await fetch(url, init);
      break;
    } catch (e) {
      if (!repeatable || sent > resendAfter.length) {
        throw new Error("the console does not answer (" + e.message + ")");
      }
      await new Promise((r) => setTimeout(r, resendAfter[sent - 1]));
    }
  }
  const text = await resp.text();
  if (!resp.ok) {
    let message = text.trim();
    try {
      const j = JSON.parse(text);
      message = (j.subject ? j.subject + ": " : "") + j.error;
    } catch (_) { /* not JSON: show the text as it is */ }
    const err = new Error(resp.status + " " + message);
    err.status = resp.status;
    err.resent = sent > 1;
    throw err;
  }
  return text;
}

// newKey is an order's Idempotency-Key: 16 random bytes in hex.
// crypto.getRandomValues works on a page served over plain HTTP, where
// crypto.randomUUID does not.
function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// --- what runs ------------------------------------------------------------

let systemTimer = 0;

async function refreshSystem() {
  clearTimeout(systemTimer);
  const section = document.getElementById("system");
  try {
    section.innerHTML = await call("GET", "view/system");
    section.classList.remove("stale");
    ok("refresh");
  } catch (e) {
    section.classList.add("stale");
    fail("refresh", e);
  }
  try {
    showGateway(JSON.parse(await call("GET", "api/gateway")));
    ok("gateway");
  } catch (e) {
    fail("gateway", e);
  }
  systemTimer = setTimeout(refreshSystem, 1000 * Number(document.body.dataset.refresh || 3));
}

function showGateway(g) {
  const el = document.getElementById("gateway-state");
  let text = g.mode;
  if (g.failure_rate) text += ", " + g.failure_rate + " declined";
  if (g.latency_ms) text += ", " + g.latency_ms + " ms a call";
  el.textContent = text;
  el.dataset.mode = g.mode;
}

// --- the watched order ----------------------------------------------------

let watching = "";
let stream = null;
let orderBusy = false;
let orderAgain = false;

async function refreshOrder() {
  if (!watching) return;
  if (orderBusy) {
    orderAgain = true;
    return;
  }
  orderBusy = true;
  try {
    do {
      orderAgain = false;
      const id = watching;
      const html = await call("GET", "view/order/" + encodeURIComponent(id));
      if (id === watching) document.getElementById("order").innerHTML = html;
    } while (orderAgain);
    ok("order");
  } catch (e) {
    fail("order", e);
  } finally {
    orderBusy = false;
  }
}

function watch(id) {
  if (stream) stream.close();
  watching = id;
  history.replaceState(null, "", "#order=" + encodeURIComponent(id));
  const panel = document.getElementById("order");
  panel.dataset.events = "0"; // how many of the order's events were pushed
  delete panel.dataset.lastSeq;
  stream = new EventSource("api/orders/" + encodeURIComponent(id) + "/events");
  stream.addEventListener("order", (e) => {
    if (Number(e.lastEventId) > Number(panel.dataset.lastSeq || 0)) {
      panel.dataset.lastSeq = e.lastEventId;
      panel.dataset.events = String(Number(panel.dataset.events) + 1);
    }
    refreshOrder();
  });
  stream.addEventListener("nats", (e) => {
    const s = JSON.parse(e.data);
    if (s.error) fail("NATS", new Error(s.error));
    else ok("NATS");
  });
  stream.onopen = () => ok("live events");
  stream.onerror = () => fail("live events", new Error("the event stream broke; the browser reconnects"));
  refreshOrder();
}

// A watched order is read again every 2s as well: orders records a step a
// moment after its event passes.
setInterval(refreshOrder, 2000);

// --- actions --------------------------------------------------------------

document.getElementById("order-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const order = {
    customer_id: f.get("customer_id"),
    items: [{ product_id: f.get("product_id"), quantity: Number(f.get("quantity")) }],
  };
  try {
    // One key for this order, however often it is sent: orders places it once.
    const placed = JSON.parse(await call("POST", "api/orders", order,
      { headers: { "Idempotency-Key": newKey() }, repeatable: true }));
    ok("place order");
    notice("Placed order " + placed.order_id + " (trace " + placed.trace_id + ").");
    watch(placed.order_id);
  } catch (err) {
    fail("place order", err);
  }
});

document.getElementById("gateway-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const mode = new FormData(e.target).get("mode");
  try {
    showGateway(JSON.parse(await call("POST", "api/gateway", { mode }, { repeatable: true })));
    ok("gateway");
    notice("The payment gateway is now " + mode + ".");
  } catch (err) {
    fail("gateway", err);
  }
});

document.addEventListener("click", async (e) => {
  const replay = e.target.closest("button[data-replay-seq]");
  if (replay) {
    const fn = replay.dataset.replayFn;
    const seq = Number(replay.dataset.replaySeq);
    replay.disabled = true;
    try {
      let r;
      try {
        r = JSON.parse(await call("POST", "api/deadletters/" + encodeURIComponent(fn) + "/replay", { seq }, { repeatable: true }));
      } catch (err) {
        // Sent again after a lost answer, and the entry is gone: the first
        // one replayed it (a replay removes the dead letter it replays).
        if (!(err.resent && err.status === 404)) throw err;
        r = { function: fn, replayed: [seq] };
      }
      ok("replay");
      notice("Replayed dead letter " + r.replayed.join(", ") + " of " + r.function + ".");
    } catch (err) {
      replay.disabled = false;
      fail("replay", err);
    }
    refreshSystem();
    return;
  }
  const cancel = e.target.closest("button[data-cancel]");
  if (cancel) {
    try {
      // Cancelling a cancelled order answers the same again.
      await call("POST", "api/orders/" + encodeURIComponent(cancel.dataset.cancel) + "/cancel", {}, { repeatable: true });
      ok("cancel");
    } catch (err) {
      fail("cancel", err);
    }
    refreshOrder();
    return;
  }
  if (e.target.id === "refresh") refreshSystem();
});

const m = /^#order=(.+)$/.exec(location.hash);
if (m) watch(decodeURIComponent(m[1]));
systemTimer = setTimeout(refreshSystem, 1000 * Number(document.body.dataset.refresh || 3));
