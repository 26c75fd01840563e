package containers

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Images the suites run, built by `make image-nats image-functions` with
// the same NATSFN_TAG (dev when unset), so that a run with its own tag
// neither uses nor replaces another tree's images.
var (
	imageTag  = cmp.Or(os.Getenv("NATSFN_TAG"), "dev")
	natsImage = "natsfn/nats-server:" + imageTag
)

// functionNames are the three functions of the order flow.
var functionNames = []string{"orders", "inventory", "payments"}

// dockerMissing says why no test can run, or is empty when a Docker engine
// answered. TestMain sets it once, before any test starts.
var dockerMissing string

// TestMain checks for a Docker engine and builds the images once. Without
// an engine every test skips with the reason; a failed build fails the run.
func TestMain(m *testing.M) {
	switch v, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); {
	case !ok:
		// No registry here, so Ryuk's image cannot be pulled; the tests
		// remove what they create in t.Cleanup instead.
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	case v != "true":
		fmt.Fprintf(os.Stderr, "containers: TESTCONTAINERS_RYUK_DISABLED=%q: testcontainers will try to pull Ryuk\n", v)
	}
	// Ports are published on 127.0.0.1 only, and the engine runs on this
	// host; without this, testcontainers run inside a container (as CI is)
	// would wait on the bridge gateway's address instead.
	if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !ok {
		_ = os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	if reason := dockerHealth(); reason != "" {
		reason = strings.Join(strings.Fields(reason), " ")
		dockerMissing = "no Docker engine reachable: skipping the container suites (" + reason + ")"
		fmt.Fprintln(os.Stderr, dockerMissing)
		os.Exit(m.Run())
	}
	if err := buildImages(); err != nil {
		fmt.Fprintln(os.Stderr, "containers:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// dockerHealth asks testcontainers' provider whether the engine answers and
// returns why not, or "".
func dockerHealth() (reason string) {
	defer func() {
		if r := recover(); r != nil {
			reason = fmt.Sprint(r)
		}
	}()
	p, err := testcontainers.ProviderDefault.GetProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return err.Error()
	}
	defer func() { _ = p.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.Health(ctx); err != nil {
		return err.Error()
	}
	return ""
}

// buildImages runs `make image-nats image-functions` at the module root, so
// the suites test the tree as it is. NATSFN_TEST_BUILD=0 keeps images that
// exist already (and builds only when one is missing).
func buildImages() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if os.Getenv("NATSFN_TEST_BUILD") == "0" && imagesExist() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "image-nats", "image-functions")
	cmd.Dir = root
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("make image-nats image-functions (in %s): %w\n%s", root, err, out)
	}
	fmt.Fprintf(os.Stderr, "containers: images built in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// imagesExist reports whether every image the suites run is present.
func imagesExist() bool {
	images := []string{natsImage}
	for _, fn := range functionNames {
		images = append(images, functionImage(fn))
	}
	for _, img := range images {
		if exec.Command("docker", "image", "inspect", img).Run() != nil {
			return false
		}
	}
	return true
}

func functionImage(fn string) string { return "natsfn/" + fn + ":" + imageTag }

// moduleRoot is the directory holding go.mod, two levels up from here.
func moduleRoot() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("module root not found from the package directory: %w", err)
	}
	return root, nil
}
