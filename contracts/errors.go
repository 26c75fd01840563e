package contracts

import "errors"

// ErrInvalid is wrapped by every error that [Schema.Validate] and
// [Event.Validate] return for a document that breaks its schema, malformed
// JSON included. Test for it with errors.Is.
var ErrInvalid = errors.New("invalid document")

// invalidError is a validation failure described in one line for a human,
// prefixed by the id of the schema that rejected the document.
type invalidError struct {
	schema string
	detail string
}

func (e *invalidError) Error() string { return e.schema + ": " + e.detail }

func (e *invalidError) Unwrap() error { return ErrInvalid }
