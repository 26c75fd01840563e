package containers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// coldStartGoal is what a function should take from `docker start` to its
// first answer. It is a measurement, not a pass mark.
const coldStartGoal = 100 * time.Millisecond

// TestColdStart measures, for every function, the time from `docker start`
// of a created (never started) container to its first answer to a micro
// PING ($SRV.PING.<name>) as its own instance id, on a running cluster
// where its streams and buckets already exist. The figures go to the test
// log as "cold start: <ms> ms" and to tests/containers/.build/coldstart.txt.
// The test fails only when an instance never answers.
func TestColdStart(t *testing.T) {
	s := newStack(t, 1)
	var report []string
	for _, fn := range functionNames {
		spec := functionSpec{name: fn, instance: fn + "-cold", noStart: true}
		cold, err := s.runFunction(spec)
		if err != nil {
			t.Fatalf("create %s: %v", spec.instance, err)
		}
		d, inProcess := s.coldStart(cold)
		verdict := "within"
		if d > coldStartGoal {
			verdict = "over"
		}
		line := fmt.Sprintf("cold start: %d ms %s (process start to PING %d ms; goal %d ms, %s)",
			d.Milliseconds(), fn, inProcess.Milliseconds(), coldStartGoal.Milliseconds(), verdict)
		t.Log(line)
		report = append(report, line)
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

// coldStart starts the created container f and returns the time until f
// first answers a micro PING as its own instance, and the part of it after
// the engine started the process (State.StartedAt). It pings every
// millisecond from just before `docker start`.
func (s *stack) coldStart(f *function) (total, inProcess time.Duration) {
	s.t.Helper()
	nc := s.admin.nc
	answered := make(chan time.Time, 1)
	inbox := nc.NewRespInbox()
	sub, err := nc.Subscribe(inbox, func(m *nats.Msg) {
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
		for {
			_ = nc.PublishRequest(subject, inbox, nil)
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
	select {
	case at := <-answered:
		st, err := f.c.State(s.ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		started, err := time.Parse(time.RFC3339Nano, st.StartedAt)
		if err != nil {
			s.t.Fatalf("%s StartedAt %q: %v", f.instance, st.StartedAt, err)
		}
		return at.Sub(start), at.Sub(started)
	case <-time.After(60 * time.Second):
		s.t.Fatalf("%s never answered a PING within 60s of docker start: %s", f.instance, lastLogLine(s.ctx, f.c))
		return 0, 0
	}
}
