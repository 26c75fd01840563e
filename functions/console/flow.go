package console

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
)

// token is what an id in a URL must look like: the contracts' id tokens,
// so that nothing a page sends can widen a NATS subject.
var token = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// fnName is a function name in a URL: one subject token.
var fnName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// placedReply is the reply to placing an order from the console.
type placedReply struct {
	OrderID       string                `json:"order_id"`
	Status        contracts.OrderStatus `json:"status"`
	TraceID       string                `json:"trace_id"`
	CorrelationID string                `json:"correlation_id,omitempty"`
}

// placeOrder forwards a create request as it is (orders validates it
// against its schema, and its error reaches the page) with a new trace.
// key is the page's Idempotency-Key for this order, or "": orders answers
// the same key and body with the same order, so a placement the page sends
// again after its answer was lost places nothing twice. Its trace id is
// derived from the key, so the second answer names the first's trace, the
// one the order's events carry.
func (c *Console) placeOrder(ctx context.Context, body []byte, key string) (placedReply, error) {
	if !json.Valid(body) {
		return placedReply{}, errorf(http.StatusBadRequest, "the order is not JSON")
	}
	hdr := nats.Header{}
	var tp string
	if key == "" {
		tp = newTraceparent()
	} else {
		tp = keyedTraceparent(key)
		hdr[headerIdempotencyKey] = []string{key}
	}
	hdr[headerTraceparent] = []string{tp}
	m, err := c.request(ctx, contracts.SubjectOrdersCreate, body, hdr)
	if err != nil {
		return placedReply{}, err
	}
	var r contracts.CreateOrderReply
	if err := json.Unmarshal(m.Data, &r); err != nil || r.OrderID == "" {
		return placedReply{}, &apiError{Status: http.StatusBadGateway, Subject: contracts.SubjectOrdersCreate,
			Message: "reply has no order_id: " + string(m.Data)}
	}
	traceID, _ := traceIDs(tp)
	p := placedReply{OrderID: r.OrderID, Status: r.Status, TraceID: traceID, CorrelationID: m.Header.Get(headerCorrelationID)}
	c.hub.place(r.OrderID, placed{traceID: p.TraceID, correlationID: p.CorrelationID})
	return p, nil
}

func (c *Console) order(ctx context.Context, id string) (contracts.OrderView, error) {
	var v contracts.OrderView
	if !token.MatchString(id) {
		return v, errorf(http.StatusBadRequest, "%q is not an order id", id)
	}
	err := c.call(ctx, contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: id}, &v)
	return v, err
}

func (c *Console) cancelOrder(ctx context.Context, id string) (contracts.CancelOrderReply, error) {
	var r contracts.CancelOrderReply
	if !token.MatchString(id) {
		return r, errorf(http.StatusBadRequest, "%q is not an order id", id)
	}
	err := c.call(ctx, contracts.SubjectOrdersCancel, contracts.CancelOrderRequest{OrderID: id}, &r)
	return r, err
}

func (c *Console) stock(ctx context.Context, product string) (contracts.StockReply, error) {
	var r contracts.StockReply
	if !token.MatchString(product) {
		return r, errorf(http.StatusBadRequest, "%q is not a product id", product)
	}
	err := c.call(ctx, contracts.SubjectInventoryStockGet, contracts.GetStockRequest{ProductID: product}, &r)
	return r, err
}

func (c *Console) gateway(ctx context.Context) (contracts.GatewayReply, error) {
	var r contracts.GatewayReply
	err := c.call(ctx, contracts.SubjectPaymentsGatewayGet, contracts.GetGatewayRequest{}, &r)
	return r, err
}

// setGateway forwards the settings as they are: payments validates them.
func (c *Console) setGateway(ctx context.Context, body []byte) (contracts.GatewayReply, error) {
	var r contracts.GatewayReply
	if !json.Valid(body) {
		return r, errorf(http.StatusBadRequest, "the gateway settings are not JSON")
	}
	m, err := c.request(ctx, contracts.SubjectPaymentsGatewaySet, body, nil)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return r, &apiError{Status: http.StatusBadGateway, Subject: contracts.SubjectPaymentsGatewaySet, Message: err.Error()}
	}
	return r, nil
}
