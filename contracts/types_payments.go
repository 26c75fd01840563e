package contracts

// GatewayMode is how the simulated payment gateway behaves.
type GatewayMode string

// The gateway modes.
const (
	// GatewayOK charges, declining at random with the failure rate.
	GatewayOK GatewayMode = "ok"
	// GatewayDecline declines every charge.
	GatewayDecline GatewayMode = "decline"
	// GatewayOutage fails every call as unavailable (a transient error).
	GatewayOutage GatewayMode = "outage"
)

// SetGatewayRequest is the request of payments.gateway.set
// (payments.gateway.set.request.v1). The optional fields are pointers so
// that an absent field differs from 0.
type SetGatewayRequest struct {
	// Mode is required.
	Mode GatewayMode `json:"mode"`
	// FailureRate is the probability, 0 to 1, that a charge is declined in
	// GatewayOK mode.
	FailureRate *float64 `json:"failure_rate,omitempty"`
	// LatencyMS delays each gateway call, 0 to 10000 milliseconds.
	LatencyMS *int `json:"latency_ms,omitempty"`
}

// GetGatewayRequest is the request of payments.gateway.get
// (payments.gateway.get.request.v1): an empty object.
type GetGatewayRequest struct{}

// GatewayReply is the reply of payments.gateway.get and
// payments.gateway.set (payments.gateway.reply.v1): the current settings.
type GatewayReply struct {
	// Mode is the current mode.
	Mode GatewayMode `json:"mode"`
	// FailureRate is the probability of a decline in GatewayOK mode.
	FailureRate float64 `json:"failure_rate"`
	// LatencyMS is the delay of each gateway call, in milliseconds.
	LatencyMS int `json:"latency_ms"`
}
