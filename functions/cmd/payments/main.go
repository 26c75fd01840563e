// Command payments runs the natsfn payments function: it charges reserved
// orders through the simulated gateway behind a circuit breaker. It reads
// its settings from the environment (NATS_URL, NATSFN_*); `payments
// healthcheck` probes a running instance's ops port.
package main

import (
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime"
)

func main() {
	runtime.Main(payments.New(payments.Config{}))
}
