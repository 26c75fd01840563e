package containers

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// function is one function container: natsfn/<name>:dev running as
// NATSFN_INSTANCE_ID=instance, which is also its network alias.
type function struct {
	name     string
	instance string
	c        *testcontainers.DockerContainer
}

// functionSpec says which function to run under which instance id.
type functionSpec struct {
	name     string
	instance string
	// noStart creates the container without starting it.
	noStart bool
	// env is added to functionEnv's (NATSFN_PHASES, say).
	env map[string]string
	// binary, when set, is a host file bind-mounted over the image's
	// /function, so that the engine's storage driver does not serve it
	// (TestColdStart's measure of what the image layer costs a start).
	binary string
}

// suiteAckWait is the NATSFN_ACK_WAIT the suites run the functions with.
const suiteAckWait = 10 * time.Second

// functionEnv is what infra/compose.yaml gives a function: the three nodes,
// its own least-privilege user from infra/nats/accounts.conf, R3 streams
// and buckets; and, unlike compose, an AckWait of suiteAckWait, so the
// fault suites wait 10s rather than 30s for a lost instance's messages.
func functionEnv(name, instance string) map[string]string {
	return map[string]string{
		"NATS_URL":                "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222",
		"NATS_USER":               name,
		"NATS_PASSWORD":           name + "-demo-password",
		"NATSFN_REPLICAS":         "3",
		"NATSFN_INSTANCE_ID":      instance,
		"NATSFN_OPS_ADDR":         ":8080",
		"NATSFN_LOG_FORMAT":       "text",
		"NATSFN_LOG_LEVEL":        "info",
		"NATSFN_SHUTDOWN_TIMEOUT": "10s",
		"NATSFN_ACK_WAIT":         suiteAckWait.String(),
	}
}

// startFunctions runs the function containers at once and waits until each
// one's /readyz answers 200 (connected, JetStream answering, consumers
// bound). They run as compose runs them: read-only root, no capabilities.
func (s *stack) startFunctions(specs ...functionSpec) []*function {
	s.t.Helper()
	out := make([]*function, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = s.runFunction(spec)
		}()
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", specs[i].instance, err))
		}
	}
	if len(failed) > 0 {
		s.t.Fatalf("function containers did not start:\n%s", strings.Join(failed, "\n"))
	}
	for _, f := range out {
		s.fns[f.name] = append(s.fns[f.name], f)
	}
	return out
}

func (s *stack) runFunction(spec functionSpec) (*function, error) {
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(tclog.TestLogger(s.t)),
		testcontainers.WithEnv(functionEnv(spec.name, spec.instance)),
		testcontainers.WithEnv(spec.env),
		testcontainers.WithLabels(projectLabel),
		testcontainers.WithExposedPorts("8080/tcp"),
		loopbackPorts("8080/tcp"),
		network.WithNetwork([]string{spec.instance}, s.net),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ReadonlyRootfs = true
			hc.CapDrop = []string{"ALL"}
			hc.SecurityOpt = []string{"no-new-privileges:true"}
			if spec.binary != "" {
				hc.Binds = append(hc.Binds, spec.binary+":/function:ro")
			}
		}),
		testcontainers.WithWaitStrategyAndDeadline(90*time.Second,
			wait.ForHTTP("/readyz").WithPort("8080/tcp").WithPollInterval(50*time.Millisecond)),
	}
	if spec.noStart {
		opts = append(opts, testcontainers.WithNoStart())
	}
	c, err := testcontainers.Run(s.ctx, functionImage(spec.name), opts...)
	s.own(c, spec.instance)
	f := &function{name: spec.name, instance: spec.instance, c: c}
	// A function that exits during its startup is started again, as
	// compose's and Kubernetes' restart policies would; each exit is
	// recorded, and TestStartTogether fails on any.
	for attempt := 1; err != nil && c != nil && attempt <= 5; attempt++ {
		st, serr := c.State(s.ctx)
		if serr != nil || st.Running {
			break
		}
		s.recordStartupExit(f, st.ExitCode)
		err = c.Start(s.ctx)
	}
	return f, err
}

// startupExit is a function container that exited before it was ready.
type startupExit struct {
	instance string
	code     int
	last     string
}

// recordStartupExit remembers that f exited during startup, with the last
// line of its log (the reason it gave).
func (s *stack) recordStartupExit(f *function, code int) {
	last := lastLogLine(s.ctx, f.c)
	s.t.Logf("%s exited during startup (code %d): %s; starting it again", f.instance, code, last)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startupExits = append(s.startupExits, startupExit{instance: f.instance, code: code, last: last})
}

// lastLogLine returns the reason a function gave for exiting: its last
// line starting with "natsfn:", else its last line.
func lastLogLine(ctx context.Context, c *testcontainers.DockerContainer) string {
	rc, err := c.Logs(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 16<<20))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// stdout and stderr interleave: the exit message starts with "natsfn:".
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "natsfn:") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// opsURL is the function's ops HTTP port as seen from the host.
func (f *function) opsURL(ctx context.Context) (string, error) {
	return hostURL(ctx, f.c, "http", "8080/tcp")
}

// ready asks the function's /readyz.
func (f *function) ready(ctx context.Context) error {
	u, err := f.opsURL(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", f.instance, err)
	}
	if err := httpOK(ctx, u+"/readyz"); err != nil {
		return fmt.Errorf("%s: %w", f.instance, err)
	}
	return nil
}

// all returns every function container of the stack.
func (s *stack) all() []*function {
	var out []*function
	for _, name := range functionNames {
		out = append(out, s.fns[name]...)
	}
	return out
}

// waitAllReady waits until every running function's /readyz answers 200.
func (s *stack) waitAllReady(within time.Duration) {
	s.t.Helper()
	waitFor(s.t, within, 250*time.Millisecond, "every function ready", func() error {
		for _, f := range s.all() {
			if err := f.ready(s.ctx); err != nil {
				return err
			}
		}
		return nil
	})
}
