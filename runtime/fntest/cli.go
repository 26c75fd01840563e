package fntest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// NatsCLIModule is the natscli version the project uses.
const NatsCLIModule = "github.com/nats-io/natscli/nats@v0.5.0"

var installCLI sync.Mutex

// NatsCLI returns the path of the real `nats` CLI: ./bin/nats at the module
// root (where `make tools` puts it), else one on PATH, else it installs
// natscli from the Go module proxy into ./bin first.
func NatsCLI(t testing.TB) string {
	t.Helper()
	installCLI.Lock()
	defer installCLI.Unlock()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("fntest: go env GOMOD: %v", err)
	}
	bin := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "bin")
	path := filepath.Join(bin, "nats")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	cmd := exec.Command("go", "install", NatsCLIModule)
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fntest: install %s: %v\n%s", NatsCLIModule, err, out)
	}
	return path
}

// Nats runs the nats CLI against the server, as a user would type it, and
// returns its combined output. It fails the test on a non-zero exit.
func (s *Server) Nats(t testing.TB, args ...string) string {
	t.Helper()
	// Install the CLI (once, maybe slowly) before the command's clock starts.
	cli := NatsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, append([]string{"--server", s.ClientURL()}, args...)...)
	cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+t.TempDir())
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, buf.String())
	}
	return buf.String()
}
