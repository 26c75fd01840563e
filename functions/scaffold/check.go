package scaffold

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// asyncAPIFile is the contracts' AsyncAPI document, which `make docs`
// regenerates from the schemas; the checks regenerate it the same way.
const asyncAPIFile = "contracts/asyncapi.yaml"

// check proves the written function sound with the go command: everything
// it touches builds and passes go vet, tests included; the AsyncAPI
// document is regenerated with its channels (`make docs`); and the
// contracts' tests pass, the compatibility gate with its examples and
// released versions among them.
func check(ctx context.Context, root, name string, log io.Writer) error {
	steps := [][]string{
		{"go", "vet", "./contracts/", "./functions/" + name + "/...", "./functions/cmd/" + name + "/", "./functions/cmd/natsfn/..."},
		{"go", "test", "-count=1", "-run", "^TestAsyncAPIDocument$", "./contracts/", "-update"},
		{"go", "test", "-count=1", "./contracts/"},
	}
	for _, args := range steps {
		fmt.Fprintln(log, "natsfn new:", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("scaffold: %s: %w\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	return nil
}
