package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
)

// event is one saga event the console saw on NATS.
type event struct {
	// Seq numbers the events the console saw, from 1; a page that
	// reconnects skips those it has.
	Seq int64 `json:"seq"`
	// Subject is the event's subject, e.g. "inventory.reserved".
	Subject string `json:"subject"`
	// OrderID is the order_id of the payload.
	OrderID string `json:"order_id"`
	// TraceID and SpanID come from the traceparent header.
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
	// CorrelationID is the X-Correlation-ID header.
	CorrelationID string `json:"correlation_id,omitempty"`
	// Source is the function that emitted it (the ce-source header).
	Source string `json:"source,omitempty"`
	// Replay names the consumer a dead-letter replay is for, if it is one.
	Replay string `json:"replay,omitempty"`
	// At is when the console received it.
	At time.Time `json:"at"`
	// Summary says what it means, for a human.
	Summary string `json:"summary"`
	// Data is the payload.
	Data json.RawMessage `json:"data"`
}

// payload holds the fields of every saga event the console summarises.
type payload struct {
	OrderID     string            `json:"order_id"`
	CustomerID  string            `json:"customer_id"`
	Items       []json.RawMessage `json:"items"`
	TotalCents  int64             `json:"total_cents"`
	AmountCents int64             `json:"amount_cents"`
	Reason      string            `json:"reason"`
	ProductID   string            `json:"product_id"`
	PaymentID   string            `json:"payment_id"`
	Cause       string            `json:"cause"`
}

// eventOf decodes a message on an event subject. A payload that is not a
// JSON object with an order_id is still an event (a malformed one is how a
// dead letter starts), matched to no order.
func eventOf(msg *nats.Msg, at time.Time) event {
	var p payload
	err := json.Unmarshal(msg.Data, &p)
	traceID, spanID := traceIDs(headerValue(msg.Header, headerTraceparent))
	ev := event{
		Subject:       msg.Subject,
		OrderID:       p.OrderID,
		TraceID:       traceID,
		SpanID:        spanID,
		CorrelationID: headerValue(msg.Header, headerCorrelationID),
		Source:        headerValue(msg.Header, headerSource),
		Replay:        headerValue(msg.Header, headerReplayFor),
		At:            at,
		Data:          json.RawMessage(append([]byte(nil), msg.Data...)),
	}
	switch {
	case !json.Valid(msg.Data):
		// Data must stay valid JSON: it is marshalled to the page.
		ev.Data = nil
		ev.Summary = "malformed: not valid JSON"
	case err != nil:
		ev.Summary = "malformed: " + err.Error()
	default:
		ev.Summary = summary(msg.Subject, p)
	}
	return ev
}

func money(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// summary says in a few words what an event means for its order.
func summary(subject string, p payload) string {
	switch subject {
	case contracts.SubjectOrdersCreated:
		return fmt.Sprintf("placed by %s: %s", p.CustomerID, plural(len(p.Items), "item"))
	case contracts.SubjectInventoryReserved:
		return fmt.Sprintf("stock reserved: %s, total %s", plural(len(p.Items), "item"), money(p.TotalCents))
	case contracts.SubjectInventoryRejected:
		return fmt.Sprintf("stock rejected: %s (%s)", p.Reason, p.ProductID)
	case contracts.SubjectPaymentsCompleted:
		return fmt.Sprintf("charged %s (%s)", money(p.AmountCents), p.PaymentID)
	case contracts.SubjectPaymentsFailed:
		return fmt.Sprintf("payment failed: %s, %s not charged", p.Reason, money(p.AmountCents))
	case contracts.SubjectPaymentsRefunded:
		return fmt.Sprintf("refunded %s (%s)", money(p.AmountCents), p.PaymentID)
	case contracts.SubjectOrdersConfirmed:
		return fmt.Sprintf("confirmed: paid %s (%s)", money(p.TotalCents), p.PaymentID)
	case contracts.SubjectOrdersCancelled:
		return "cancelled: " + p.Reason
	case contracts.SubjectInventoryReleased:
		return fmt.Sprintf("stock released: %s, because of %s", plural(len(p.Items), "item"), p.Cause)
	}
	return strings.TrimSpace(subject)
}

// eventSubjects are the subjects the console listens to: every saga event.
func eventSubjects() []string {
	var s []string
	for _, ev := range contracts.Events() {
		s = append(s, ev.Subject())
	}
	return s
}
