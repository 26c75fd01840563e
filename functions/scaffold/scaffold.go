package scaffold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// modulePath is the module path of the repository New writes into.
const modulePath = "github.com/natsfn/natsfn"

// Config says what to scaffold, and where.
type Config struct {
	// Root is the repository's root: the directory of its go.mod.
	Root string
	// Name is the new function's name, e.g. "greet".
	Name string
	// Log receives a line per step of the checks that run once the files
	// are written (they take some seconds); nil discards them.
	Log io.Writer
}

// Result says what New wrote, as paths relative to the root.
type Result struct {
	// Created are the new files.
	Created []string
	// Modified are the registries it added the function to, and the
	// documents it regenerated.
	Modified []string
}

// New writes a new function into the repository, or nothing: a bad name is
// refused with an error wrapping ErrName before anything is written, and
// if the function does not build, vet and pass the contracts' gate once
// written, every file is put back as it was.
func New(ctx context.Context, cfg Config) (Result, error) {
	if err := checkName(cfg.Name); err != nil {
		return Result{}, err
	}
	root, err := repoRoot(cfg.Root)
	if err != nil {
		return Result{}, err
	}
	d := newData(cfg.Name)
	changes, err := plan(root, d)
	if err != nil {
		return Result{}, err
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	// The document the checks regenerate is put back too on a failure.
	asyncAPI := filepath.Join(root, filepath.FromSlash(asyncAPIFile))
	docBefore, err := os.ReadFile(asyncAPI)
	if err != nil {
		return Result{}, fmt.Errorf("scaffold: %w", err)
	}
	done, err := apply(root, append(changes, change{path: asyncAPIFile, data: docBefore, old: docBefore}))
	if err != nil {
		return Result{}, err
	}
	if err := check(ctx, root, cfg.Name, log); err != nil {
		if rerr := done.rollback(); rerr != nil {
			return Result{}, errors.Join(err, fmt.Errorf("scaffold: putting the files back: %w", rerr))
		}
		return Result{}, fmt.Errorf("%w\nnothing was written", err)
	}
	var res Result
	for _, c := range changes {
		if c.old == nil {
			res.Created = append(res.Created, c.path)
		} else {
			res.Modified = append(res.Modified, c.path)
		}
	}
	if docAfter, err := os.ReadFile(asyncAPI); err == nil && !bytes.Equal(docAfter, docBefore) {
		res.Modified = append(res.Modified, asyncAPIFile)
	}
	slices.Sort(res.Created)
	slices.Sort(res.Modified)
	return res, nil
}

// repoRoot checks that dir holds the natsfn module's go.mod.
func repoRoot(dir string) (string, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err == nil && !regexp.MustCompile(`(?m)^module\s+`+regexp.QuoteMeta(modulePath)+`\s*$`).Match(mod) {
		err = errors.New("its go.mod is another module's")
	}
	if err != nil {
		return "", fmt.Errorf("scaffold: %s is not the root of the natsfn repository (%s): %w", root, modulePath, err)
	}
	return root, nil
}

// plan renders every file to write and every registry with the function
// added, or says why the name is taken.
func plan(root string, d data) ([]change, error) {
	files, err := renderFiles(d)
	if err != nil {
		return nil, err
	}
	taken := func(format string, args ...any) error {
		return fmt.Errorf("%w: %q is taken: %s", ErrName, d.Name, fmt.Sprintf(format, args...))
	}
	for _, dir := range []string{"functions/" + d.Name, "functions/cmd/" + d.Name, "contracts/" + d.Name + ".go"} {
		if exists(root, dir) {
			return nil, taken("%s exists", dir)
		}
	}
	for _, glob := range []string{"contracts/schemas/" + d.Name + ".*", "contracts/examples/" + d.Name + ".*"} {
		if m, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(glob))); len(m) > 0 {
			rel, _ := filepath.Rel(root, m[0])
			return nil, taken("%s exists", filepath.ToSlash(rel))
		}
	}
	var changes []change
	var schemas []file
	for _, f := range files {
		if exists(root, f.path) {
			return nil, taken("%s exists", f.path)
		}
		changes = append(changes, change{path: f.path, data: f.data})
		if strings.HasPrefix(f.path, "contracts/schemas/") {
			schemas = append(schemas, f)
		}
	}
	registries, err := addToRegistries(root, d)
	if err != nil {
		return nil, err
	}
	changes = append(changes, registries...)
	current, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(releasedFile)))
	if err != nil {
		return nil, fmt.Errorf("scaffold: %w", err)
	}
	next, err := release(current, schemas)
	if err != nil {
		return nil, err
	}
	return append(changes, change{path: releasedFile, data: next, old: current}), nil
}

// holders find a function's name in a registry that already lists it.
var holders = map[string]func(name string) *regexp.Regexp{
	"functions/cmd/natsfn/internal/all/all.go": func(n string) *regexp.Regexp {
		return regexp.MustCompile(`"` + regexp.QuoteMeta(modulePath) + `/functions/` + n + `"`)
	},
	"infra/infra.mk": func(n string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^INFRA_FUNCTIONS\s*[:+]?=.*\s` + n + `(\s|$)`)
	},
	"infra/compose.yaml":     func(n string) *regexp.Regexp { return regexp.MustCompile(`(?m)^(x-` + n + `:|  ` + n + `-\d+:)`) },
	"infra/compose.tls.yaml": func(n string) *regexp.Regexp { return regexp.MustCompile(`(?m)^  ` + n + `-\d+:`) },
	"infra/nats/accounts.conf": func(n string) *regexp.Regexp {
		return regexp.MustCompile(`user:\s*"?` + n + `"?\s*[,}\n]`)
	},
}

// addToRegistries adds the function at the markers of every registry.
func addToRegistries(root string, d data) ([]change, error) {
	var out []change
	index := map[string]int{}
	for _, in := range inserts {
		i, ok := index[in.file]
		if !ok {
			old, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(in.file)))
			if err != nil {
				return nil, fmt.Errorf("scaffold: %w", err)
			}
			if holder, ok := holders[in.file]; ok && holder(d.Name).Match(old) {
				return nil, fmt.Errorf("%w: %q is taken: %s lists it", ErrName, d.Name, in.file)
			}
			i, index[in.file] = len(out), len(out)
			out = append(out, change{path: in.file, data: old, old: old})
		}
		lines, err := render("inserts/"+in.template, d)
		if err != nil {
			return nil, err
		}
		if out[i].data, err = insertAt(in.file, out[i].data, in.marker, lines); err != nil {
			return nil, err
		}
	}
	for i := range out {
		var err error
		if out[i].data, err = formatGo(out[i].path, out[i].data); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// exists reports whether the slash-separated path p exists under root.
func exists(root, p string) bool {
	_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p)))
	return !errors.Is(err, fs.ErrNotExist)
}
