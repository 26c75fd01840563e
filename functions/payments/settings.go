package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

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

// readSettings returns the stored settings and their revision, 0 when
// none were ever set.
func (f *function) readSettings(ctx context.Context) (contracts.GatewayReply, uint64, error) {
	e, err := f.gateway.Get(ctx, settingsKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return defaultSettings, 0, nil
	}
	if err != nil {
		return defaultSettings, 0, runtime.Unavailable(err, "gateway settings could not be read")
	}
	s, err := decodeSettings(e.Value())
	return s, e.Revision(), err
}

// getGateway serves payments.gateway.get.
func (f *function) getGateway(ctx context.Context, _ contracts.GetGatewayRequest) (contracts.GatewayReply, error) {
	s, _, err := f.readSettings(ctx)
	return s, err
}

// setGateway serves payments.gateway.set: the mode is set, and the
// failure rate and latency too when given (they keep their value
// otherwise). Every instance's simulated gateway sees the change through
// its watch.
func (f *function) setGateway(ctx context.Context, req contracts.SetGatewayRequest) (contracts.GatewayReply, error) {
	for {
		s, rev, err := f.readSettings(ctx)
		if err != nil {
			return s, err
		}
		s.Mode = req.Mode
		if req.FailureRate != nil {
			s.FailureRate = *req.FailureRate
		}
		if req.LatencyMS != nil {
			s.LatencyMS = *req.LatencyMS
		}
		data, _ := json.Marshal(s) // a struct of plain values always encodes
		if rev == 0 {
			_, err = f.gateway.Create(ctx, settingsKey, data)
		} else {
			_, err = f.gateway.Update(ctx, settingsKey, data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // a concurrent set came first: apply ours on top of it
		}
		if err != nil {
			return s, runtime.Unavailable(err, "gateway settings could not be written")
		}
		f.logger.InfoContext(ctx, "gateway settings changed", "mode", s.Mode, "failure_rate", s.FailureRate, "latency_ms", s.LatencyMS)
		return s, nil
	}
}
