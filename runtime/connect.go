package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// inboxPrefix is where the replies to a function's own requests (JetStream
// API calls, KV, fetches) arrive: "_INBOX_<service>.>", so that its NATS
// user may subscribe to that and not to every client's _INBOX.>.
func inboxPrefix(service string) string { return "_INBOX_" + service }

// dialed is the outcome of dial.
type dialed struct {
	nc  *nats.Conn
	err error
}

// dial connects in the background and hands over the outcome, once.
func dial(ctx context.Context, cfg Config, name string, logger *slog.Logger) <-chan dialed {
	ch := make(chan dialed, 1)
	go func() {
		nc, err := connect(ctx, cfg, name, logger)
		ch <- dialed{nc, err}
	}()
	return ch
}

// connect dials NATS with the config's credentials. It retries the first
// connection until ctx ends or ConnectTimeout passes, reconnects forever with
// jittered backoff, and logs every disconnect and reconnect to logger, which
// names the function. The connection is named "<name>/<instance>" and its
// inboxes are the function's own.
func connect(ctx context.Context, cfg Config, name string, logger *slog.Logger) (*nats.Conn, error) {
	connected := make(chan struct{}, 1)
	opts := []nats.Option{
		nats.Name(name + "/" + cfg.InstanceID),
		nats.CustomInboxPrefix(inboxPrefix(name)),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(16 << 20),
		// Leave a server that stopped answering (paused, its host frozen,
		// the link black-holed) after two PINGs without a PONG: 6 to 9 s,
		// where 10 s x 3 took 30 to 40 s and nats.go's defaults 4 to 6
		// minutes. Drill d (the meta leader paused for 15 s) saw the two
		// instances connected to it hold their events for the whole
		// pause, never noticing it (TestSilentServerLeft).
		nats.PingInterval(3 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(nc *nats.Conn) {
			logger.Info("connected to NATS", "server", nc.ConnectedUrlRedacted())
			connected <- struct{}{}
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err == nil && (nc.IsClosed() || nc.IsDraining()) {
				return // a graceful stop: "NATS connection closed" says it
			}
			logger.Warn("disconnected from NATS", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			logger.Info("NATS connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("NATS async error", "subject", subject, "error", err)
		}),
	}
	switch {
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	case cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("%w: NATS_NKEY_SEED: %w", ErrConfigValidation, err)
		}
		opts = append(opts, o)
	}
	if cfg.InProcessServer != nil {
		opts = append(opts, nats.InProcessServer(cfg.InProcessServer))
	}
	tc, err := cfg.natsTLS()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, nats.Secure(tc))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", cfg.NATSURL, err)
	}
	if nc.IsConnected() {
		return nc, nil
	}
	timer := time.NewTimer(cfg.ConnectTimeout)
	defer timer.Stop()
	// Failed attempts leave their error in LastError until the next one: a
	// TLS handshake that failed for want of the right CA or certificate
	// would fail the same way until the timeout, so it ends the wait.
	check := time.NewTicker(20 * time.Millisecond)
	defer check.Stop()
	for {
		select {
		case <-connected:
			return nc, nil
		case <-check.C:
			if why := tlsRefused(nc.LastError()); why != "" {
				nc.Close()
				return nil, fmt.Errorf("%w: connect %s: TLS: %s", ErrConfigValidation, cfg.NATSURL, why)
			}
		case <-timer.C:
			nc.Close()
			return nil, fmt.Errorf("connect %s: no server answered within %s (NATSFN_CONNECT_TIMEOUT)", cfg.NATSURL, cfg.ConnectTimeout)
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("connect %s: %w", cfg.NATSURL, ctx.Err())
		}
	}
}
