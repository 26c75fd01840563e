package infra_test

import (
	"strconv"
	"testing"
)

// TestPaymentsStandby: compose runs a third payments instance as an
// overflow standby: its own readable id, the payments user and image, and
// a NATSFN_MIN_PENDING the runtime accepts (a positive count). The
// charge handler is runtime.Overflow() (functions/payments), which makes
// the setting mean "charge only while that many wait".
func TestPaymentsStandby(t *testing.T) {
	f := loadCompose(t, "compose.yaml")
	s, ok := f.Services["payments-standby"]
	if !ok {
		t.Fatal("no service payments-standby")
	}
	if id := s.env("NATSFN_INSTANCE_ID"); id != "payments-standby" || s.Hostname != id {
		t.Errorf("instance id %q, hostname %q", id, s.Hostname)
	}
	if s.env("NATS_USER") != "payments" || expand(s.Image) != "natsfn/payments:dev" {
		t.Errorf("user %q image %q, want payments' own", s.env("NATS_USER"), expand(s.Image))
	}
	if n, err := strconv.ParseInt(s.env("NATSFN_MIN_PENDING"), 10, 64); err != nil || n <= 0 {
		t.Errorf("NATSFN_MIN_PENDING %q, want a positive count", s.env("NATSFN_MIN_PENDING"))
	}
	for _, other := range []string{"payments-1", "payments-2"} {
		if v := f.Services[other].env("NATSFN_MIN_PENDING"); v != "" {
			t.Errorf("%s has NATSFN_MIN_PENDING %q: it would be a standby too", other, v)
		}
	}
}
