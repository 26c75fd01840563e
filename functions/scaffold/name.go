package scaffold

import (
	"errors"
	"fmt"
	"go/token"
	"strings"
	"unicode"
)

// ErrName is wrapped by every refusal of a function's name.
var ErrName = errors.New("bad function name")

// maxName bounds a name: it also makes consumer names (<name>-process),
// compose services and the stream's name.
const maxName = 32

// reserved are names that would build something broken, with the reason.
// A name is also a Go package that the function's tests import beside
// these packages, so every package name a template imports is here
// (TestReservedCoversImports keeps it so).
var reserved = map[string]string{
	"natsfn":      "it is the all-in-one command and image",
	"runtime":     "the function imports github.com/natsfn/natsfn/runtime",
	"contracts":   "the function imports github.com/natsfn/natsfn/contracts",
	"deadletter":  "deadletter.> is the DEADLETTER stream's subjects",
	"fntest":      "the function's tests import runtime/fntest",
	"admin":       "it is the NATS user of operators",
	"sys":         "it is the NATS system account's user",
	"nats":        "`make image-nats` builds the NATS server image",
	"healthcheck": "bin/linux/healthcheck is the NATS image's probe",
	"certs":       "bin/certs holds the TLS certificates",
	"linux":       "bin/linux holds the images' binaries",
	"internal":    "Go gives internal/ a meaning in import paths",
	"vendor":      "the go command gives vendor/ a meaning",
	"testdata":    "the go command ignores testdata/",
	"main":        "package main cannot be imported",
	"server":      "the function's tests import nats-server's server package",
	"jetstream":   "the function imports nats.go/jetstream",
	"context":     "the function imports the standard package context",
	"fmt":         "the function's tests import the standard package fmt",
	"json":        "the function's tests import encoding/json",
	"slog":        "the function's tests import log/slog",
	"strings":     "the function imports the standard package strings",
	"sync":        "the function's tests import the standard package sync",
	"testing":     "the function's tests import the standard package testing",
	"time":        "the function imports the standard package time",
}

// predeclared are Go's predeclared identifiers: a package of one of these
// names, imported, would hide it.
var predeclared = strings.Fields(`any append bool byte cap clear close comparable complex complex64
	complex128 copy delete error false float32 float64 imag int int8 int16 int32 int64 iota len make
	max min new nil panic print println real recover rune string true uint uint8 uint16 uint32 uint64 uintptr`)

// checkName says why name cannot name a function, or nil. A name is one
// NATS subject token, and more: the function's Go package, its stream
// (upper-cased), its image, its compose services and its NATS user, so it
// is lowercase ASCII letters and digits, starting with a letter.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: a function needs a name, e.g. natsfn new greet", ErrName)
	}
	for _, r := range name {
		var why string
		switch {
		case r == '.':
			why = "'.' separates subject tokens"
		case r == '*' || r == '>':
			why = fmt.Sprintf("'%c' is a subject wildcard", r)
		case unicode.IsSpace(r) || !unicode.IsPrint(r):
			why = "a subject token holds no white space or control character"
		}
		if why != "" {
			return fmt.Errorf("%w: %q is not a valid subject token: %s", ErrName, name, why)
		}
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("%w: %q: use lowercase letters and digits, starting with a letter "+
				"(the name is a subject token, a Go package, a stream, an image and a NATS user)", ErrName, name)
		}
	}
	if len(name) > maxName {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrName, name, maxName)
	}
	if token.IsKeyword(name) {
		return fmt.Errorf("%w: %q is a Go keyword, and the name is a Go package", ErrName, name)
	}
	for _, p := range predeclared {
		if name == p {
			return fmt.Errorf("%w: %q is a predeclared Go identifier, which the function's package would hide", ErrName, name)
		}
	}
	if why, ok := reserved[name]; ok {
		return fmt.Errorf("%w: %q is reserved: %s", ErrName, name, why)
	}
	return nil
}

// title is the name as the first word of a Go identifier: "greet" → "Greet".
func title(name string) string {
	return strings.ToUpper(name[:1]) + name[1:]
}
