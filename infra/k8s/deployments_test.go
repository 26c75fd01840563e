package k8s

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// opsPort is the port of the functions' ops HTTP server (NATSFN_OPS_ADDR).
const opsPort = 8080

var functions = []string{"orders", "inventory", "payments"}

func TestConfigMap(t *testing.T) {
	m := loadManifests(t)
	cm := m.configMap("natsfn-config")
	if cm == nil {
		t.Fatal("ConfigMap natsfn-config missing")
	}
	if u := cm.Data["NATS_URL"]; !strings.HasPrefix(u, "nats://") {
		t.Errorf("NATS_URL = %q", u)
	}
	if r := cm.Data["NATSFN_REPLICAS"]; r != "3" {
		t.Errorf("NATSFN_REPLICAS = %q, want 3 on a cluster", r)
	}
	if a := cm.Data["NATSFN_OPS_ADDR"]; a != ":8080" {
		t.Errorf("NATSFN_OPS_ADDR = %q, want :8080 (the probes' port)", a)
	}
}

func TestFunctionDeployments(t *testing.T) {
	m := loadManifests(t)
	if len(m.deployments) != len(functions) {
		t.Errorf("%d deployments, want %d", len(m.deployments), len(functions))
	}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			d := m.deployment(fn)
			if d == nil {
				t.Fatalf("Deployment %q missing", fn)
			}
			checkDeployment(t, m, d, fn)
		})
	}
}

func checkDeployment(t *testing.T, m *manifests, d *appsv1.Deployment, fn string) {
	if d.Spec.Replicas != nil {
		t.Errorf("replicas = %d: the HPA owns the count, and apply would reset it", *d.Spec.Replicas)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod labels", k, v)
		}
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !strings.HasPrefix(c.Image, "natsfn/"+fn+":") {
		t.Errorf("image = %q", c.Image)
	}
	checkProbe(t, c, "liveness", c.LivenessProbe, "/healthz")
	checkProbe(t, c, "readiness", c.ReadinessProbe, "/readyz")
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		if req.IsZero() || lim.IsZero() {
			t.Errorf("%s: request %v, limit %v: both must be set", r, req.String(), lim.String())
		} else if lim.Cmp(req) < 0 {
			t.Errorf("%s: limit %v below request %v", r, lim.String(), req.String())
		}
	}
	podNonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no container securityContext")
	}
	if !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}

	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	url := env["NATS_URL"].ValueFrom
	if url == nil || url.ConfigMapKeyRef == nil {
		t.Error("NATS_URL does not come from a ConfigMap")
	} else if cm := m.configMap(url.ConfigMapKeyRef.Name); cm == nil || cm.Data[url.ConfigMapKeyRef.Key] == "" {
		t.Errorf("NATS_URL refers to %s/%s, which does not exist", url.ConfigMapKeyRef.Name, url.ConfigMapKeyRef.Key)
	}
	for _, name := range []string{"NATS_USER", "NATS_PASSWORD"} {
		from := env[name].ValueFrom
		if from == nil || from.SecretKeyRef == nil {
			t.Errorf("%s does not come from a Secret", name)
			continue
		}
		s := m.secret(from.SecretKeyRef.Name)
		if s == nil || s.StringData[from.SecretKeyRef.Key] == "" && len(s.Data[from.SecretKeyRef.Key]) == 0 {
			t.Errorf("%s refers to %s/%s, which does not exist", name, from.SecretKeyRef.Name, from.SecretKeyRef.Key)
		}
		if name == "NATS_USER" && s != nil && s.StringData["NATS_USER"] != fn {
			t.Errorf("NATS_USER = %q, want the function's own user %q", s.StringData["NATS_USER"], fn)
		}
	}
	if err := gomemlimitError(env["GOMEMLIMIT"], c.Resources.Limits[corev1.ResourceMemory]); err != nil {
		t.Error(err)
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			if cm := m.configMap(e.ValueFrom.ConfigMapKeyRef.Name); cm == nil || cm.Data[e.ValueFrom.ConfigMapKeyRef.Key] == "" {
				t.Errorf("%s refers to a missing ConfigMap key", e.Name)
			}
		}
	}
}

// gomemlimitError wants GOMEMLIMIT between 80% and 90% of the memory
// limit: under it the GC gives the heap room before the OOM killer acts.
func gomemlimitError(e corev1.EnvVar, limit resource.Quantity) error {
	if e.Value == "" {
		return fmt.Errorf("GOMEMLIMIT has no explicit value (a resourceFieldRef would set it to 100%% of the limit)")
	}
	gml, err := goBytes(e.Value)
	if err != nil {
		return fmt.Errorf("GOMEMLIMIT %q: %w", e.Value, err)
	}
	ratio := float64(gml) / float64(limit.Value())
	if ratio > 0.90 || ratio < 0.80 {
		return fmt.Errorf("GOMEMLIMIT %s is %.1f%% of the memory limit %s, want 80-90%%", e.Value, 100*ratio, limit.String())
	}
	return nil
}

// goBytes parses a GOMEMLIMIT value: a number with an optional B, KiB,
// MiB, GiB or TiB suffix, as the Go runtime reads it.
func goBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return n * mult, nil
}

func TestGOMEMLIMITCheckCanFail(t *testing.T) {
	limit := resource.MustParse("128Mi")
	for value, ok := range map[string]bool{"115MiB": true, "120586240": true, "128MiB": false, "134217728": false, "64MiB": false, "115M": false, "": false} {
		if err := gomemlimitError(corev1.EnvVar{Name: "GOMEMLIMIT", Value: value}, limit); (err == nil) != ok {
			t.Errorf("GOMEMLIMIT %q with a 128Mi limit: %v, want ok=%v", value, err, ok)
		}
	}
}

func TestAutoscalers(t *testing.T) {
	m := loadManifests(t)
	if len(m.hpas) != len(functions) || len(m.pdbs) != len(functions) {
		t.Errorf("%d HPAs and %d PDBs, want one of each per function", len(m.hpas), len(m.pdbs))
	}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			d := m.deployment(fn)
			h := m.hpa(fn)
			p := m.pdb(fn)
			if d == nil || h == nil || p == nil {
				t.Fatalf("deployment %v, HPA %v, PDB %v: all three must exist", d != nil, h != nil, p != nil)
			}
			ref := h.Spec.ScaleTargetRef
			if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != fn {
				t.Errorf("HPA targets %s %s %q", ref.APIVersion, ref.Kind, ref.Name)
			}
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas <= *h.Spec.MinReplicas {
				t.Errorf("HPA replicas %v..%d: want at least 2 and room to grow", h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
			cpu := false
			for _, metric := range h.Spec.Metrics {
				if metric.Resource != nil && metric.Resource.Name == corev1.ResourceCPU &&
					metric.Resource.Target.Type == autoscalingv2.UtilizationMetricType && metric.Resource.Target.AverageUtilization != nil {
					cpu = true
				}
			}
			if !cpu {
				t.Error("the HPA has no CPU utilization target")
			}
			if req := d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; req.IsZero() {
				t.Error("utilization needs a CPU request")
			}
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(labels.Set(d.Spec.Template.Labels)) || sel.Empty() {
				t.Errorf("PDB selector %v does not select the %s pods %v", sel, fn, d.Spec.Template.Labels)
			}
			if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() < 1 || int32(p.Spec.MinAvailable.IntValue()) >= *h.Spec.MinReplicas {
				t.Errorf("PDB minAvailable %v with at least %d pods: want 1 or more, and room for one eviction", p.Spec.MinAvailable, *h.Spec.MinReplicas)
			}
		})
	}
}

// checkProbe checks an HTTP probe on path served by the ops port.
func checkProbe(t *testing.T, c corev1.Container, kind string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("no HTTP %s probe", kind)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s probe path = %q, want %q", kind, p.HTTPGet.Path, path)
	}
	if port := resolvePort(c, p.HTTPGet.Port); port != opsPort {
		t.Errorf("%s probe port = %v (%d), want the ops port %d", kind, p.HTTPGet.Port.String(), port, opsPort)
	}
}

// resolvePort turns a named or numbered container port into a number.
func resolvePort(c corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

func (m *manifests) deployment(name string) *appsv1.Deployment {
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (m *manifests) hpa(name string) *autoscalingv2.HorizontalPodAutoscaler {
	for _, h := range m.hpas {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func (m *manifests) pdb(name string) *policyv1.PodDisruptionBudget {
	for _, p := range m.pdbs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (m *manifests) configMap(name string) *corev1.ConfigMap {
	for _, c := range m.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (m *manifests) secret(name string) *corev1.Secret {
	for _, s := range m.secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}
