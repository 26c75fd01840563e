package contracts

import "fmt"

// Money is an amount of one currency: an integer count of the currency's
// minor unit and its ISO 4217 code, as in {"amount": 1999, "currency":
// "EUR"} for €19.99 or {"amount": 1999, "currency": "JPY"} for ¥1999.
//
// Integer minor units are what payment gateways take (Stripe's amount,
// Adyen's value, Square's Money, which this mirrors): sums are exact, no
// float is ever rounded, and every amount up to 10^15 is exact in JSON
// for any reader, JavaScript's included. A decimal string would be as
// exact but makes every consumer parse and re-validate numbers. The
// currency's exponent (2 for EUR, 0 for JPY, 3 for KWD) is ISO 4217's;
// an event's amounts share one currency.
type Money struct {
	// Amount is a count of the currency's minor unit (cents for EUR), 0 to 10^15.
	Amount int64 `json:"amount"`
	// Currency is an ISO 4217 alphabetic code, e.g. "EUR".
	Currency string `json:"currency"`
}

// V1Currency is the currency of every *_cents amount of the major 1
// events: they predate currencies, and the shop priced in euro cents.
// An upcast to major 2 adds it; a downcast to major 1 refuses any other.
const V1Currency = "EUR"

// euroCents is the Money of a major 1 amount.
func euroCents(cents int64) Money { return Money{Amount: cents, Currency: V1Currency} }

// cents is the major 1 amount of m, which must be in V1Currency; what
// names the amount in the error.
func cents(m Money, what string) (int64, error) {
	if m.Currency != V1Currency {
		return 0, fmt.Errorf("%s is in %s; major 1 amounts are %s cents: %w", what, m.Currency, V1Currency, ErrInvalid)
	}
	return m.Amount, nil
}
