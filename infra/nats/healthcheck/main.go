// Command healthcheck is the NATS image's Docker HEALTHCHECK. The image is
// FROM scratch, so there is no curl: this static binary GETs the server's
// monitoring endpoint and exits 0 when it answers 200, 1 otherwise.
//
//	healthcheck [URL]
//
// URL defaults to http://127.0.0.1:8222/healthz?js-enabled-only=true: the
// server is up and JetStream is enabled. It does not wait for a meta
// leader, so a node that is running while its peers are down stays healthy
// (make up's wait script asks the full /healthz through the published ports).
//
// It speaks just enough HTTP/1.0 over a raw TCP connection to read the
// status line: with net/http the binary is 5.8 MB instead of 2.2 MB.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// defaultURL is the monitoring port of infra/nats/*.conf (http_port 8222).
const defaultURL = "http://127.0.0.1:8222/healthz?js-enabled-only=true"

// timeout bounds the whole probe; Docker's own timeout is 3s.
const timeout = 2 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	target := defaultURL
	switch len(args) {
	case 0:
	case 1:
		target = args[0]
	default:
		fmt.Fprintln(stderr, "usage: healthcheck [http://host:port/path]")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := probe(ctx, target); err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	return 0
}

// probe GETs target and returns nil when the status is 200.
func probe(ctx context.Context, target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%q is not an http://host:port/path URL", target)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", u.RequestURI(), u.Host); err != nil {
		return err
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	status = strings.TrimSpace(status)
	// "HTTP/1.1 200 OK"
	if f := strings.Fields(status); len(f) < 2 || f[1] != "200" {
		return fmt.Errorf("GET %s: %s", target, status)
	}
	return nil
}
