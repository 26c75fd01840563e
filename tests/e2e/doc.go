// Package e2e runs the whole order flow — orders, inventory and payments —
// on an embedded NATS server and checks what a user would: each order's
// final status and reason, the stock left, and the charges made. Its
// BenchmarkOrderFlow is `make load`.
package e2e
