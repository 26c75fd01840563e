//go:build !unix

package e2e

import (
	"errors"
	"time"
)

// processCPU needs getrusage, which this system does not have.
func processCPU() (time.Duration, error) {
	return 0, errors.New("getrusage: not on this system")
}
