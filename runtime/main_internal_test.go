package runtime

import "testing"

func TestMainExitsNonZeroOnBadConfig(t *testing.T) {
	t.Setenv("NATSFN_REPLICAS", "lots")
	svc := NewService(ServiceConfig{Name: "x", Version: "1.0.0"})
	if code := mainCode(nil, svc); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
}
