// Package deploy holds the container and cluster manifests; this test
// parses them and checks the fields a cluster needs, against the stage
// registry, so adding a stage without its phase fails here.
package deploy

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/battlake/battlake/jobs"
	"go.yaml.in/yaml/v3"
)

type envVar struct {
	Name      string `yaml:"name"`
	ValueFrom *struct {
		SecretKeyRef    *struct{ Name, Key string } `yaml:"secretKeyRef"`
		ConfigMapKeyRef *struct{ Name, Key string } `yaml:"configMapKeyRef"`
		FieldRef        *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type container struct {
	Name      string   `yaml:"name"`
	Image     string   `yaml:"image"`
	Args      []string `yaml:"args"`
	Env       []envVar `yaml:"env"`
	Resources struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type job struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode       string `yaml:"completionMode"`
		Completions          *int   `yaml:"completions"`
		Parallelism          *int   `yaml:"parallelism"`
		BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
		Template             struct {
			Spec struct {
				RestartPolicy   string `yaml:"restartPolicy"`
				SecurityContext struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
					RunAsUser    *int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func load(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// argAfter returns the argument following flag.
func argAfter(args []string, flag string) (string, bool) {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

type secret struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"stringData"`
}

type configMap struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
}

// checkEnv: S3 credentials come from the secret, the lake and endpoint
// from the ConfigMap, and every $(VAR) in args is declared (Kubernetes
// expands only declared variables).
func checkEnv(t *testing.T, where string, c container, sec secret, cm configMap) {
	t.Helper()
	declared := map[string]envVar{}
	for _, e := range c.Env {
		declared[e.Name] = e
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		e, ok := declared[k]
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != sec.Metadata.Name {
			t.Errorf("%s: %s must come from secret %s", where, k, sec.Metadata.Name)
			continue
		}
		if _, ok := sec.Data[e.ValueFrom.SecretKeyRef.Key]; !ok {
			t.Errorf("%s: %s refers to key %s the secret lacks", where, k, e.ValueFrom.SecretKeyRef.Key)
		}
	}
	for _, k := range []string{"BATTLAKE_LAKE", "AWS_ENDPOINT_URL_S3", "AWS_REGION"} {
		e, ok := declared[k]
		if !ok || e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil || e.ValueFrom.ConfigMapKeyRef.Name != cm.Metadata.Name {
			t.Errorf("%s: %s must come from ConfigMap %s", where, k, cm.Metadata.Name)
			continue
		}
		if _, ok := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]; !ok {
			t.Errorf("%s: %s refers to key %s the ConfigMap lacks", where, k, e.ValueFrom.ConfigMapKeyRef.Key)
		}
	}
	for _, a := range c.Args {
		for _, m := range regexp.MustCompile(`\$\(([A-Z_]+)\)`).FindAllStringSubmatch(a, -1) {
			if _, ok := declared[m[1]]; !ok {
				t.Errorf("%s: arg %q uses $(%s), which the container does not declare", where, a, m[1])
			}
		}
	}
	if lake, _ := argAfter(c.Args, "--lake"); lake != "$(BATTLAKE_LAKE)" {
		t.Errorf("%s: --lake %q, want $(BATTLAKE_LAKE)", where, lake)
	}
	if c.Resources.Limits["memory"] == "" {
		t.Errorf("%s: no memory limit", where)
	}
	if cfg, _ := argAfter(c.Args, "--config"); cfg != "/etc/battlake/scenario.yaml" ||
		!slices.ContainsFunc(c.VolumeMounts, func(v struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		}) bool {
			return v.MountPath == "/etc/battlake"
		}) {
		t.Errorf("%s: the scenario must be read from the mounted ConfigMap", where)
	}
}

func TestKubernetesJobs(t *testing.T) {
	var sec secret
	load(t, "k8s/secret.example.yaml", &sec)
	var cm configMap
	load(t, "k8s/config.yaml", &cm)
	if sec.Kind != "Secret" || cm.Kind != "ConfigMap" {
		t.Fatalf("secret kind %q, config kind %q", sec.Kind, cm.Kind)
	}
	// Every shard must plan the same tasks: the scenario parses and is valid.
	scen := filepath.Join(t.TempDir(), "scenario.yaml")
	os.WriteFile(scen, []byte(cm.Data["scenario.yaml"]), 0o644)
	if sc, err := jobs.LoadScenario(scen); err != nil {
		t.Fatal(err)
	} else if err := sc.Validate(); err != nil {
		t.Fatalf("ConfigMap scenario: %v", err)
	}
	files, _ := filepath.Glob("k8s/job-*.yaml")
	slices.Sort(files)
	var stages []string
	var image string
	for i, f := range files {
		var j job
		load(t, f, &j)
		if j.APIVersion != "batch/v1" || j.Kind != "Job" {
			t.Errorf("%s: %s %s, want batch/v1 Job", f, j.APIVersion, j.Kind)
		}
		s := j.Spec
		if s.CompletionMode != "Indexed" {
			t.Errorf("%s: completionMode %q, want Indexed", f, s.CompletionMode)
		}
		if s.Completions == nil || s.Parallelism == nil || *s.Completions < 1 || *s.Completions != *s.Parallelism {
			t.Errorf("%s: completions and parallelism must be equal and set", f)
			continue
		}
		n := *s.Completions
		ps := s.Template.Spec
		if ps.RestartPolicy != "Never" {
			// backoffLimitPerIndex needs Never; OnFailure would also
			// restart a shard in place without the Job counting it.
			t.Errorf("%s: restartPolicy %q, want Never", f, ps.RestartPolicy)
		}
		if s.BackoffLimitPerIndex == nil {
			t.Errorf("%s: no backoffLimitPerIndex: a failed shard should retry on its own", f)
		}
		if ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot || ps.SecurityContext.RunAsUser == nil || *ps.SecurityContext.RunAsUser == 0 {
			t.Errorf("%s: pods must run as a non-root user", f)
		}
		if len(ps.Containers) != 1 {
			t.Fatalf("%s: %d containers", f, len(ps.Containers))
		}
		c := ps.Containers[0]
		if c.Image == "" || (image != "" && c.Image != image) {
			t.Errorf("%s: image %q (others use %q)", f, c.Image, image)
		}
		image = c.Image
		if len(c.Args) == 0 || c.Args[0] != "run" {
			t.Errorf("%s: args %v must start with run", f, c.Args)
		}
		stage, _ := argAfter(c.Args, "--stages")
		stages = append(stages, stage)
		if want := fmt.Sprintf("job-%02d-%s.yaml", i+1, stage); filepath.Base(f) != want {
			t.Errorf("%s: file name, want %s (phase order)", f, want)
		}
		if shard, _ := argAfter(c.Args, "--shard"); shard != "$(JOB_COMPLETION_INDEX)/"+strconv.Itoa(n) {
			t.Errorf("%s: --shard %q, want $(JOB_COMPLETION_INDEX)/%d (completions)", f, shard, n)
		}
		if owner, _ := argAfter(c.Args, "--lease-owner"); !strings.Contains(owner, "$(JOB_COMPLETION_INDEX)") {
			t.Errorf("%s: --lease-owner %q must name the shard, so a retried pod reclaims its leases", f, owner)
		}
		idx := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == "JOB_COMPLETION_INDEX" })
		if idx < 0 || c.Env[idx].ValueFrom == nil || c.Env[idx].ValueFrom.FieldRef == nil ||
			c.Env[idx].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("%s: JOB_COMPLETION_INDEX must come from the completion-index annotation", f)
		}
		checkEnv(t, f, c, sec, cm)
		if !slices.ContainsFunc(ps.Volumes, func(v struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		}) bool {
			return v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name
		}) {
			t.Errorf("%s: no volume from ConfigMap %s", f, cm.Metadata.Name)
		}
	}
	if !slices.Equal(stages, jobs.StageNames()) {
		t.Fatalf("Job manifests cover stages %v; the registry has %v (add deploy/k8s/job-NN-<stage>.yaml and an Argo task per stage)", stages, jobs.StageNames())
	}
	checkDockerfile(t, image)
}

type workflow struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Spec       struct {
		Entrypoint      string `yaml:"entrypoint"`
		SecurityContext struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		Templates []struct {
			Name   string `yaml:"name"`
			Inputs struct {
				Parameters []struct{ Name string } `yaml:"parameters"`
			} `yaml:"inputs"`
			DAG *struct {
				Tasks []struct {
					Name         string `yaml:"name"`
					Depends      string `yaml:"depends"`
					Template     string `yaml:"template"`
					WithSequence struct {
						Count string `yaml:"count"`
					} `yaml:"withSequence"`
					Arguments struct {
						Parameters []struct{ Name, Value string } `yaml:"parameters"`
					} `yaml:"arguments"`
				} `yaml:"tasks"`
			} `yaml:"dag"`
			Container *container `yaml:"container"`
		} `yaml:"templates"`
	} `yaml:"spec"`
}

// The Argo DAG runs the registry's stages in phase order, each fanned out
// into the shard count of its Kubernetes Job.
func TestArgoWorkflow(t *testing.T) {
	var w workflow
	load(t, "argo/workflow.yaml", &w)
	var sec secret
	load(t, "k8s/secret.example.yaml", &sec)
	var cm configMap
	load(t, "k8s/config.yaml", &cm)
	if w.APIVersion != "argoproj.io/v1alpha1" || w.Kind != "Workflow" {
		t.Fatalf("%s %s, want an argoproj.io/v1alpha1 Workflow", w.APIVersion, w.Kind)
	}
	if w.Spec.SecurityContext.RunAsNonRoot == nil || !*w.Spec.SecurityContext.RunAsNonRoot {
		t.Error("workflow pods must run as non-root")
	}
	templates := map[string]int{}
	for i, tp := range w.Spec.Templates {
		templates[tp.Name] = i
	}
	entry, ok := templates[w.Spec.Entrypoint]
	if !ok || w.Spec.Templates[entry].DAG == nil {
		t.Fatalf("entrypoint %q is not a DAG template", w.Spec.Entrypoint)
	}
	var k8sImage string
	var names []string
	for i, task := range w.Spec.Templates[entry].DAG.Tasks {
		names = append(names, task.Name)
		wantDep := ""
		if i > 0 {
			wantDep = names[i-1]
		}
		if task.Depends != wantDep {
			t.Errorf("task %s depends on %q, want %q (phase order)", task.Name, task.Depends, wantDep)
		}
		params := map[string]string{}
		for _, p := range task.Arguments.Parameters {
			params[p.Name] = p.Value
		}
		if params["stage"] != task.Name || params["shard"] != "{{item}}" || params["shards"] != task.WithSequence.Count {
			t.Errorf("task %s: parameters %v, sequence count %q", task.Name, params, task.WithSequence.Count)
		}
		var j job
		load(t, fmt.Sprintf("k8s/job-%02d-%s.yaml", i+1, task.Name), &j)
		if j.Spec.Completions == nil || strconv.Itoa(*j.Spec.Completions) != task.WithSequence.Count {
			t.Errorf("task %s: %s shards, its Kubernetes Job another count", task.Name, task.WithSequence.Count)
		}
		if len(j.Spec.Template.Spec.Containers) > 0 {
			k8sImage = j.Spec.Template.Spec.Containers[0].Image
		}
		ti, ok := templates[task.Template]
		if !ok || w.Spec.Templates[ti].Container == nil {
			t.Fatalf("task %s: template %q is not a container template", task.Name, task.Template)
		}
	}
	if !slices.Equal(names, jobs.StageNames()) {
		t.Fatalf("DAG tasks %v; the registry's phases are %v", names, jobs.StageNames())
	}
	c := *w.Spec.Templates[templates["shard"]].Container
	if c.Image != k8sImage {
		t.Errorf("workflow image %q, Jobs use %q", c.Image, k8sImage)
	}
	if s, _ := argAfter(c.Args, "--shard"); s != "{{inputs.parameters.shard}}/{{inputs.parameters.shards}}" {
		t.Errorf("--shard %q", s)
	}
	if s, _ := argAfter(c.Args, "--stages"); s != "{{inputs.parameters.stage}}" {
		t.Errorf("--stages %q", s)
	}
	checkEnv(t, "argo shard template", c, sec, cm)
}

// checkDockerfile: multi-stage, a static build, a non-root final user and
// the battlake entrypoint; the image name itself is the registry's.
func checkDockerfile(t *testing.T, image string) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var froms, users, entry []string
	static := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(line, "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			froms = append(froms, line)
			users = append(users, "") // USER resets per stage
		case "USER":
			users[len(users)-1] = fields[1]
		case "ENTRYPOINT":
			entry = fields[1:]
		}
		if strings.Contains(line, "CGO_ENABLED=0") && strings.Contains(line, "./cmd/battlake") {
			static = true
		}
	}
	if len(froms) < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", len(froms))
	}
	if u := users[len(users)-1]; u == "" || u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("final stage runs as %q, want a non-root user", u)
	}
	if !strings.Contains(froms[len(froms)-1], "distroless/static") || !static {
		t.Error("final stage must be a static binary on distroless/static")
	}
	if !strings.Contains(strings.Join(entry, " "), "battlake") {
		t.Errorf("ENTRYPOINT %v does not run battlake", entry)
	}
	if !strings.Contains(image, "battlake") {
		t.Errorf("image %q", image)
	}
}
