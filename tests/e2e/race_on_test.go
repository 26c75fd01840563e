//go:build race

package e2e

// raceDetector is whether the tests run with -race, which slows the
// embedded server several times over.
const raceDetector = true
