package containers

import (
	"strings"
	"testing"
	"time"
)

// TestStartTogether starts two instances of every function at the same
// moment as the NATS cluster, which is still electing its meta leader, as
// `docker-compose up` of the whole stack or a Kubernetes rollout does.
// Every instance must come up on its first start: a function that exits
// because a booting cluster answered its first JetStream calls late (time
// out, no responders, no suitable peers) only works where something
// restarts it, and crash-loops meanwhile.
func TestStartTogether(t *testing.T) {
	s := newStackWith(t, stackConfig{replicas: 2, bootTogether: true})
	if len(s.startupExits) > 0 {
		var b strings.Builder
		for _, e := range s.startupExits {
			b.WriteString("\n  " + e.instance + ": " + e.last)
		}
		t.Fatalf("%d function containers exited during startup and needed a restart:%s", len(s.startupExits), b.String())
	}
	s.waitAllReady(10 * time.Second)
}
