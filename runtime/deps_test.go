package runtime_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeanDependencies: the runtime, which every function binary links,
// does not link protobuf (not even protowire, whose package reads the
// running binary at init through internal/detrand), Prometheus's client
// library or gRPC. Each one came in through an exporter and made every
// image bigger and every container start slower (runtime/README.md, "Metrics" and
// "Tracing"; README, "Cold start"); internal/otlp and internal/promtext
// write their formats instead.
func TestLeanDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/natsfn/natsfn/runtime").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	banned := []string{"google.golang.org/protobuf/", "google.golang.org/grpc",
		"github.com/prometheus/", "go.opentelemetry.io/proto/"}
	for pkg := range strings.Lines(string(out)) {
		pkg = strings.TrimSpace(pkg)
		for _, b := range banned {
			if strings.HasPrefix(pkg, b) {
				t.Errorf("the runtime links %s", pkg)
			}
		}
	}
}
