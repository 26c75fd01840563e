// Package embedded runs a nats-server with JetStream inside the process: the
// all-in-one local mode and tests use it, so NATS stays the only piece of
// infrastructure and nothing else needs installing.
package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config describes an embedded server.
type Config struct {
	// Host to listen on; 127.0.0.1 by default.
	Host string
	// Port to listen on; -1 picks a free port, 0 means 4222.
	Port int
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// ServerName names the server; "natsfn" by default.
	ServerName string
	// MaxPayload is the largest message; 8 MiB by default, so that a
	// function can answer an oversized request with a 413 itself.
	MaxPayload int32
	// Logs turns the server's own log on (to stderr).
	Logs bool
}

// DefaultMaxPayload is the embedded server's max_payload.
const DefaultMaxPayload = 8 << 20

// Server is a running embedded server.
type Server struct {
	*server.Server
}

// Start starts a server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded: StoreDir is required for JetStream")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "natsfn"
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		MaxPayload: cfg.MaxPayload,
		NoSigs:     true,
	}
	if !cfg.Logs {
		opts.NoLog = true
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if cfg.Logs {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded: server on %s:%d not ready within 10s", cfg.Host, cfg.Port)
	}
	return &Server{Server: s}, nil
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}
