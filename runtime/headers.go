package runtime

import "strconv"

// Headers the runtime reads and writes. Event headers follow the CloudEvents
// NATS binding (ce-*) where an attribute fits.
const (
	HeaderCorrelationID  = "X-Correlation-ID"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderCausationID    = "Natsfn-Causation-Id"
	HeaderCEID           = "ce-id"
	HeaderCEType         = "ce-type"
	HeaderCESource       = "ce-source"
	HeaderCESchema       = "ce-dataschema"
	HeaderCESpecVersion  = "ce-specversion"
	HeaderCETime         = "ce-time"

	// HeaderReplayFor names the one consumer a dead-letter replay is for;
	// every other consumer of the subject acks it without running.
	HeaderReplayFor = "Natsfn-Replay-For"
)

func uitoa(v uint64) string { return strconv.FormatUint(v, 10) }
