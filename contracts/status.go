package contracts

// OrderStatus is where an order stands. It only moves forward:
// pending → reserved → confirmed, or to cancelled from pending or reserved.
type OrderStatus string

// The order statuses.
const (
	// StatusPending: the order is recorded; stock is not reserved yet.
	StatusPending OrderStatus = "pending"
	// StatusReserved: the stock is reserved; the payment is under way.
	StatusReserved OrderStatus = "reserved"
	// StatusConfirmed: the order is paid. Final.
	StatusConfirmed OrderStatus = "confirmed"
	// StatusCancelled: the order is cancelled; see its Reason. Final.
	StatusCancelled OrderStatus = "cancelled"
)

// Reason says why an order was cancelled, or why inventory rejected it.
type Reason string

// The reasons.
const (
	// ReasonOutOfStock: an item did not have enough stock.
	ReasonOutOfStock Reason = "out_of_stock"
	// ReasonUnknownProduct: an item names a product inventory does not
	// know. Inventory rejects with it; orders may keep it as the
	// cancellation reason or report out_of_stock.
	ReasonUnknownProduct Reason = "unknown_product"
	// ReasonPaymentDeclined: the payment was declined.
	ReasonPaymentDeclined Reason = "payment_declined"
	// ReasonCancelledByCustomer: the customer cancelled through orders.cancel.
	ReasonCancelledByCustomer Reason = "cancelled_by_customer"
)
