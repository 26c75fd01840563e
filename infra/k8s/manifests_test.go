// Package k8s holds the plain Kubernetes manifests of natsfn. Its tests
// validate them offline: every document is decoded strictly into its
// k8s.io/api type (a misspelt field fails), then checked for what matters.
package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of infra/k8s/*.yaml, by kind.
type manifests struct {
	namespaces  []*corev1.Namespace
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	deployments []*appsv1.Deployment
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
}

// docSeparator splits a multi-document YAML file.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// loadManifests reads and strictly decodes every document of ./*.yaml.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found: %v", err)
	}
	m := &manifests{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			if isEmptyDoc(doc) {
				continue
			}
			if err := m.add([]byte(doc)); err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
			}
		}
	}
	return m
}

// isEmptyDoc reports whether a YAML document holds only comments or blanks.
func isEmptyDoc(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// add decodes one YAML document into the API type its kind names.
func (m *manifests) add(doc []byte) error {
	js, err := yaml.YAMLToJSONStrict(doc) // strict: duplicate keys fail
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return fmt.Errorf("type meta: %w", err)
	}
	switch gvk := tm.APIVersion + "/" + tm.Kind; gvk {
	case "v1/Namespace":
		return decodeInto(js, &m.namespaces)
	case "v1/ConfigMap":
		return decodeInto(js, &m.configMaps)
	case "v1/Secret":
		return decodeInto(js, &m.secrets)
	case "apps/v1/Deployment":
		return decodeInto(js, &m.deployments)
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return decodeInto(js, &m.hpas)
	case "policy/v1/PodDisruptionBudget":
		return decodeInto(js, &m.pdbs)
	default:
		return fmt.Errorf("unexpected kind %q (apiVersion %q)", tm.Kind, tm.APIVersion)
	}
}

// decodeInto strictly decodes js into a new T and appends it to list.
func decodeInto[T any](js []byte, list *[]*T) error {
	obj := new(T)
	if err := decodeStrict(js, obj); err != nil {
		return err
	}
	*list = append(*list, obj)
	return nil
}

// decodeStrict decodes JSON, rejecting fields the API type does not have
// and trailing data.
func decodeStrict(js []byte, obj any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return fmt.Errorf("decode %T: %w", obj, err)
	}
	if dec.More() {
		return fmt.Errorf("decode %T: trailing data", obj)
	}
	return nil
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	if len(m.namespaces) != 1 || m.namespaces[0].Name != "natsfn" {
		t.Fatalf("want exactly the natsfn Namespace, got %d namespaces", len(m.namespaces))
	}
	ns := m.namespaces[0].Name
	check := func(kind string, meta metav1.ObjectMeta) {
		if meta.Namespace != ns {
			t.Errorf("%s %q is in namespace %q, want %q", kind, meta.Name, meta.Namespace, ns)
		}
		if meta.Labels["io.natsfn.project"] != "natsfn" {
			t.Errorf("%s %q lacks the label io.natsfn.project=natsfn", kind, meta.Name)
		}
	}
	for _, o := range m.configMaps {
		check("ConfigMap", o.ObjectMeta)
	}
	for _, o := range m.secrets {
		check("Secret", o.ObjectMeta)
	}
	for _, o := range m.deployments {
		check("Deployment", o.ObjectMeta)
	}
	for _, o := range m.hpas {
		check("HorizontalPodAutoscaler", o.ObjectMeta)
	}
	for _, o := range m.pdbs {
		check("PodDisruptionBudget", o.ObjectMeta)
	}
}

func TestStrictDecodingRejectsMistakes(t *testing.T) {
	const good = `apiVersion: apps/v1
kind: Deployment
metadata: {name: x, namespace: natsfn}
spec:
  replicas: 2
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - name: x
          image: x
          livenessProbe: {httpGet: {path: /healthz, port: 8080}}
`
	if err := (&manifests{}).add([]byte(good)); err != nil {
		t.Fatalf("the valid manifest is rejected: %v", err)
	}
	cases := map[string]string{
		"misspelt container field": strings.Replace(good, "livenessProbe", "livenesProbe", 1),
		"misspelt spec field":      strings.Replace(good, "replicas: 2", "replica: 2", 1),
		"wrong type":               strings.Replace(good, "replicas: 2", "replicas: two", 1),
		"duplicate key":            strings.Replace(good, "replicas: 2", "replicas: 2\n  replicas: 3", 1),
		"unknown kind":             strings.Replace(good, "kind: Deployment", "kind: Deploymnet", 1),
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := (&manifests{}).add([]byte(doc)); err == nil {
				t.Fatal("accepted")
			} else {
				t.Log(err)
			}
		})
	}
}
