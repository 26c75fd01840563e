package contracts

// JetStream KV buckets, where the functions keep their state.
const (
	// BucketOrders holds the order views, keyed by order id (orders).
	BucketOrders = "orders"
	// BucketStock holds each product's quantity and price, keyed by product
	// id, and what was reserved for each order, keyed by
	// "reservation/<order id>" (inventory). Both are in one bucket so that
	// one transaction changes an order's stock and its reservation together.
	BucketStock = "stock"
	// BucketPayments holds the charges, keyed by order id (payments).
	BucketPayments = "payments"
	// BucketIdempotency remembers the replies to requests that carried an Idempotency-Key.
	BucketIdempotency = "idempotency"
)
