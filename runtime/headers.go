package runtime

import "strconv"

// Headers a function reads. HeaderCorrelationID follows one business flow
// across every message; a client may send one (at most 128 visible ASCII
// characters) and the runtime makes one otherwise.
const (
	HeaderCorrelationID  = "X-Correlation-ID"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// The rest of the envelope every emitted event carries. Event headers
// follow the CloudEvents NATS binding (ce-*) where an attribute fits.
const (
	headerCausationID   = "Natsfn-Causation-Id"
	headerCEID          = "ce-id"
	headerCEType        = "ce-type"
	headerCESource      = "ce-source"
	headerCESchema      = "ce-dataschema"
	headerCESpecVersion = "ce-specversion"
	headerCETime        = "ce-time"
)

// maxCorrelationID bounds an X-Correlation-ID: it is copied onto every
// event, log line and span of a flow.
const maxCorrelationID = 128

// validCorrelationID reports whether id is 1 to 128 visible ASCII
// characters (no space, no control character).
func validCorrelationID(id string) bool {
	if len(id) == 0 || len(id) > maxCorrelationID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '!' || id[i] > '~' {
			return false
		}
	}
	return true
}

func uitoa(v uint64) string { return strconv.FormatUint(v, 10) }
