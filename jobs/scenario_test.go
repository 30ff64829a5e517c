package jobs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadScenarioOverridesOnlyWhatItNames(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "s.yaml")
	os.WriteFile(yml, []byte("sites: [DC-BKK-01, DC-CNX-01]\nstart: 2026-01-01\nend: 2026-02-01\nsample_interval: 1m\n"), 0o644)
	s, err := LoadScenario(yml)
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultScenario()
	if len(s.Sites) != 2 || s.Start.String() != "2026-01-01" || s.End.String() != "2026-02-01" ||
		s.SampleInterval.Duration != time.Minute || s.EnvInterval != def.EnvInterval || s.Mix != def.Mix {
		t.Fatalf("loaded %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "s.json")
	os.WriteFile(js, []byte(`{"mix":{"healthy":0.5,"accelerated":0.3,"failing":0.2},"sample_interval":"2s"}`), 0o644)
	s, err = LoadScenario(js)
	if err != nil {
		t.Fatal(err)
	}
	if s.Mix.Failing != 0.2 || s.SampleInterval.Duration != 2*time.Second || s.Start != def.Start {
		t.Fatalf("loaded %+v", s)
	}
	if s.Hash() == def.Hash() {
		t.Fatal("a different scenario must hash differently")
	}
}

func TestLoadScenarioRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"typo.yaml":    "sample_intervall: 5s\n",
		"badend.yaml":  "end: 2026-13-01\n",
		"badint.json":  `{"sample_interval": "five seconds"}`,
		"unknown.json": `{"sites": ["DC-BKK-01"], "bogus": 1}`,
		"notjson.json": `{`,
		"missing.yaml": "",
	}
	for name, body := range cases {
		p := filepath.Join(dir, name)
		if name != "missing.yaml" {
			os.WriteFile(p, []byte(body), 0o644)
		}
		_, err := LoadScenario(p)
		if err == nil || !strings.Contains(err.Error(), name) && name != "missing.yaml" {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
		if name == "missing.yaml" && err == nil {
			t.Errorf("missing file accepted")
		}
	}
}

func TestScenarioValidateReportsEveryProblem(t *testing.T) {
	s := DefaultScenario()
	s.SampleInterval = Duration{7 * time.Second}
	s.Mix = Mix{0.9, 0.9, 0}
	s.Sites = []string{"DC-NOPE-01"}
	err := s.Validate()
	if err == nil {
		t.Fatal("invalid scenario accepted")
	}
	for _, want := range []string{"divide a day", "profile mix", `unknown site "DC-NOPE-01"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
