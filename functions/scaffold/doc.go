// Package scaffold writes a new function into this repository, as
// `natsfn new <name>` does: the function's package with one endpoint, one
// event handler and their tests, its main, its contracts (Go types,
// versioned schemas with examples, released as 1.0), and its place in every
// registry, so that it builds, its tests pass, `make images` builds its
// image, `make up` runs two instances of it as its own NATS user, and
// `make run` serves it at once.
//
// The files come from the templates embedded beside this file; the
// registries are changed at their markers, lines reading
// "natsfn new: <what>" (`// natsfn new: services` in Go, `# natsfn new:
// users` in accounts.conf), before which the new lines go:
//
//	contracts/schemas.go, event.go, streams.go    Schemas(), Events(), its stream
//	                                              (streamDescription)
//	contracts/asyncapi_gen_test.go                the AsyncAPI endpoints
//	contracts/roundtrip_test.go, family_test.go   the contracts' own tests' lists
//	contracts/testdata/released.json              its three schemas, released
//	contracts/asyncapi.yaml                       regenerated (make docs)
//	functions/cmd/natsfn/internal/all/all.go      what `make run` serves
//	infra/infra.mk                                INFRA_FUNCTIONS: its image
//	infra/compose.yaml, infra/compose.tls.yaml    <name>-1, <name>-2
//	infra/nats/accounts.conf                      its user; the console's reach
//
// A name that is empty, not a subject token, reserved or taken is refused
// with an error wrapping ErrName before anything is written. Once written,
// the new function is built and vetted and the AsyncAPI document
// regenerated with the go command; if that fails, every file is put back
// as it was.
package scaffold
