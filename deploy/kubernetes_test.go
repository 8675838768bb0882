package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/profiles"
)

const (
	k8sDir        = "kubernetes"
	kedaFile      = "encoder-keda.yaml"  // needs KEDA's CRDs: checked as plain YAML
	kustomizeFile = "kustomization.yaml" // kustomize's, not an API object
)

// manifests are the objects of deploy/kubernetes, decoded strictly.
type manifests struct {
	namespaces  []corev1.Namespace
	configMaps  map[string]corev1.ConfigMap
	secrets     map[string]corev1.Secret
	deployments map[string]appsv1.Deployment
	services    map[string]corev1.Service
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	namespaced  []metav1.ObjectMeta // every namespaced object, with "kind/name" in Name
}

// yamlDocs splits a file into its YAML documents, skipping empty ones.
func yamlDocs(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var probe any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if probe != nil {
			docs = append(docs, doc)
		}
	}
}

// strict decodes doc into v, rejecting unknown or duplicate fields.
func strict(t *testing.T, where string, doc []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", k8sDir, err)
	}
	m := manifests{
		configMaps: map[string]corev1.ConfigMap{}, secrets: map[string]corev1.Secret{},
		deployments: map[string]appsv1.Deployment{}, services: map[string]corev1.Service{},
	}
	for _, file := range files {
		if base := filepath.Base(file); base == kedaFile || base == kustomizeFile {
			continue
		}
		for i, doc := range yamlDocs(t, file) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s #%d: %v", file, i+1, err)
			}
			where := file + " #" + strconv.Itoa(i+1) + " (" + tm.APIVersion + " " + tm.Kind + ")"
			var meta metav1.ObjectMeta
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Namespace":
				var o corev1.Namespace
				strict(t, where, doc, &o)
				m.namespaces = append(m.namespaces, o)
				continue
			case "v1 ConfigMap":
				var o corev1.ConfigMap
				strict(t, where, doc, &o)
				m.configMaps[o.Name], meta = o, o.ObjectMeta
			case "v1 Secret":
				var o corev1.Secret
				strict(t, where, doc, &o)
				m.secrets[o.Name], meta = o, o.ObjectMeta
			case "apps/v1 Deployment":
				var o appsv1.Deployment
				strict(t, where, doc, &o)
				m.deployments[o.Name], meta = o, o.ObjectMeta
			case "v1 Service":
				var o corev1.Service
				strict(t, where, doc, &o)
				m.services[o.Name], meta = o, o.ObjectMeta
			case "autoscaling/v2 HorizontalPodAutoscaler":
				var o autoscalingv2.HorizontalPodAutoscaler
				strict(t, where, doc, &o)
				m.hpas, meta = append(m.hpas, o), o.ObjectMeta
			default:
				t.Fatalf("%s: no typed check for this kind; add one to this test", where)
			}
			meta.Name = tm.Kind + "/" + meta.Name
			m.namespaced = append(m.namespaced, meta)
		}
	}
	return m
}

func TestKubernetesNamespace(t *testing.T) {
	m := loadManifests(t)
	if len(m.namespaces) != 1 {
		t.Fatalf("want one Namespace, have %d", len(m.namespaces))
	}
	ns := m.namespaces[0].Name
	for _, o := range m.namespaced {
		if o.Namespace != ns {
			t.Errorf("%s is in namespace %q, want %q", o.Name, o.Namespace, ns)
		}
	}
}

func TestKubernetesKustomization(t *testing.T) {
	docs := yamlDocs(t, filepath.Join(k8sDir, kustomizeFile))
	if len(docs) != 1 {
		t.Fatalf("%s: want one document", kustomizeFile)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	// Not strict: kustomize has many other fields (images:, patches:...).
	if err := yaml.Unmarshal(docs[0], &k); err != nil {
		t.Fatalf("%s: %v", kustomizeFile, err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("%s is %s %s", kustomizeFile, k.APIVersion, k.Kind)
	}
	files, _ := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != kustomizeFile && b != kedaFile {
			want = append(want, b)
		}
	}
	got := slices.Clone(k.Resources)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s lists %v, want every manifest but %s: %v", kustomizeFile, k.Resources, kedaFile, want)
	}
}

func TestKubernetesProfilesMatchRepository(t *testing.T) {
	m := loadManifests(t)
	cm, ok := m.configMaps["hlsd-profiles"]
	if !ok {
		t.Fatal("no ConfigMap hlsd-profiles")
	}
	inCM, ok := cm.Data["profiles.json"]
	if !ok {
		t.Fatal("ConfigMap hlsd-profiles has no profiles.json")
	}
	repo, err := os.ReadFile(filepath.Join(repoRoot(t), "profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(normalJSON(t, "the ConfigMap's profiles.json", []byte(inCM)), normalJSON(t, "profiles.json", repo)) {
		t.Errorf("ConfigMap hlsd-profiles differs from the repository's profiles.json: copy it again")
	}
	if _, err := profiles.Parse([]byte(inCM)); err != nil {
		t.Errorf("the ConfigMap's profiles.json: %v", err)
	}
}

// normalJSON re-encodes b with sorted keys and no spacing.
func normalJSON(t *testing.T, what string, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKubernetesDeployments(t *testing.T) {
	m := loadManifests(t)
	img := loadImage(t)
	known := hlsdEnv(t)

	for _, cm := range m.configMaps {
		checkEnvNames(t, "ConfigMap "+cm.Name, slices.Collect(maps.Keys(cm.Data)), known)
	}
	for _, s := range m.secrets {
		names := slices.Collect(maps.Keys(s.StringData))
		names = append(names, slices.Collect(maps.Keys(s.Data))...)
		checkEnvNames(t, "Secret "+s.Name, names, known)
	}

	var image string
	for _, target := range workerTargets {
		name := "hlsd-" + string(target)
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s", name)
			continue
		}
		where := "Deployment " + name
		pod := d.Spec.Template.Spec
		if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("%s: its selector does not select its own pods", where)
		}
		if len(pod.Containers) != 1 {
			t.Errorf("%s: want one container, have %d", where, len(pod.Containers))
			continue
		}
		c := pod.Containers[0]
		if len(c.Command) != 0 || !slices.Equal(c.Args, []string{string(target)}) {
			t.Errorf("%s: runs command %v args %v, want the image's entrypoint with args [%s]", where, c.Command, c.Args, target)
		}
		if image == "" {
			image = c.Image
		} else if c.Image != image {
			t.Errorf("%s uses image %s, the others %s: one image serves every target", where, c.Image, image)
		}

		env := containerEnv(t, where, m, c, known)
		cfg := parseConfig(t, where, target, withImageEnv(img, env))
		listen := port(t, cfg.Listen)
		if want := port(t, app.DefaultListen[target]); listen != want {
			t.Errorf("%s: hlsd %s listens on %d, want its default %d", where, target, listen, want)
		}
		if cfg.NATSURL == "" || !strings.HasPrefix(cfg.StoreURL, "s3://") {
			t.Errorf("%s: want HLSD_NATS_URL and an s3:// HLSD_STORE, have %q and %q", where, cfg.NATSURL, cfg.StoreURL)
		}
		for _, k := range storeEnv {
			if _, ok := env[k]; !ok {
				t.Errorf("%s: %s is not set", where, k)
			}
		}

		// The container port, probes and scrape annotations agree with the listen port.
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != int32(listen) || c.Ports[0].Name != "http" {
			t.Errorf("%s: container ports %+v, want one named http on %d", where, c.Ports, listen)
		}
		checkProbe(t, where+" liveness", c, c.LivenessProbe, "/healthz", listen, true)
		checkProbe(t, where+" readiness", c, c.ReadinessProbe, "/readyz", listen, true)
		checkProbe(t, where+" startup", c, c.StartupProbe, "/healthz", listen, false)
		ann := d.Spec.Template.Annotations
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(listen) || ann["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: scrape annotations %v, want scrape true, port %d, path /metrics", where, ann, listen)
		}

		// Shutdown: Kubernetes must wait longer than hlsd's drain.
		grace := 30 * time.Second // Kubernetes' default
		if g := pod.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		if grace <= cfg.ShutdownGrace {
			t.Errorf("%s: terminationGracePeriodSeconds is %v, want more than hlsd's shutdown grace %v", where, grace, cfg.ShutdownGrace)
		}

		// Non-root, and with a read-only root filesystem, writable data and /tmp.
		if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: want securityContext.runAsNonRoot", where)
		}
		mounts := map[string]corev1.VolumeMount{}
		for _, vm := range c.VolumeMounts {
			mounts[vm.MountPath] = vm
		}
		if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
			for _, dir := range []string{cfg.DataDir, "/tmp"} {
				if _, ok := mounts[dir]; !ok {
					t.Errorf("%s: the root filesystem is read-only and nothing is mounted at %s", where, dir)
				}
			}
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = v
		}
		for _, vm := range c.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok {
				t.Errorf("%s: mounts volume %s, which the pod does not have", where, vm.Name)
			}
		}

		switch target {
		case app.Gateway:
			// The gateway reads the ladder from the ConfigMap.
			vm, ok := mounts[filepath.Dir(cfg.ProfilesPath)]
			v := volumes[vm.Name]
			if !ok || v.ConfigMap == nil {
				t.Errorf("%s: no ConfigMap mounted at %s for HLSD_PROFILES %s", where, filepath.Dir(cfg.ProfilesPath), cfg.ProfilesPath)
			} else if _, ok := m.configMaps[v.ConfigMap.Name].Data[filepath.Base(cfg.ProfilesPath)]; !ok {
				t.Errorf("%s: ConfigMap %s has no key %s", where, v.ConfigMap.Name, filepath.Base(cfg.ProfilesPath))
			}
			if cfg.ContentURL == "" {
				t.Errorf("%s: HLSD_CONTENT_URL is not set", where)
			}
		case app.Encoder:
			// ffmpeg: bounded CPU and memory, and scratch space for one job.
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
				if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
					t.Errorf("%s: %s request %s and limit %s: want both, request ≤ limit", where, r, req.String(), lim.String())
				}
			}
			if cpu := c.Resources.Requests[corev1.ResourceCPU]; cpu.MilliValue() < 1000 {
				t.Errorf("%s: requests %s CPU; x264 needs at least one core", where, cpu.String())
			}
			if v := volumes[mounts[cfg.DataDir].Name]; v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
				t.Errorf("%s: want an emptyDir with a sizeLimit at %s for ffmpeg's scratch files", where, cfg.DataDir)
			}
		}
	}
	for name := range m.deployments {
		if !strings.HasPrefix(name, "hlsd-") || !slices.Contains(workerTargets, app.Target(strings.TrimPrefix(name, "hlsd-"))) {
			t.Errorf("Deployment %s is not one of hlsd's targets", name)
		}
	}
}

// containerEnv returns the environment a container gets from its env and
// envFrom, checking the names and that referenced ConfigMaps and Secrets exist.
func containerEnv(t *testing.T, where string, m manifests, c corev1.Container, known map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := m.configMaps[from.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom ConfigMap %s does not exist", where, from.ConfigMapRef.Name)
			}
			maps.Copy(env, cm.Data)
		case from.SecretRef != nil:
			s, ok := m.secrets[from.SecretRef.Name]
			if !ok {
				t.Errorf("%s: envFrom Secret %s does not exist", where, from.SecretRef.Name)
			}
			maps.Copy(env, s.StringData)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := m.secrets[ref.Name].StringData[ref.Key]
			if !ok {
				t.Errorf("%s: %s comes from Secret %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			v, ok := m.configMaps[ref.Name].Data[ref.Key]
			if !ok {
				t.Errorf("%s: %s comes from ConfigMap %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			t.Errorf("%s: %s: unsupported valueFrom", where, e.Name)
		}
	}
	checkEnvNames(t, where, slices.Collect(maps.Keys(env)), known)
	return env
}

func checkProbe(t *testing.T, where string, c corev1.Container, p *corev1.Probe, path string, listen int, required bool) {
	t.Helper()
	if p == nil {
		if required {
			t.Errorf("%s probe is missing", where)
		}
		return
	}
	if p.HTTPGet == nil || p.HTTPGet.Path != path {
		t.Errorf("%s probe: want an HTTP GET of %s", where, path)
		return
	}
	if got := containerPort(c, p.HTTPGet.Port); got != listen {
		t.Errorf("%s probe: port %s is %d, hlsd listens on %d", where, p.HTTPGet.Port.String(), got, listen)
	}
}

// containerPort resolves a port number or name of c.
func containerPort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return -1
}

// selects tells whether a label selector matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesServices(t *testing.T) {
	m := loadManifests(t)
	for _, target := range []app.Target{app.Gateway, app.Content} {
		name := "hlsd-" + string(target)
		svc, ok := m.services[name]
		if !ok {
			t.Errorf("no Service %s", name)
			continue
		}
		var matched []string
		for dn, d := range m.deployments {
			if selects(svc.Spec.Selector, d.Spec.Template.Labels) {
				matched = append(matched, dn)
			}
		}
		if !slices.Equal(matched, []string{name}) {
			t.Errorf("Service %s selects the pods of %v, want only Deployment %s", name, matched, name)
			continue
		}
		c := m.deployments[name].Spec.Template.Spec.Containers[0]
		want := port(t, app.DefaultListen[target])
		for _, sp := range svc.Spec.Ports {
			if got := containerPort(c, sp.TargetPort); got != want {
				t.Errorf("Service %s port %d goes to container port %d, hlsd %s listens on %d", name, sp.Port, got, target, want)
			}
		}
		if len(svc.Spec.Ports) == 0 {
			t.Errorf("Service %s has no ports", name)
		}
	}
}

func TestKubernetesHPA(t *testing.T) {
	m := loadManifests(t)
	var content bool
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		d, ok := m.deployments[ref.Name]
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || !ok {
			t.Errorf("HPA %s scales %s %s %s, which is not one of the Deployments", h.Name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment %s sets replicas although HPA %s scales it: every apply would reset them", d.Name, h.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("HPA %s: minReplicas %v, maxReplicas %d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		for _, mt := range h.Spec.Metrics {
			if mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU {
				if cpu := d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; cpu.IsZero() {
					t.Errorf("HPA %s scales on CPU utilisation, but %s requests no CPU", h.Name, d.Name)
				}
				if mt.Resource.Target.Type != autoscalingv2.UtilizationMetricType || mt.Resource.Target.AverageUtilization == nil {
					t.Errorf("HPA %s: want a CPU averageUtilization target", h.Name)
				}
				if ref.Name == "hlsd-content" {
					content = true
				}
			}
		}
	}
	if !content {
		t.Errorf("no HorizontalPodAutoscaler scales hlsd-content on CPU")
	}
}

// The KEDA ScaledObject is checked as plain YAML: its CRD is not in k8s.io/api.
func TestKubernetesKEDA(t *testing.T) {
	m := loadManifests(t)
	docs := yamlDocs(t, filepath.Join(k8sDir, kedaFile))
	if len(docs) != 1 {
		t.Fatalf("%s: want one document, have %d", kedaFile, len(docs))
	}
	var so struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			ScaleTargetRef struct {
				Name string `json:"name"`
			} `json:"scaleTargetRef"`
			MinReplicaCount *int `json:"minReplicaCount"`
			MaxReplicaCount *int `json:"maxReplicaCount"`
			Triggers        []struct {
				Type     string            `json:"type"`
				Metadata map[string]string `json:"metadata"`
			} `json:"triggers"`
		} `json:"spec"`
	}
	// Not strict: the file may use any of KEDA's other fields.
	if err := yaml.Unmarshal(docs[0], &so); err != nil {
		t.Fatalf("%s: %v", kedaFile, err)
	}
	if so.APIVersion != "keda.sh/v1alpha1" || so.Kind != "ScaledObject" {
		t.Errorf("%s is %s %s, want keda.sh/v1alpha1 ScaledObject", kedaFile, so.APIVersion, so.Kind)
	}
	if len(m.namespaces) == 1 && so.Metadata.Namespace != m.namespaces[0].Name {
		t.Errorf("%s is in namespace %q, want %q", kedaFile, so.Metadata.Namespace, m.namespaces[0].Name)
	}
	d, ok := m.deployments[so.Spec.ScaleTargetRef.Name]
	if so.Spec.ScaleTargetRef.Name != "hlsd-encoder" || !ok {
		t.Errorf("%s scales %q, want the Deployment hlsd-encoder", kedaFile, so.Spec.ScaleTargetRef.Name)
	} else if d.Spec.Replicas != nil {
		t.Errorf("Deployment %s sets replicas although KEDA scales it: every apply would reset them", d.Name)
	}
	if so.Spec.MinReplicaCount == nil || so.Spec.MaxReplicaCount == nil || *so.Spec.MinReplicaCount > *so.Spec.MaxReplicaCount {
		t.Errorf("%s: want minReplicaCount ≤ maxReplicaCount", kedaFile)
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "prometheus" {
		t.Fatalf("%s: want one prometheus trigger", kedaFile)
	}
	md := so.Spec.Triggers[0].Metadata
	const gauge = `hlsd_queue_pending_jobs{stage="encode"}`
	if q := md["query"]; !strings.Contains(q, gauge) {
		t.Errorf("%s: query %q does not read %s", kedaFile, q, gauge)
	} else if !strings.HasPrefix(q, "max(") {
		// Every hlsd process exports the same cluster-wide queue depth.
		t.Errorf("%s: query %q: aggregate with max(), since every hlsd pod reports the same queue depth", kedaFile, q)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "pkg", "metrics", "metrics.go"))
	if err != nil || !bytes.Contains(src, []byte(`"hlsd_queue_pending_jobs"`)) || !bytes.Contains(src, []byte(`"stage"`)) {
		t.Errorf("pkg/metrics no longer exports hlsd_queue_pending_jobs with a stage label (%v)", err)
	}
	if !strings.HasPrefix(md["serverAddress"], "http") {
		t.Errorf("%s: serverAddress %q is not a URL", kedaFile, md["serverAddress"])
	}
	if th, err := strconv.ParseFloat(md["threshold"], 64); err != nil || th <= 0 {
		t.Errorf("%s: threshold %q is not a positive number", kedaFile, md["threshold"])
	}
}
