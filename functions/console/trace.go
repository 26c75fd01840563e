package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/nats-io/nats.go"
)

// Headers the console reads. They are written by the runtime; the console
// names them itself rather than importing the runtime, which it only
// observes from the outside, as any NATS client could.
const (
	headerTraceparent   = "traceparent"
	headerCorrelationID = "X-Correlation-ID"
	headerSource        = "ce-source"
	headerReplayFor     = "Natsfn-Replay-For"
	headerServiceCode   = "Nats-Service-Error-Code"
	headerServiceError  = "Nats-Service-Error"
	// headerIdempotencyKey is what orders.create reads to place an order
	// once however often it is asked.
	headerIdempotencyKey = "Idempotency-Key"
)

// maxIdempotencyKey bounds the Idempotency-Key a page may send.
const maxIdempotencyKey = 128

// validIdempotencyKey reports whether key is 1 to 128 visible ASCII
// characters.
func validIdempotencyKey(key string) bool {
	if key == "" || len(key) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < '!' || key[i] > '~' {
			return false
		}
	}
	return true
}

// headerValue reads a header whatever its case: the server lowercases
// traceparent, and nats.Header.Get is case-sensitive.
func headerValue(h nats.Header, key string) string {
	if v := h.Get(key); v != "" {
		return v
	}
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// newTraceparent starts a W3C trace for an order the console places, so
// that its events carry one trace id even when no function records spans:
// the runtime passes on the traceparent a message arrived with.
func newTraceparent() string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+).
	return traceparentOf(id)
}

// keyedTraceparent is a sampled traceparent whose trace id is the first 16
// bytes of the key's SHA-256 (random enough: the page makes its keys from
// 16 random bytes): every placement with the key has the same trace.
func keyedTraceparent(key string) string {
	sum := sha256.Sum256([]byte("natsfn console order " + key))
	return traceparentOf([16]byte(sum[:16]))
}

// traceparentOf is a sampled traceparent of the trace with a new span id.
func traceparentOf(traceID [16]byte) string {
	var span [8]byte
	_, _ = rand.Read(span[:])
	return "00-" + hex.EncodeToString(traceID[:]) + "-" + hex.EncodeToString(span[:]) + "-01"
}

// traceIDs splits a traceparent into its trace and parent span ids; both
// are empty when it is not a version-00 traceparent.
func traceIDs(tp string) (traceID, spanID string) {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return "", ""
	}
	return parts[1], parts[2]
}
