package contracts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

// Every stored example of every major converts to every other major of
// its family and back without losing anything, or, downcast, is refused
// because its currency is not V1Currency: the converters are total where
// they can be, and lossless.
func TestExamplesConvertBetweenMajors(t *testing.T) {
	converted := 0
	for _, f := range contracts.Families() {
		vs := f.Versions()
		if len(vs) < 2 {
			continue
		}
		for _, from := range vs {
			files, _ := filepath.Glob(filepath.Join("examples", f.Name(), strconv.Itoa(from.Major())+".*", "*.json"))
			if len(files) == 0 {
				t.Errorf("%s: no examples", from.ID())
			}
			for _, file := range files {
				doc, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				for _, to := range vs {
					if to == from {
						continue
					}
					out, err := from.Convert(doc, to.Major())
					if err != nil {
						if to.Major() < from.Major() && errors.Is(err, contracts.ErrInvalid) && !strings.Contains(string(doc), `"`+contracts.V1Currency+`"`) {
							continue // an amount major 1 cannot express
						}
						t.Errorf("%s to %s: %v", file, to.ID(), err)
						continue
					}
					back, err := to.Convert(out, from.Major())
					if err != nil {
						t.Errorf("%s to %s and back: %v", file, to.ID(), err)
						continue
					}
					assertSameJSON(t, back, doc)
					converted++
				}
			}
		}
	}
	if converted < 10 {
		t.Errorf("only %d examples converted", converted)
	}
}
