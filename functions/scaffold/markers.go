package scaffold

import (
	"bytes"
	"fmt"
	"strings"
)

// insert is a registry entry: lines rendered from a template of inserts/
// go before the marker line "natsfn new: <marker>" of a file.
type insert struct {
	file, marker, template string
}

// inserts are the registries a new function joins, in the order of the
// package doc.
var inserts = []insert{
	{"contracts/schemas.go", "schemas", "contracts-schemas.tmpl"},
	{"contracts/event.go", "events", "contracts-events.tmpl"},
	{"contracts/streams.go", "stream descriptions", "contracts-streams.tmpl"},
	{"contracts/asyncapi_gen_test.go", "endpoints", "contracts-endpoints.tmpl"},
	{"contracts/roundtrip_test.go", "round trips", "contracts-roundtrips.tmpl"},
	{"contracts/family_test.go", "families", "contracts-families.tmpl"},
	{"functions/cmd/natsfn/internal/all/all.go", "imports", "allinone-imports.tmpl"},
	{"functions/cmd/natsfn/internal/all/all.go", "services", "allinone-services.tmpl"},
	{"infra/infra.mk", "functions", "infra-functions.tmpl"},
	{"infra/compose.yaml", "anchors", "compose-anchors.tmpl"},
	{"infra/compose.yaml", "services", "compose-services.tmpl"},
	{"infra/compose.tls.yaml", "services", "compose-tls-services.tmpl"},
	{"infra/nats/accounts.conf", "users", "accounts-user.tmpl"},
	{"infra/nats/accounts.conf", "console requests", "accounts-console-requests.tmpl"},
	{"infra/nats/accounts.conf", "console events", "accounts-console-events.tmpl"},
}

// markerPrefix begins every marker, after the comment's "//" or "#".
const markerPrefix = "natsfn new: "

// insertAt puts lines before the one marker line of content. A file with
// no such marker, or two, is refused: the scaffold would not know where its
// lines go.
func insertAt(file string, content []byte, marker string, lines []byte) ([]byte, error) {
	at, count := -1, 0
	offset := 0
	for _, line := range bytes.SplitAfter(content, []byte("\n")) {
		if isMarker(string(line), marker) {
			at, count = offset, count+1
		}
		offset += len(line)
	}
	switch count {
	case 0:
		return nil, fmt.Errorf("scaffold: %s has no marker line %q, before which natsfn new adds a new function's lines: put it back where the list ends",
			file, markerPrefix+marker)
	case 1:
	default:
		return nil, fmt.Errorf("scaffold: %s has %d marker lines %q; keep one", file, count, markerPrefix+marker)
	}
	out := make([]byte, 0, len(content)+len(lines))
	out = append(out, content[:at]...)
	out = append(out, lines...)
	return append(out, content[at:]...), nil
}

// isMarker reports whether line is a comment whose text is the marker,
// possibly followed by an explanation in parentheses: "# natsfn new:
// console requests (...)" is the marker "console requests", not "console".
func isMarker(line, marker string) bool {
	s := strings.TrimSpace(line)
	for _, c := range []string{"//", "#"} {
		if rest, ok := strings.CutPrefix(s, c); ok {
			rest, ok = strings.CutPrefix(strings.TrimSpace(rest), markerPrefix+marker)
			return ok && (rest == "" || strings.HasPrefix(rest, " ("))
		}
	}
	return false
}
