// Package k8s_test checks the Kubernetes manifests of deploy/k8s without a
// cluster: every document decodes strictly into the k8s.io/api type of its
// kind (a misspelled or misplaced field fails), and the pieces that must
// agree do (selectors, probe ports, secrets, the bootstrap Job, the
// kustomization's file list).
package k8s_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// operatorSecrets are the Secrets the manifests use but do not define: the
// operator creates them (deploy/README.md says how), so no credential is
// ever in the repository. Each with the keys the manifests may read.
var operatorSecrets = map[string][]string{
	"accountd":               {"secret-key", "eventstore-url", "nats-url", "mongo-uri", "smtp", "introspection-clients"},
	"accountd-eventstore-ca": {"ca.crt"},
}

// serverEnv are the settings every process of accountd needs from the
// Secret, the bootstrap Job as much as the replicas.
var serverEnv = []string{"ACCOUNTD_SECRET_KEY", "EVENTSTORE_URL", "NATS_URL", "MONGO_URI"}

// kustomization is the part of kustomize's Kustomization these manifests
// use; decoding strictly into it refuses any other field, so a new field
// gets a check here first.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// manifests is every object of the resources, by kind.
type manifests struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
	jobs            []*batchv1.Job
	serviceAccounts []*corev1.ServiceAccount
	secrets         []*corev1.Secret
	configMaps      []*corev1.ConfigMap
}

// decodeStrict decodes one YAML document into out, refusing duplicate keys
// and fields out's type does not have.
func decodeStrict(doc []byte, out any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

// documents splits a YAML stream at its "---" lines, dropping empty ones.
func documents(raw []byte) [][]byte {
	var out [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		if strings.TrimSpace(stripComments(doc)) != "" {
			out = append(out, []byte(doc))
		}
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// decodeObject decodes one manifest into the k8s.io/api type its apiVersion
// and kind name, and files it in m.
func (m *manifests) decodeObject(doc []byte) error {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	var obj any
	switch meta.APIVersion + " " + meta.Kind {
	case "apps/v1 Deployment":
		d := &appsv1.Deployment{}
		m.deployments, obj = append(m.deployments, d), d
	case "v1 Service":
		s := &corev1.Service{}
		m.services, obj = append(m.services, s), s
	case "policy/v1 PodDisruptionBudget":
		p := &policyv1.PodDisruptionBudget{}
		m.pdbs, obj = append(m.pdbs, p), p
	case "batch/v1 Job":
		j := &batchv1.Job{}
		m.jobs, obj = append(m.jobs, j), j
	case "v1 ServiceAccount":
		s := &corev1.ServiceAccount{}
		m.serviceAccounts, obj = append(m.serviceAccounts, s), s
	case "v1 Secret":
		s := &corev1.Secret{}
		m.secrets, obj = append(m.secrets, s), s
	case "v1 ConfigMap":
		c := &corev1.ConfigMap{}
		m.configMaps, obj = append(m.configMaps, c), c
	default:
		return fmt.Errorf("apiVersion %q kind %q: not a kind this test knows (add it)", meta.APIVersion, meta.Kind)
	}
	return decodeStrict(doc, obj)
}

// load reads the kustomization in dir and every manifest it lists.
func load(t *testing.T, dir string) (kustomization, *manifests) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := decodeStrict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	m := &manifests{}
	for _, file := range k.Resources {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", file, err)
		}
		for i, doc := range documents(raw) {
			if err := m.decodeObject(doc); err != nil {
				t.Errorf("%s, document %d: %v", file, i+1, err)
			}
		}
	}
	return k, m
}

func TestDecoderRefusesWhatKubernetesWouldRefuse(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"misspelled field", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 3\n"},
		{"field in the wrong place", "apiVersion: v1\nkind: Service\nspec:\n  selector: {a: b}\n  targetPort: http\n"},
		{"duplicate key", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n"},
		{"wrong type", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nspec:\n  selector: app\n"},
		{"unknown kind", "apiVersion: v1\nkind: Servise\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &manifests{}
			if err := m.decodeObject([]byte(tc.doc)); err == nil {
				t.Fatalf("decoded:\n%s", tc.doc)
			}
		})
	}
}

// TestKustomizationListsEveryManifest: a manifest left out of the
// kustomization would silently not be applied.
func TestKustomizationListsEveryManifest(t *testing.T) {
	k, _ := load(t, ".")
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	listed := slices.Clone(k.Resources)
	sort.Strings(files)
	sort.Strings(listed)
	if !slices.Equal(files, listed) {
		t.Errorf("kustomization.yaml resources %v, files here %v", listed, files)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", k.APIVersion, k.Kind)
	}
}

// server returns the one Deployment and its accountd container.
func server(t *testing.T, m *manifests) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments, want 1", len(m.deployments))
	}
	d := m.deployments[0]
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", d.Name, len(d.Spec.Template.Spec.Containers))
	}
	return d, &d.Spec.Template.Spec.Containers[0]
}

func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func TestSelectorsPickTheReplicasAndNothingElse(t *testing.T) {
	_, m := load(t, ".")
	d, _ := server(t, m)
	pods := d.Spec.Template.Labels
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("Deployment replicas %v, want 3", d.Spec.Replicas)
	}
	if !selects(t, d.Spec.Selector, pods) {
		t.Errorf("Deployment selector %v does not match its pods' labels %v", d.Spec.Selector, pods)
	}
	var jobPods []map[string]string
	for _, j := range m.jobs {
		jobPods = append(jobPods, j.Spec.Template.Labels)
		if selects(t, d.Spec.Selector, j.Spec.Template.Labels) {
			t.Errorf("Deployment selector also matches Job %s's pods", j.Name)
		}
	}
	if len(m.services) == 0 {
		t.Fatal("no Service")
	}
	for _, s := range m.services {
		sel := &metav1.LabelSelector{MatchLabels: s.Spec.Selector}
		if !selects(t, sel, pods) {
			t.Errorf("Service %s selector %v does not match the pods' labels %v", s.Name, s.Spec.Selector, pods)
		}
		for _, jp := range jobPods {
			if selects(t, sel, jp) {
				t.Errorf("Service %s also sends traffic to the bootstrap Job's pods", s.Name)
			}
		}
	}
	if len(m.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(m.pdbs))
	}
	p := m.pdbs[0]
	if !selects(t, p.Spec.Selector, pods) {
		t.Errorf("PodDisruptionBudget selector %v does not match the pods' labels %v", p.Spec.Selector, pods)
	}
	if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() != 2 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 2", p.Spec.MinAvailable)
	}
	aff := d.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Fatal("no required pod anti-affinity")
	}
	for _, term := range aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if term.TopologyKey != "kubernetes.io/hostname" || !selects(t, term.LabelSelector, pods) {
			t.Errorf("anti-affinity term %+v: want topologyKey kubernetes.io/hostname selecting the replicas", term)
		}
	}
}

// portOf resolves a probe's or a Service's target port against the
// container's ports: by name, or by number among the declared ones.
func portOf(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// flagValue is the value of --name=value in args ("" and false if absent).
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func TestProbesAndPortsAreTheServicesOwn(t *testing.T) {
	_, m := load(t, ".")
	d, c := server(t, m)
	httpAddr, ok := flagValue(c.Args, "http")
	if !ok {
		t.Fatal("no --http=ADDR in the container's args")
	}
	metricsAddr, ok := flagValue(c.Args, "metrics-listen")
	if !ok {
		t.Fatal("no --metrics-listen=ADDR in the container's args")
	}
	portNamed := func(name string) string {
		for _, cp := range c.Ports {
			if cp.Name == name {
				return fmt.Sprint(cp.ContainerPort)
			}
		}
		return ""
	}
	if !strings.HasSuffix(httpAddr, ":"+portNamed("http")) || portNamed("http") == "" {
		t.Errorf("--http=%s, container port \"http\" %q", httpAddr, portNamed("http"))
	}
	if !strings.HasSuffix(metricsAddr, ":"+portNamed("metrics")) || portNamed("metrics") == "" {
		t.Errorf("--metrics-listen=%s, container port \"metrics\" %q", metricsAddr, portNamed("metrics"))
	}

	for _, tc := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/readyz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"liveness", c.LivenessProbe, "/healthz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.probe == nil || tc.probe.HTTPGet == nil {
				t.Fatal("no HTTP probe")
			}
			if tc.probe.HTTPGet.Path != tc.path {
				t.Errorf("path %s, want %s", tc.probe.HTTPGet.Path, tc.path)
			}
			if port, ok := portOf(c, tc.probe.HTTPGet.Port); !ok || fmt.Sprint(port) != portNamed("http") {
				t.Errorf("port %s is not the HTTP listener's", tc.probe.HTTPGet.Port.String())
			}
			// /readyz takes up to 3 s to answer (internal/httpapi).
			if tc.path == "/readyz" && tc.probe.TimeoutSeconds <= 3 {
				t.Errorf("timeoutSeconds %d: /readyz may take 3 s", tc.probe.TimeoutSeconds)
			}
		})
	}
	// The probes' paths are routes of the service.
	api, err := os.ReadFile("../../internal/httpapi/api.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/readyz", "/healthz"} {
		if !bytes.Contains(api, []byte(`r.HandleFunc("`+path+`"`)) {
			t.Errorf("internal/httpapi/api.go has no route %s", path)
		}
	}

	for _, s := range m.services {
		for _, sp := range s.Spec.Ports {
			if _, ok := portOf(c, sp.TargetPort); !ok {
				t.Errorf("Service %s port %s: targetPort %s is no port of the container", s.Name, sp.Name, sp.TargetPort.String())
			}
		}
	}
	var metricsService bool
	for _, s := range m.services {
		for _, sp := range s.Spec.Ports {
			if p, _ := portOf(c, sp.TargetPort); fmt.Sprint(p) == portNamed("metrics") {
				metricsService = true
				if s.Spec.ClusterIP != corev1.ClusterIPNone {
					t.Errorf("Service %s exposes /metrics behind one address: want it headless", s.Name)
				}
			}
		}
	}
	if !metricsService {
		t.Error("no Service for the metrics port")
	}
	if ann := d.Spec.Template.Annotations["prometheus.io/port"]; ann != portNamed("metrics") {
		t.Errorf("annotation prometheus.io/port %q, metrics port %s", ann, portNamed("metrics"))
	}
}

// TestArgsAreFlagsOfAccountd: a misspelled flag stops the service at start
// (exit 2); these are checked against cmd/accountd's source.
func TestArgsAreFlagsOfAccountd(t *testing.T) {
	_, m := load(t, ".")
	_, c := server(t, m)
	src, err := os.ReadFile("../../cmd/accountd/main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !regexp.MustCompile(`flags\.\w+\([^,]*,?\s*"`+regexp.QuoteMeta(name)+`"`).Match(src) {
			t.Errorf("arg %q: no such flag of accountd (cmd/accountd/main.go)", a)
		}
	}
}

func TestShutdownIsGraceful(t *testing.T) {
	_, m := load(t, ".")
	d, c := server(t, m)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep: the endpoint would still get requests after SIGTERM")
	}
	sleep := c.Lifecycle.PreStop.Sleep.Seconds
	// The endpoint must be gone from the Service before SIGTERM: at least
	// two readiness periods.
	if p := c.ReadinessProbe.PeriodSeconds; sleep < int64(p) {
		t.Errorf("preStop sleeps %d s, less than a readiness period (%d s)", sleep, p)
	}
	// After SIGTERM accountd waits up to 10 s for requests in flight
	// (internal/app), then hands over its consumers.
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || *grace < sleep+10+10 {
		t.Errorf("terminationGracePeriodSeconds %v: want at least the preStop sleep (%d s) + 10 s of requests + 10 s to hand over", grace, sleep)
	}
}

func TestRunsAsNonRootOnAReadOnlyFilesystem(t *testing.T) {
	_, m := load(t, ".")
	var pods []corev1.PodSpec
	for _, d := range m.deployments {
		pods = append(pods, d.Spec.Template.Spec)
	}
	for _, j := range m.jobs {
		pods = append(pods, j.Spec.Template.Spec)
	}
	for _, p := range pods {
		if p.SecurityContext == nil || p.SecurityContext.RunAsNonRoot == nil || !*p.SecurityContext.RunAsNonRoot {
			t.Errorf("pod of %s: runAsNonRoot not set", p.ServiceAccountName)
		}
		if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
			t.Errorf("pod with containers %s mounts a service account token it never uses", p.Containers[0].Name)
		}
		for _, c := range p.Containers {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("container %s: no securityContext", c.Name)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Errorf("container %s: root filesystem writable", c.Name)
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("container %s: privilege escalation allowed", c.Name)
			case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
				t.Errorf("container %s: capabilities not all dropped", c.Name)
			}
		}
	}
}

// secretRefs lists every Secret and key a pod reads ("" key: the whole
// Secret), and every ConfigMap.
func secretRefs(p corev1.PodSpec) (secrets map[string][]string, configMaps []string) {
	secrets = map[string][]string{}
	for _, c := range p.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				r := e.ValueFrom.SecretKeyRef
				secrets[r.Name] = append(secrets[r.Name], r.Key)
			}
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				configMaps = append(configMaps, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				secrets[e.SecretRef.Name] = append(secrets[e.SecretRef.Name], "")
			}
			if e.ConfigMapRef != nil {
				configMaps = append(configMaps, e.ConfigMapRef.Name)
			}
		}
	}
	for _, v := range p.Volumes {
		if v.Secret != nil {
			if len(v.Secret.Items) == 0 {
				secrets[v.Secret.SecretName] = append(secrets[v.Secret.SecretName], "")
			}
			for _, it := range v.Secret.Items {
				secrets[v.Secret.SecretName] = append(secrets[v.Secret.SecretName], it.Key)
			}
		}
		if v.ConfigMap != nil {
			configMaps = append(configMaps, v.ConfigMap.Name)
		}
	}
	return secrets, configMaps
}

func TestEverySecretIsDefinedOrTheOperators(t *testing.T) {
	_, m := load(t, ".")
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, s := range m.secrets {
		defined[s.Name] = true
	}
	for _, c := range m.configMaps {
		defined["configmap/"+c.Name] = true
	}
	var pods []corev1.PodSpec
	for _, d := range m.deployments {
		pods = append(pods, d.Spec.Template.Spec)
	}
	for _, j := range m.jobs {
		pods = append(pods, j.Spec.Template.Spec)
	}
	for _, p := range pods {
		secrets, configMaps := secretRefs(p)
		for name, keys := range secrets {
			if defined[name] {
				continue
			}
			documented, ok := operatorSecrets[name]
			if !ok {
				t.Errorf("Secret %q: neither in the kustomization nor among the operator's (operatorSecrets)", name)
				continue
			}
			for _, k := range keys {
				if k == "" || !slices.Contains(documented, k) {
					t.Errorf("Secret %q key %q: not among the keys the operator is told to provide %v", name, k, documented)
				}
			}
		}
		for _, name := range configMaps {
			if !defined["configmap/"+name] {
				t.Errorf("ConfigMap %q is not in the kustomization", name)
			}
		}
		if sa := p.ServiceAccountName; sa != "" && !slices.ContainsFunc(m.serviceAccounts, func(s *corev1.ServiceAccount) bool { return s.Name == sa }) {
			t.Errorf("ServiceAccount %q is not in the kustomization", sa)
		}
	}
	// The operator learns every Secret and key from deploy/README.md.
	for name, keys := range operatorSecrets {
		if !bytes.Contains(readme, []byte("`"+name+"`")) {
			t.Errorf("deploy/README.md does not name the Secret `%s`", name)
		}
		for _, k := range keys {
			if !bytes.Contains(readme, []byte("`"+k+"`")) {
				t.Errorf("deploy/README.md does not name the key `%s` of Secret %s", k, name)
			}
		}
	}
}

// envSources maps each environment variable to where it comes from.
func envSources(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil:
			out[e.Name] = fmt.Sprintf("%+v", e.ValueFrom)
		default:
			out[e.Name] = "value " + e.Value
		}
	}
	return out
}

func TestBootstrapJobRunsTheReplicasImageAndSettings(t *testing.T) {
	k, m := load(t, ".")
	d, c := server(t, m)
	if len(m.jobs) != 1 {
		t.Fatalf("%d Jobs, want 1 (bootstrap)", len(m.jobs))
	}
	j := m.jobs[0]
	if len(j.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("Job %s: %d containers, want 1", j.Name, len(j.Spec.Template.Spec.Containers))
	}
	jc := j.Spec.Template.Spec.Containers[0]
	if jc.Image != c.Image {
		t.Errorf("Job image %q, Deployment image %q", jc.Image, c.Image)
	}
	if !slices.ContainsFunc(k.Images, func(i struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	}) bool {
		return i.Name == c.Image && i.NewName != "" && i.NewTag != ""
	}) {
		t.Errorf("kustomization.yaml sets no image (newName, newTag) for %q", c.Image)
	}
	if len(jc.Args) == 0 || jc.Args[0] != "bootstrap" {
		t.Errorf("Job args %v, want accountd bootstrap", jc.Args)
	}
	if p := j.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
		t.Errorf("Job restartPolicy %q", p)
	}
	if j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil {
		t.Error("Job without backoffLimit or activeDeadlineSeconds: a failing bootstrap would retry for ever")
	}
	server, job := envSources(*c), envSources(jc)
	for _, name := range serverEnv {
		if server[name] == "" || server[name] != job[name] {
			t.Errorf("%s: Deployment from %q, Job from %q", name, server[name], job[name])
		}
	}
	// The event store's CA is where the URL's tlsCAFile points, in both.
	mounts := func(p corev1.PodSpec, c corev1.Container) map[string]string {
		vols := map[string]string{}
		for _, v := range p.Volumes {
			if v.Secret != nil {
				vols[v.Name] = v.Secret.SecretName
			}
		}
		out := map[string]string{}
		for _, vm := range c.VolumeMounts {
			if s, ok := vols[vm.Name]; ok {
				out[vm.MountPath] = s
			}
		}
		return out
	}
	sm, jm := mounts(d.Spec.Template.Spec, *c), mounts(j.Spec.Template.Spec, jc)
	if len(sm) == 0 || fmt.Sprint(sm) != fmt.Sprint(jm) {
		t.Errorf("Secret mounts: Deployment %v, Job %v", sm, jm)
	}
}

// TestKustomizeBuilds runs kustomize itself (kubectl's), where kubectl is
// installed, and decodes what it outputs as strictly.
func TestKustomizeBuilds(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	out, err := exec.Command(kubectl, "kustomize", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	m := &manifests{}
	for i, doc := range documents(out) {
		if err := m.decodeObject(doc); err != nil {
			t.Errorf("document %d of the build: %v", i+1, err)
		}
	}
	_, c := server(t, m)
	if !strings.Contains(c.Image, ":") || strings.HasPrefix(c.Image, "accountd") {
		t.Errorf("built image %q: the kustomization's image was not applied", c.Image)
	}
	if len(m.jobs) != 1 || m.jobs[0].Spec.Template.Spec.Containers[0].Image != c.Image {
		t.Errorf("built Job image differs from the Deployment's %q", c.Image)
	}
}
