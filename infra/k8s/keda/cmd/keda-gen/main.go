// Command keda-gen writes the KEDA ScaledObjects of the order flow's
// functions (`make keda`): infra/k8s/keda/<function>.yaml, from each
// function's declaration and its HorizontalPodAutoscaler in
// infra/k8s/40-hpa.yaml. Run it from the repository root after adding or
// changing an event handler; infra/k8s/keda's test fails until then.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/infra/k8s/keda"
	"github.com/natsfn/natsfn/runtime"
)

func main() {
	hpa := flag.String("hpa", "infra/k8s/40-hpa.yaml", "the HorizontalPodAutoscalers to take replicas and CPU targets from")
	dir := flag.String("dir", "infra/k8s/keda", "where to write <function>.yaml")
	flag.Parse()
	if err := run(*hpa, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "keda-gen:", err)
		os.Exit(1)
	}
}

func run(hpaFile, dir string) error {
	hpas, err := os.ReadFile(hpaFile)
	if err != nil {
		return err
	}
	files, err := keda.Generate(hpas, functions()...)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

// functions are the declarations of the order flow's functions.
func functions() []runtime.ServiceDescription {
	return []runtime.ServiceDescription{
		orders.New(orders.Config{}).Describe(),
		inventory.New(inventory.Config{}).Describe(),
		payments.New(payments.Config{}).Describe(),
	}
}
