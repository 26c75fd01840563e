// Package containers runs the order flow across real containers: a 3-node
// NATS cluster built from infra/nats (natsfn/nats-server) and the function
// images natsfn/orders, natsfn/inventory and natsfn/payments, each test on
// its own Docker network, through testcontainers-go.
//
// The suites check what a user of the flow sees when things go wrong the
// way they do in production: a function killed mid-stream, a NATS node lost,
// a function cut off the network for longer than its AckWait, a cold start,
// and users who may not do what they try. Each asserts order status and
// reason, the stock left (conservation), and the gateway's real charges
// (never twice).
//
// The images are built once per run with `make image-nats image-functions`
// from the module root (NATSFN_TEST_BUILD=0 keeps images that exist). A
// failed build fails the run. Without a reachable Docker engine every test
// skips, saying why; that is the only skip. Ryuk is disabled
// (TESTCONTAINERS_RYUK_DISABLED=true): every container and network is
// removed in t.Cleanup, and carries the label io.natsfn.project=natsfn so
// `make sweep` finds what a killed run left behind. Ports are published on
// 127.0.0.1 only (TESTCONTAINERS_HOST_OVERRIDE defaults to 127.0.0.1), so
// the engine must run on this host.
//
//	go test -race -count=1 ./tests/containers/
//
// The harness starts a function container again if it exits before it is
// ready, as compose's restart policy would, and logs it; TestStartTogether
// is the test that fails on such an exit. NATSFN_TEST_LOGS=1 prints every
// container's log when its test ends (a failing test prints the tail of
// each). TestColdStart writes its figures to .build/coldstart.txt here.
//
// TestDrills runs the fault drills of issue 8 (the ORDERS leader and one
// instance of every function SIGKILLed, an orders instance cut off, the
// meta leader paused, quorum lost) at 100 orders/s with callers that retry
// with one Idempotency-Key and send Natsfn-Deadline, audits each, and
// writes the table to .build/drills.txt, with when and how each drill's
// callers failed. NATSFN_TAG picks the image tag
// the suites build and run (dev by default), so that two trees can be
// tested on one engine.
package containers
