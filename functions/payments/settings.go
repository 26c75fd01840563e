package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// settingsKey is the key of the simulated gateway's settings.
const settingsKey = "settings"

// defaultSettings apply until payments.gateway.set is first called.
var defaultSettings = contracts.GatewayReply{Mode: contracts.GatewayOK}

func decodeSettings(data []byte) (contracts.GatewayReply, error) {
	s := defaultSettings
	if err := json.Unmarshal(data, &s); err != nil {
		return defaultSettings, fmt.Errorf("gateway settings: %v: %w", err, runtime.ErrInternal)
	}
	return s, nil
}

// readSettings returns the stored settings, the defaults when none were
// ever set. "None" read on a replica is read again from the leader.
func (f *function) readSettings(ctx context.Context) (contracts.GatewayReply, error) {
	s, _, err := f.settings.Get(ctx, settingsKey)
	if errors.Is(err, runtime.ErrNotFound) {
		s, _, err = f.settings.GetLatest(ctx, settingsKey)
	}
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return defaultSettings, nil
	case err != nil:
		return defaultSettings, fmt.Errorf("read the gateway settings: %w", err)
	}
	return s, nil
}

// getGateway serves payments.gateway.get.
func (f *function) getGateway(ctx context.Context, _ contracts.GetGatewayRequest) (contracts.GatewayReply, error) {
	return f.readSettings(ctx)
}

// setGateway serves payments.gateway.set: the mode is set, and the
// failure rate and latency too when given (they keep their value
// otherwise); a concurrent set is applied first and ours on top of it
// (Modify). Every instance's simulated gateway sees the change through
// its watch.
func (f *function) setGateway(ctx context.Context, req contracts.SetGatewayRequest) (contracts.GatewayReply, error) {
	s, _, err := f.settings.Modify(ctx, settingsKey, func(s *contracts.GatewayReply, exists bool) error {
		if !exists {
			*s = defaultSettings
		}
		s.Mode = req.Mode
		if req.FailureRate != nil {
			s.FailureRate = *req.FailureRate
		}
		if req.LatencyMS != nil {
			s.LatencyMS = *req.LatencyMS
		}
		return nil
	})
	if err != nil {
		return defaultSettings, fmt.Errorf("write the gateway settings: %w", err)
	}
	f.logger.InfoContext(ctx, "gateway settings changed", "mode", s.Mode, "failure_rate", s.FailureRate, "latency_ms", s.LatencyMS)
	return s, nil
}
