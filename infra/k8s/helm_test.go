package k8s

import (
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// helmValues is the part of helm/nats-values.yaml the chart reads for the
// NATS container (chart nats 1.x: container.env, container.merge).
type helmValues struct {
	Config struct {
		JetStream struct {
			MemoryStore struct {
				MaxSize string `json:"maxSize"`
			} `json:"memoryStore"`
			FileStore struct {
				PVC struct {
					Size string `json:"size"`
				} `json:"pvc"`
				MaxSize string `json:"maxSize"`
			} `json:"fileStore"`
		} `json:"jetstream"`
	} `json:"config"`
	Container struct {
		Env   map[string]string `json:"env"`
		Merge struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"merge"`
	} `json:"container"`
}

func TestHelmValuesSetResources(t *testing.T) {
	data, err := os.ReadFile("helm/nats-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v helmValues
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	res := v.Container.Merge.Resources
	limit, request := res.Limits[corev1.ResourceMemory], res.Requests[corev1.ResourceMemory]
	if limit.IsZero() || request.Cmp(limit) != 0 {
		t.Errorf("memory request %s, limit %s: both set and equal", request.String(), limit.String())
	}
	if res.Requests.Cpu().IsZero() {
		t.Error("no CPU request")
	}
	if err := gomemlimitError(corev1.EnvVar{Name: "GOMEMLIMIT", Value: v.Container.Env["GOMEMLIMIT"]}, limit); err != nil {
		t.Error(err)
	}
	mem, err := resource.ParseQuantity(v.Config.JetStream.MemoryStore.MaxSize)
	if err != nil {
		t.Fatalf("memoryStore.maxSize: %v", err)
	}
	gml, _ := goBytes(v.Container.Env["GOMEMLIMIT"])
	if mem.Value() > gml/4 {
		t.Errorf("JetStream memory store %s may take more than a quarter of GOMEMLIMIT", mem.String())
	}
	pvc, err1 := resource.ParseQuantity(v.Config.JetStream.FileStore.PVC.Size)
	maxFile, err2 := resource.ParseQuantity(v.Config.JetStream.FileStore.MaxSize)
	if err1 != nil || err2 != nil || maxFile.Cmp(pvc) >= 0 {
		t.Errorf("fileStore.maxSize %s must be below the PVC %s (%v %v)", maxFile.String(), pvc.String(), err1, err2)
	}
}
