package contracts

import "strconv"

// The converters between the majors of the reference flow's families:
// plain, pure functions of the payloads. An upcast (major 1 → 2) serves a
// consumer that reads major 2 while producers still publish major 1; it
// never fails. A downcast (2 → 1) serves a producer that has moved to
// major 2 and still publishes major 1 beside it for the consumers that
// have not: it fails for an amount that is not in V1Currency, which major
// 1 cannot express. Each is registered in families.go.

// UpcastInventoryReserved converts an inventory.reserved payload to major 2.
func UpcastInventoryReserved(v InventoryReservedEvent) (InventoryReservedEventV2, error) {
	items := make([]ReservedItemV2, len(v.Items))
	for i, it := range v.Items {
		items[i] = ReservedItemV2{ProductID: it.ProductID, Quantity: it.Quantity, UnitPriceMoney: euroCents(it.UnitPriceCents)}
	}
	return InventoryReservedEventV2{OrderID: v.OrderID, Items: items, TotalMoney: euroCents(v.TotalCents)}, nil
}

// DowncastInventoryReserved converts an inventory.reserved.v2 payload to major 1.
func DowncastInventoryReserved(v InventoryReservedEventV2) (InventoryReservedEvent, error) {
	total, err := cents(v.TotalMoney, "total_money")
	if err != nil {
		return InventoryReservedEvent{}, err
	}
	items := make([]ReservedItem, len(v.Items))
	for i, it := range v.Items {
		price, err := cents(it.UnitPriceMoney, "items/"+strconv.Itoa(i)+"/unit_price_money")
		if err != nil {
			return InventoryReservedEvent{}, err
		}
		items[i] = ReservedItem{ProductID: it.ProductID, Quantity: it.Quantity, UnitPriceCents: price}
	}
	return InventoryReservedEvent{OrderID: v.OrderID, Items: items, TotalCents: total}, nil
}

// UpcastPaymentCompleted converts a payments.completed payload to major 2.
func UpcastPaymentCompleted(v PaymentCompletedEvent) (PaymentCompletedEventV2, error) {
	return PaymentCompletedEventV2{OrderID: v.OrderID, PaymentID: v.PaymentID, AmountMoney: euroCents(v.AmountCents)}, nil
}

// DowncastPaymentCompleted converts a payments.completed.v2 payload to major 1.
func DowncastPaymentCompleted(v PaymentCompletedEventV2) (PaymentCompletedEvent, error) {
	amount, err := cents(v.AmountMoney, "amount_money")
	if err != nil {
		return PaymentCompletedEvent{}, err
	}
	return PaymentCompletedEvent{OrderID: v.OrderID, PaymentID: v.PaymentID, AmountCents: amount}, nil
}

// UpcastPaymentFailed converts a payments.failed payload to major 2.
func UpcastPaymentFailed(v PaymentFailedEvent) (PaymentFailedEventV2, error) {
	return PaymentFailedEventV2{OrderID: v.OrderID, Reason: v.Reason, AmountMoney: euroCents(v.AmountCents)}, nil
}

// DowncastPaymentFailed converts a payments.failed.v2 payload to major 1.
func DowncastPaymentFailed(v PaymentFailedEventV2) (PaymentFailedEvent, error) {
	amount, err := cents(v.AmountMoney, "amount_money")
	if err != nil {
		return PaymentFailedEvent{}, err
	}
	return PaymentFailedEvent{OrderID: v.OrderID, Reason: v.Reason, AmountCents: amount}, nil
}

// UpcastPaymentRefunded converts a payments.refunded payload to major 2.
func UpcastPaymentRefunded(v PaymentRefundedEvent) (PaymentRefundedEventV2, error) {
	return PaymentRefundedEventV2{OrderID: v.OrderID, PaymentID: v.PaymentID, AmountMoney: euroCents(v.AmountCents)}, nil
}

// DowncastPaymentRefunded converts a payments.refunded.v2 payload to major 1.
func DowncastPaymentRefunded(v PaymentRefundedEventV2) (PaymentRefundedEvent, error) {
	amount, err := cents(v.AmountMoney, "amount_money")
	if err != nil {
		return PaymentRefundedEvent{}, err
	}
	return PaymentRefundedEvent{OrderID: v.OrderID, PaymentID: v.PaymentID, AmountCents: amount}, nil
}
