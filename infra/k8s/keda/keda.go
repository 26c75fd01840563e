// Package keda writes the KEDA ScaledObjects of natsfn's functions from
// their declarations (runtime.Service.Describe): one per function
// Deployment, with a nats-jetstream trigger on the durable consumer of
// each of its event handlers, and the CPU target of the HorizontalPodAutoscaler
// it replaces. `make keda` (cmd/keda-gen) writes them into this directory;
// the package's test fails when they are not what the declarations make.
package keda

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"sigs.k8s.io/yaml"

	"github.com/natsfn/natsfn/runtime"
)

// Settings are what the declarations do not say: where the NATS monitoring
// port is, and the replica bounds and CPU target of ../40-hpa.yaml.
type Settings struct {
	// Namespace of the functions' Deployments.
	Namespace string
	// MonitoringEndpoint is host:port of the NATS servers' monitoring
	// port. The scaler asks it for /jsz, then asks the consumer's leader,
	// at <server_name>.<host>:<port>: a headless Service's name.
	MonitoringEndpoint string
	// Account is the NATS account of the streams.
	Account string
	// MinReplicas, MaxReplicas and CPUUtilization are the HPA's.
	MinReplicas, MaxReplicas int32
	CPUUtilization           int32
	// Behavior is the HPA's scaling behavior, kept for KEDA's own HPA.
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior
}

// ScaledObject is the part of keda.sh/v1alpha1 ScaledObject that natsfn
// writes (KEDA's Go module is not a dependency: these mirror its JSON).
type ScaledObject struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       Spec       `json:"spec"`
}

// ObjectMeta is the object's name, namespace, labels and annotations.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Spec is a ScaledObject's spec.
type Spec struct {
	ScaleTargetRef  ScaleTarget `json:"scaleTargetRef"`
	PollingInterval int32       `json:"pollingInterval"`
	MinReplicaCount int32       `json:"minReplicaCount"`
	MaxReplicaCount int32       `json:"maxReplicaCount"`
	Advanced        *Advanced   `json:"advanced,omitempty"`
	Triggers        []Trigger   `json:"triggers"`
}

// ScaleTarget names the Deployment KEDA scales.
type ScaleTarget struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

// Advanced carries the HPA KEDA makes.
type Advanced struct {
	HorizontalPodAutoscalerConfig HPAConfig `json:"horizontalPodAutoscalerConfig"`
}

// HPAConfig names KEDA's HPA and gives its behavior.
type HPAConfig struct {
	Name     string                                         `json:"name,omitempty"`
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
}

// Trigger is one scaler.
type Trigger struct {
	Type       string            `json:"type"`
	Name       string            `json:"name,omitempty"`
	MetricType string            `json:"metricType,omitempty"`
	Metadata   map[string]string `json:"metadata"`
}

// transferHPA makes KEDA adopt the HPA of the same name that ../40-hpa.yaml
// made, instead of refusing a Deployment another HPA scales.
const transferHPA = "scaledobject.keda.sh/transfer-hpa-ownership"

// For returns the ScaledObject of a function, or nil when it has no event
// handler (CPU alone needs no KEDA).
func For(d runtime.ServiceDescription, s Settings) *ScaledObject {
	if len(d.EventHandlers) == 0 {
		return nil
	}
	o := &ScaledObject{
		APIVersion: "keda.sh/v1alpha1",
		Kind:       "ScaledObject",
		Metadata: ObjectMeta{
			Name:      d.Name,
			Namespace: s.Namespace,
			Labels: map[string]string{"app.kubernetes.io/name": d.Name, "app.kubernetes.io/part-of": "natsfn",
				"io.natsfn.project": "natsfn"},
			Annotations: map[string]string{transferHPA: "true"},
		},
		Spec: Spec{
			ScaleTargetRef:  ScaleTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name},
			PollingInterval: 15,
			MinReplicaCount: s.MinReplicas,
			MaxReplicaCount: s.MaxReplicas,
			Advanced:        &Advanced{HorizontalPodAutoscalerConfig: HPAConfig{Name: d.Name, Behavior: s.Behavior}},
		},
	}
	for _, h := range d.EventHandlers {
		o.Spec.Triggers = append(o.Spec.Triggers, Trigger{
			Type: "nats-jetstream",
			Name: h.Name,
			Metadata: map[string]string{
				"natsServerMonitoringEndpoint": s.MonitoringEndpoint,
				"account":                      s.Account,
				"stream":                       h.Stream,
				"consumer":                     h.Consumer,
				// The scaler's lag is pending plus unacked messages, and it
				// asks for one pod per lagThreshold of them: one more pod
				// once each holds more than it handles at once.
				"lagThreshold": strconv.Itoa(max(h.Concurrency, 1)),
			},
		})
	}
	o.Spec.Triggers = append(o.Spec.Triggers, Trigger{Type: "cpu", Name: "cpu", MetricType: "Utilization",
		Metadata: map[string]string{"value": strconv.Itoa(int(s.CPUUtilization))}})
	return o
}

// Render is the YAML file of a function's ScaledObject, with a header that
// says where it comes from.
func Render(d runtime.ServiceDescription, s Settings) ([]byte, error) {
	o := For(d, s)
	if o == nil {
		return nil, fmt.Errorf("keda: %s has no event handler", d.Name)
	}
	body, err := yaml.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("keda: %s: %w", d.Name, err)
	}
	head := fmt.Sprintf("# %s: generated by `make keda` from the declaration of the %s function\n"+
		"# (runtime.Service.Describe); do not edit. One nats-jetstream trigger per\n"+
		"# event handler, on its durable consumer; the cpu trigger is ../40-hpa.yaml's,\n"+
		"# whose HPA KEDA adopts (README.md).\n", d.Name, d.Name)
	return append([]byte(head), body...), nil
}

// Where the manifests of infra/k8s run: the natsfn namespace, and NATS
// from the official Helm chart (release "nats" in namespace "nats") with
// the accounts of infra/nats/accounts.conf. The chart's headless Service
// resolves each server by its name, as the scaler needs.
const (
	Namespace          = "natsfn"
	MonitoringEndpoint = "nats-headless.nats.svc.cluster.local:8222"
	Account            = "NATSFN"
)

// Generate renders the ScaledObject of every function with event
// handlers, keyed by file name (<function>.yaml), taking each one's
// replica bounds, CPU target and behavior from its HorizontalPodAutoscaler
// in hpas (the YAML of ../40-hpa.yaml).
func Generate(hpas []byte, functions ...runtime.ServiceDescription) (map[string][]byte, error) {
	byName := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	for _, doc := range docSeparator.Split(string(hpas), -1) {
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("keda: HPA: %w", err)
		}
		if string(js) == "null" {
			continue
		}
		var h autoscalingv2.HorizontalPodAutoscaler
		if err := json.Unmarshal(js, &h); err != nil {
			return nil, fmt.Errorf("keda: HPA: %w", err)
		}
		byName[h.Spec.ScaleTargetRef.Name] = &h
	}
	out := map[string][]byte{}
	for _, d := range functions {
		if len(d.EventHandlers) == 0 {
			continue
		}
		h := byName[d.Name]
		if h == nil {
			return nil, fmt.Errorf("keda: no HorizontalPodAutoscaler for %s to take the replicas and CPU target from", d.Name)
		}
		s := Settings{Namespace: Namespace, MonitoringEndpoint: MonitoringEndpoint, Account: Account,
			MaxReplicas: h.Spec.MaxReplicas, MinReplicas: 1, Behavior: h.Spec.Behavior}
		if h.Spec.MinReplicas != nil {
			s.MinReplicas = *h.Spec.MinReplicas
		}
		for _, m := range h.Spec.Metrics {
			if m.Resource != nil && m.Resource.Name == "cpu" && m.Resource.Target.AverageUtilization != nil {
				s.CPUUtilization = *m.Resource.Target.AverageUtilization
			}
		}
		if s.CPUUtilization == 0 {
			return nil, fmt.Errorf("keda: the HPA of %s has no CPU utilization target", d.Name)
		}
		b, err := Render(d, s)
		if err != nil {
			return nil, err
		}
		out[d.Name+".yaml"] = b
	}
	return out, nil
}

// docSeparator splits a multi-document YAML file.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)
