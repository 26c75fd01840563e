package containers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
)

// The cold-start goals (issue 12): a function's first answer within
// coldStartOverPinger of a trivial pinger's, measured in the same run, and
// its process within coldStartProcessGoal of being started. They are
// measurements, not pass marks.
const (
	coldStartOverPinger  = 100 * time.Millisecond
	coldStartProcessGoal = 40 * time.Millisecond
	coldStartRounds      = 5
)

// pingerImage is TestColdStart's baseline image, built from
// testdata/pinger by buildPinger.
var pingerImage = "natsfn/coldstart-pinger:" + imageTag

// TestColdStart measures, for the trivial pinger and every function, the
// time from `docker start` of a created (never started) container to its
// first answer to a micro PING ($SRV.PING.<name>) as its own instance id,
// on a running cluster where the functions' streams and buckets already
// exist, the part of it after the engine started the process, and the
// CPU time the container used until then (which the machine's load does
// not stretch as it stretches the others). The kinds take turns,
// coldStartRounds rounds, so that load on the machine weighs on each
// alike. orders also starts with its binary bind-mounted from the host,
// which the engine does not read through its storage driver (with
// fuse-overlayfs every page a start touches is read through a FUSE
// daemon): the difference is what the image layer costs a start. The
// medians go to the test log and to
// tests/containers/.build/coldstart.txt, with the goals met or missed. The
// test fails only when an instance never answers.
func TestColdStart(t *testing.T) {
	s := newStack(t, 1)
	if err := buildPinger(s.ctx); err != nil {
		t.Fatal(err)
	}
	// The stack's instances made the streams and buckets; stop them. A
	// running orders-1 answered every $SRV.PING.orders of the measuring
	// loop (1,000 a second), so a function started while another of its
	// kind worked on pings and the pinger, alone with its name, did not:
	// the engine's start call took 1.8-2.0 s for a function against 1.0 s
	// for the pinger, and `docker start` from the CLI, with no ping load,
	// 0.6-0.8 s for both.
	for _, fn := range functionNames {
		for _, f := range s.fns[fn] {
			if err := f.c.Stop(s.ctx, ptr(10*time.Second)); err != nil {
				t.Fatalf("stop %s: %v", f.instance, err)
			}
		}
	}
	// orders once more, its binary bind-mounted from the host rather than
	// read through the engine's storage driver: the difference is what
	// the image layer costs a start on this engine.
	binary := s.imageBinary("orders")
	kinds := append(append([]string{"pinger"}, functionNames...), bindKind)
	total := map[string][]time.Duration{}
	process := map[string][]time.Duration{}
	cpu := map[string][]time.Duration{}
	call := map[string][]time.Duration{}
	// A function's process time, split at its call of runtime.Start.
	beforeStart := map[string][]time.Duration{}
	afterStart := map[string][]time.Duration{}
	for round := range coldStartRounds {
		for _, kind := range kinds {
			instance := fmt.Sprintf("%s-cold-%d", kind, round)
			var f *function
			var err error
			switch kind {
			case "pinger":
				f, err = s.createPinger(instance)
			case bindKind:
				f, err = s.runFunction(functionSpec{name: "orders", instance: instance, noStart: true, binary: binary})
			default:
				f, err = s.runFunction(functionSpec{name: kind, instance: instance, noStart: true})
			}
			if err != nil {
				t.Fatalf("create %s: %v", instance, err)
			}
			run := s.coldStart(f)
			call[kind] = append(call[kind], run.call)
			total[kind] = append(total[kind], run.total)
			process[kind] = append(process[kind], run.inProcess)
			cpu[kind] = append(cpu[kind], run.cpu)
			if kind != "pinger" {
				before, after := s.startSplit(f, run)
				beforeStart[kind] = append(beforeStart[kind], before)
				afterStart[kind] = append(afterStart[kind], after)
			}
			// Stop it, so that the next one starts on an idle machine.
			if err := f.c.Stop(s.ctx, ptr(5*time.Second)); err != nil {
				t.Fatalf("stop %s: %v", instance, err)
			}
		}
	}
	pinger := median(total["pinger"])
	report := []string{fmt.Sprintf("pinger:    %4d ms (process %3d ms, CPU %3d ms, start call %4d ms) median of %d; all %v",
		pinger.Milliseconds(), median(process["pinger"]).Milliseconds(), median(cpu["pinger"]).Milliseconds(),
		median(call["pinger"]).Milliseconds(), coldStartRounds, ms(total["pinger"]))}
	for _, fn := range functionNames {
		d, p := median(total[fn]), median(process[fn])
		over := d - pinger
		report = append(report, fmt.Sprintf("%-10s %4d ms (process %3d ms: %d before runtime.Start, %d after; CPU %3d ms, start call %4d ms) median of %d, %+d ms from the pinger "+
			"(goal %d: %s), process goal %d ms: %s; all %v", fn+":", d.Milliseconds(), p.Milliseconds(),
			median(beforeStart[fn]).Milliseconds(), median(afterStart[fn]).Milliseconds(),
			median(cpu[fn]).Milliseconds(), median(call[fn]).Milliseconds(), coldStartRounds, over.Milliseconds(), coldStartOverPinger.Milliseconds(),
			verdict(over <= coldStartOverPinger), coldStartProcessGoal.Milliseconds(), verdict(p <= coldStartProcessGoal), ms(total[fn])))
	}
	bound, layer := median(process[bindKind]), median(process["orders"])-median(process[bindKind])
	layerBefore := median(beforeStart["orders"]) - median(beforeStart[bindKind])
	report = append(report, fmt.Sprintf("orders with its binary bind-mounted, not read through the image: process %3d ms: %d before runtime.Start, %d after; "+
		"median of %d; the image layer costs orders' start %d ms, %d of them before runtime.Start; all %v", bound.Milliseconds(),
		median(beforeStart[bindKind]).Milliseconds(), median(afterStart[bindKind]).Milliseconds(), coldStartRounds, layer.Milliseconds(),
		layerBefore.Milliseconds(), ms(process[bindKind])))
	images := []string{pingerImage}
	for _, fn := range functionNames {
		images = append(images, functionImage(fn))
	}
	report = append(report, s.engineLine(images))
	uptime, _ := os.ReadFile("/proc/loadavg")
	report = append(report, "load average (1, 5, 15 min) at the end: "+strings.Join(strings.Fields(string(uptime))[:3], " ")+
		"; CPU is the container's CPU time until the answer (it is paused then), which the machine's load changes little")
	for _, line := range report {
		t.Log("cold start: " + line)
	}
	dir := ".build"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "coldstart.txt")
	body := fmt.Sprintf("# %s, docker start -> first $SRV.PING answer\n%s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(report, "\n"))
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("written to tests/containers/%s", path)
}

// bindKind is TestColdStart's orders with its binary on a bind mount.
const bindKind = "orders-bind"

// imageBinary copies the function's binary out of its image, for a bind
// mount: the same bytes as the image's /function. The container it is
// copied from is never started; the stack removes it.
func (s *stack) imageBinary(name string) string {
	s.t.Helper()
	f, err := s.runFunction(functionSpec{name: name, instance: name + "-binary", noStart: true})
	if err != nil {
		s.t.Fatalf("create %s-binary: %v", name, err)
	}
	rc, err := f.c.CopyFileFromContainer(s.ctx, "/function")
	if err != nil {
		s.t.Fatalf("copy /function out of %s: %v", functionImage(name), err)
	}
	defer rc.Close()
	path := filepath.Join(s.t.TempDir(), name)
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := io.Copy(out, rc); err != nil {
		s.t.Fatalf("copy /function out of %s: %v", functionImage(name), err)
	}
	if err := out.Close(); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// engineLine names what the figures depend on beside the code: the
// Docker engine, its storage driver (with fuse-overlayfs every container
// start reads the pages its binary touches through a FUSE daemon, so the
// time before main grows with the binary), and each image's size.
func (s *stack) engineLine(images []string) string {
	info, err := s.docker.Info(s.ctx, client.InfoOptions{})
	if err != nil {
		s.t.Fatalf("docker info: %v", err)
	}
	sizes := make([]string, len(images))
	for i, ref := range images {
		img, err := s.docker.ImageInspect(s.ctx, ref)
		if err != nil {
			s.t.Fatalf("inspect %s: %v", ref, err)
		}
		sizes[i] = fmt.Sprintf("%s %.1f MB", ref, float64(img.Size)/1e6)
	}
	return fmt.Sprintf("engine: Docker %s, storage driver %s; images: %s",
		info.Info.ServerVersion, info.Info.Driver, strings.Join(sizes, ", "))
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2]
}

func ms(ds []time.Duration) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.Milliseconds()
	}
	return out
}

// buildPinger builds testdata/pinger static and its FROM scratch image,
// as infra/infra.mk builds a function's.
func buildPinger(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "natsfn-pinger-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "pinger"),
		"./tests/containers/testdata/pinger")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the pinger: %w\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY pinger /pinger\nUSER 65532:65532\nENTRYPOINT [\"/pinger\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	image := exec.CommandContext(ctx, "docker", "build", "--quiet", "--label", "io.natsfn.project=natsfn", "-t", pingerImage, dir)
	image.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := image.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build %s: %w\n%s", pingerImage, err, out)
	}
	return nil
}

// createPinger creates, without starting it, a pinger container run as a
// function is (functions_test.go runFunction): the same network, user,
// read-only root, dropped capabilities and published port, so that only
// the image and the process differ.
func (s *stack) createPinger(instance string) (*function, error) {
	env := functionEnv("orders", instance)
	env["NATSFN_PINGER_NAME"] = "pinger"
	c, err := testcontainers.Run(s.ctx, pingerImage,
		testcontainers.WithLogger(tclog.TestLogger(s.t)),
		testcontainers.WithEnv(env),
		testcontainers.WithLabels(projectLabel),
		testcontainers.WithExposedPorts("8080/tcp"),
		loopbackPorts("8080/tcp"),
		network.WithNetwork([]string{instance}, s.net),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ReadonlyRootfs = true
			hc.CapDrop = []string{"ALL"}
			hc.SecurityOpt = []string{"no-new-privileges:true"}
		}),
		testcontainers.WithNoStart(),
	)
	s.own(c, instance)
	return &function{name: "pinger", instance: instance, c: c}, err
}

// coldStartRun is one cold start: the time from `docker start` until the
// instance first answered a micro PING as its own instance, the part of it
// after the engine started the process (State.StartedAt), the CPU time the
// container used until then, and how long the engine's start call took to
// return; and the moments the process started and the answer came. The
// engine stamps StartedAt once its runtime says the process started: on
// a loaded machine that can come after the process answered (a CI run at
// load average 8 measured one start at -7 ms in the process).
type coldStartRun struct {
	total, inProcess, cpu, call time.Duration
	started, answered           time.Time
}

// coldStart starts the created container f and measures its coldStartRun.
// The container is paused at the answer, so that what it does next is not
// counted in its CPU time, then resumed. It pings every millisecond from
// just before `docker start`.
func (s *stack) coldStart(f *function) coldStartRun {
	s.t.Helper()
	nc := s.admin.nc
	answered := make(chan time.Time, 1)
	// A reply subject per PING, as a request has: the functions' users may
	// answer only through allow_responses, one reply per request, and a
	// reply subject shared by the PINGs queued for a starting instance
	// had all but one of its answers refused (permissions violations in
	// its log, and an answer the test might not see).
	inbox := nc.NewInbox()
	sub, err := nc.Subscribe(inbox+".*", func(m *nats.Msg) {
		var p micro.Ping
		if json.Unmarshal(m.Data, &p) == nil && p.Metadata["instance"] == f.instance {
			select {
			case answered <- time.Now():
			default:
			}
		}
	})
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		s.t.Fatal(err)
	}
	subject := micro.APIPrefix + ".PING." + f.name
	stop := make(chan struct{})
	pinging := make(chan struct{})
	go func() {
		defer close(pinging)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			_ = nc.PublishRequest(subject, inbox+"."+strconv.Itoa(n), nil)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); <-pinging }()

	start := time.Now()
	if _, err := s.docker.ContainerStart(s.ctx, f.c.GetContainerID(), client.ContainerStartOptions{}); err != nil {
		s.t.Fatalf("docker start %s: %v", f.instance, err)
	}
	call := time.Since(start)
	select {
	case at := <-answered:
		id := f.c.GetContainerID()
		if _, err := s.docker.ContainerPause(s.ctx, id, client.ContainerPauseOptions{}); err != nil {
			s.t.Fatalf("pause %s: %v", f.instance, err)
		}
		cpu := s.cpuUsed(id)
		if _, err := s.docker.ContainerUnpause(s.ctx, id, client.ContainerUnpauseOptions{}); err != nil {
			s.t.Fatalf("unpause %s: %v", f.instance, err)
		}
		st, err := f.c.State(s.ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		started, err := time.Parse(time.RFC3339Nano, st.StartedAt)
		if err != nil {
			s.t.Fatalf("%s StartedAt %q: %v", f.instance, st.StartedAt, err)
		}
		return coldStartRun{total: at.Sub(start), inProcess: at.Sub(started), cpu: cpu, call: call, started: started, answered: at}
	case <-time.After(60 * time.Second):
		s.t.Fatalf("%s never answered a PING within 60s of docker start: %s", f.instance, lastLogLine(s.ctx, f.c))
		return coldStartRun{}
	}
}

// cpuUsed is the CPU time a container used so far (its cgroup's, from
// one stats sample).
func (s *stack) cpuUsed(id string) time.Duration {
	s.t.Helper()
	res, err := s.docker.ContainerStats(s.ctx, id, client.ContainerStatsOptions{})
	if err != nil {
		s.t.Fatalf("stats %s: %v", id[:12], err)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		s.t.Fatalf("stats %s: %v", id[:12], err)
	}
	return time.Duration(st.CPUStats.CPUUsage.TotalUsage)
}

// serviceStarted is the text log line of runtime.Start's "service
// started", with the time it was logged and the startup it took.
var serviceStarted = regexp.MustCompile(`^time=(\S+) .*msg="service started" .*startup=(\S+)`)

// startSplit splits a function's time in the process at its call of
// runtime.Start: before it, the Go runtime's start, the package inits and
// reading the config; after it, the connection, JetStream and the micro
// service. The call is when the instance logged "service started" less
// the startup the line gives, which the function logs just after it
// answers (it is waited for, up to 10 s). The log's clock is the host's.
func (s *stack) startSplit(f *function, run coldStartRun) (before, after time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if called, ok := s.startCalled(f); ok {
			return called.Sub(run.started), run.answered.Sub(called)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s logged no \"service started\" within 10s of its answer: %s", f.instance, lastLogLine(s.ctx, f.c))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startCalled is when f called runtime.Start, from its "service started"
// line, if it logged one.
func (s *stack) startCalled(f *function) (time.Time, bool) {
	s.t.Helper()
	rc, err := f.c.Logs(s.ctx)
	if err != nil {
		s.t.Fatalf("logs of %s: %v", f.instance, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		// Docker's log stream heads each line with 8 bytes of framing.
		line := sc.Text()
		if i := strings.Index(line, "time="); i > 0 {
			line = line[i:]
		}
		m := serviceStarted.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			s.t.Fatalf("%s: time in %q: %v", f.instance, line, err)
		}
		startup, err := time.ParseDuration(m[2])
		if err != nil {
			s.t.Fatalf("%s: startup in %q: %v", f.instance, line, err)
		}
		return at.Add(-startup), true
	}
	return time.Time{}, false
}
