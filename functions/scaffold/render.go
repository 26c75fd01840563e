package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"io/fs"
	"path"
	"strings"
	"text/template"
)

// The new function's files, by their path in the repository with NAME for
// the function's name, each a text/template of data; and the lines it adds
// to the registries.
//
//go:embed templates inserts
var templates embed.FS

// data is what the templates see.
type data struct {
	// Name is the function's name: greet.
	Name string
	// Title begins its Go identifiers: Greet.
	Title string
	// Stream is its stream: GREET.
	Stream string
}

func newData(name string) data {
	return data{Name: name, Title: title(name), Stream: strings.ToUpper(name)}
}

// file is one file to write: its path relative to the repository root
// (slash-separated) and its content.
type file struct {
	path string
	data []byte
}

// renderFiles renders every template of templates/ into the new function's
// files, Go files gofmt'd.
func renderFiles(d data) ([]file, error) {
	var out []file
	err := fs.WalkDir(templates, "templates", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		target, ok := strings.CutSuffix(strings.TrimPrefix(p, "templates/"), ".tmpl")
		if !ok {
			return fmt.Errorf("scaffold: template %s does not end in .tmpl", p)
		}
		target = strings.ReplaceAll(target, "NAME", d.Name)
		b, err := render(p, d)
		if err != nil {
			return err
		}
		if b, err = formatGo(target, b); err != nil {
			return err
		}
		out = append(out, file{path: target, data: b})
		return nil
	})
	return out, err
}

// render executes one embedded template.
func render(name string, d data) ([]byte, error) {
	src, err := templates.ReadFile(name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(path.Base(name)).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("scaffold: template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("scaffold: template %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// formatGo gofmts a Go file, which also sorts the imports a marker added
// to; other files are left as they are.
func formatGo(p string, b []byte) ([]byte, error) {
	if !strings.HasSuffix(p, ".go") {
		return b, nil
	}
	out, err := format.Source(b)
	if err != nil {
		return nil, fmt.Errorf("scaffold: %s does not parse: %w", p, err)
	}
	return out, nil
}
