package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/validate"
)

// masterLake writes the master stage of one site (seconds) into a temp dir.
func masterLake(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lake")
	sc := jobs.DefaultScenario()
	sc.Sites = []string{"DC-BKK-01"}
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 3, Stages: []string{"master"}, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// execValidate runs `battlake validate args...` through the root command
// and returns the exit code, stdout and stderr.
func execValidate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code := exitValid
	old := exitProcess
	exitProcess = func(c int) { code = c }
	defer func() { exitProcess = old }()
	var stdout, stderr bytes.Buffer
	root := newRoot(&stdout, &stderr)
	root.SetArgs(append([]string{"validate"}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("validate %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

func TestValidateExitCodes(t *testing.T) {
	dir := masterLake(t)
	code, out, _ := execValidate(t, "--lake", dir)
	if code != exitValid || !strings.Contains(out, "OK: no violations") {
		t.Fatalf("clean lake: exit %d\n%s", code, out)
	}

	key := filepath.Join(dir, "battery", "part-00000.parquet")
	b, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(b, []byte("battlake.table"))
	b[i] ^= 0x20
	if err := os.WriteFile(key, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = execValidate(t, "--lake", dir, "--json")
	var rep validate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if code != exitViolations || rep.Violations != 1 || rep.Count(validate.CheckChecksum, "battery") != 1 {
		t.Fatalf("flipped byte: exit %d, report %s", code, out)
	}
	code, out, _ = execValidate(t, "--lake", dir, "--tables", "location,battery_model")
	if code != exitValid {
		t.Errorf("tables without the flipped file: exit %d\n%s", code, out)
	}

	for _, args := range [][]string{
		{"--lake", filepath.Join(dir, "missing")},
		{"--lake", dir, "--start", "2026-13-01"},
		{"--lake", dir, "--tables", "no_such_table"},
	} {
		code, _, errOut := execValidate(t, args...)
		if code != exitNoValidate || !strings.HasPrefix(errOut, "battlake validate: ") {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args, code, errOut, exitNoValidate)
		}
	}
}
