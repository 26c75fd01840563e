package contracts

// JetStream KV buckets, where the functions keep their state.
const (
	// BucketOrders holds the order views, keyed by order id (orders).
	BucketOrders = "orders"
	// BucketStock holds each product's quantity and price, keyed by product id (inventory).
	BucketStock = "stock"
	// BucketReservations holds what was reserved for an order, keyed by order id (inventory).
	BucketReservations = "reservations"
	// BucketPayments holds the charges, keyed by order id (payments).
	BucketPayments = "payments"
	// BucketIdempotency remembers the replies to requests that carried an Idempotency-Key.
	BucketIdempotency = "idempotency"
)
