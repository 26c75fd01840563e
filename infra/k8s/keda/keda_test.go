package keda_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	natsconf "github.com/nats-io/nats-server/v2/conf"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/infra/k8s/keda"
	"github.com/natsfn/natsfn/runtime"
)

// declarations are what cmd/keda-gen generates from.
func declarations() []runtime.ServiceDescription {
	return []runtime.ServiceDescription{
		orders.New(orders.Config{}).Describe(),
		inventory.New(inventory.Config{}).Describe(),
		payments.New(payments.Config{}).Describe(),
	}
}

// TestCommittedFilesAreCurrent: the ScaledObjects in this directory are
// exactly what the declarations and ../40-hpa.yaml make now, one file per
// function with event handlers and no other; after a change, `make keda`.
func TestCommittedFilesAreCurrent(t *testing.T) {
	hpas, err := os.ReadFile("../40-hpa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := keda.Generate(hpas, declarations()...)
	if err != nil {
		t.Fatal(err)
	}
	have, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(want)); !slices.Equal(have, got) {
		t.Fatalf("files %v, the declarations make %v: run `make keda`", have, got)
	}
	for name, body := range want {
		committed, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, body) {
			t.Errorf("%s is not what the declarations make: run `make keda`", name)
		}
	}
}

// scaledObject mirrors the fields of keda.sh/v1alpha1 ScaledObject that
// natsfn uses (KEDA's apis/keda/v1alpha1 types), so that a misspelt or
// unknown field fails to decode.
type scaledObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Name     string                                         `json:"name"`
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []struct {
			Type       string            `json:"type"`
			Name       string            `json:"name"`
			MetricType string            `json:"metricType"`
			Metadata   map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// decodeStrict reads one YAML document into v, refusing unknown fields,
// duplicate keys and trailing data.
func decodeStrict(doc []byte, v any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return os.ErrInvalid
	}
	return nil
}

// TestScaledObjects: each committed ScaledObject decodes strictly, scales
// its function's Deployment within its HPA's bounds, keeps the HPA's CPU
// target and behavior, and has one nats-jetstream trigger per event handler
// with the scaler's metadata: the monitoring endpoint, the account, the
// handler's stream and durable consumer, and a positive lagThreshold.
func TestScaledObjects(t *testing.T) {
	hpas := loadHPAs(t)
	conf, err := natsconf.ParseFile("../../nats/accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	accounts, _ := conf["accounts"].(map[string]any)
	for _, d := range declarations() {
		t.Run(d.Name, func(t *testing.T) {
			raw, err := os.ReadFile(d.Name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			var o scaledObject
			if err := decodeStrict(raw, &o); err != nil {
				t.Fatalf("decode: %v", err)
			}
			h := hpas[d.Name]
			if h == nil {
				t.Fatalf("no HPA of %s in ../40-hpa.yaml", d.Name)
			}
			ref := o.Spec.ScaleTargetRef
			if o.APIVersion != "keda.sh/v1alpha1" || o.Kind != "ScaledObject" || ref.APIVersion != "apps/v1" ||
				ref.Kind != "Deployment" || ref.Name != d.Name || o.Metadata.Namespace != keda.Namespace {
				t.Errorf("%s %s scales %s %s %q in %q", o.APIVersion, o.Kind, ref.APIVersion, ref.Kind, ref.Name, o.Metadata.Namespace)
			}
			if *o.Spec.MinReplicaCount != *h.Spec.MinReplicas || *o.Spec.MaxReplicaCount != h.Spec.MaxReplicas {
				t.Errorf("replicas %d..%d, the HPA's are %d..%d", *o.Spec.MinReplicaCount, *o.Spec.MaxReplicaCount,
					*h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
			adv := o.Spec.Advanced
			if adv == nil || adv.HorizontalPodAutoscalerConfig == nil || adv.HorizontalPodAutoscalerConfig.Name != h.Name ||
				!reflect.DeepEqual(adv.HorizontalPodAutoscalerConfig.Behavior, h.Spec.Behavior) ||
				o.Metadata.Annotations["scaledobject.keda.sh/transfer-hpa-ownership"] != "true" {
				t.Errorf("KEDA does not adopt the HPA %s with its behavior: %+v, annotations %v", h.Name, adv, o.Metadata.Annotations)
			}
			consumers := map[string]string{} // consumer -> stream
			cpu := ""
			for _, tr := range o.Spec.Triggers {
				switch tr.Type {
				case "nats-jetstream":
					keys := slices.Sorted(maps.Keys(tr.Metadata))
					if !slices.Equal(keys, []string{"account", "consumer", "lagThreshold", "natsServerMonitoringEndpoint", "stream"}) {
						t.Errorf("trigger %s metadata keys %v", tr.Name, keys)
					}
					if n, err := strconv.Atoi(tr.Metadata["lagThreshold"]); err != nil || n <= 0 {
						t.Errorf("trigger %s lagThreshold %q", tr.Name, tr.Metadata["lagThreshold"])
					}
					host, port, _ := strings.Cut(tr.Metadata["natsServerMonitoringEndpoint"], ":")
					if !strings.HasPrefix(host, "nats-headless.") || port != "8222" {
						t.Errorf("trigger %s monitoring endpoint %q: want the headless Service's port 8222", tr.Name,
							tr.Metadata["natsServerMonitoringEndpoint"])
					}
					if _, ok := accounts[tr.Metadata["account"]]; !ok {
						t.Errorf("trigger %s account %q is not an account of infra/nats/accounts.conf", tr.Name, tr.Metadata["account"])
					}
					consumers[tr.Metadata["consumer"]] = tr.Metadata["stream"]
				case "cpu":
					if tr.MetricType != "Utilization" {
						t.Errorf("cpu trigger metricType %q", tr.MetricType)
					}
					cpu = tr.Metadata["value"]
				default:
					t.Errorf("unexpected trigger type %q", tr.Type)
				}
			}
			if want := strconv.Itoa(int(*h.Spec.Metrics[0].Resource.Target.AverageUtilization)); cpu != want {
				t.Errorf("cpu trigger value %q, the HPA's target is %s", cpu, want)
			}
			if len(consumers) != len(d.EventHandlers) {
				t.Errorf("%d nats-jetstream triggers, %d event handlers", len(consumers), len(d.EventHandlers))
			}
			for _, e := range d.EventHandlers {
				if consumers[e.Consumer] != e.Stream {
					t.Errorf("handler %s (consumer %s on %s) has no trigger", e.Name, e.Consumer, e.Stream)
				}
			}
		})
	}
}

// TestStrictDecodingRefusesMistakes: the mirror catches a misspelt field.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	raw, err := os.ReadFile("payments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var o scaledObject
	if err := decodeStrict(raw, &o); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"minReplicaCount", "minReplicas"}, {"lagThreshold", "lagThreshold: \"1\"\n      lagThreshold"},
		{"scaleTargetRef", "scaleTarget"}} {
		bad := strings.Replace(string(raw), c[0], c[1], 1)
		if err := decodeStrict([]byte(bad), &scaledObject{}); err == nil {
			t.Errorf("%s -> %s decoded", c[0], c[1])
		}
	}
}

// loadHPAs reads ../40-hpa.yaml, by target.
func loadHPAs(t *testing.T) map[string]*autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	raw, err := os.ReadFile("../40-hpa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var h autoscalingv2.HorizontalPodAutoscaler
		if err := decodeStrict([]byte(doc), &h); err != nil {
			t.Fatal(err)
		}
		out[h.Spec.ScaleTargetRef.Name] = &h
	}
	return out
}
