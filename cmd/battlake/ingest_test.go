package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestCommand: the bad-row fixture through the command: a summary
// by reason and exit 0; --strict exits 4 and writes nothing; --output json
// parses; a bad flag is a usage error.
func TestIngestCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lake")
	if _, err := battlake(t, append([]string{"run", "--lake", dir, "--stages", "master"}, tiny...)...); err != nil {
		t.Fatal(err)
	}
	fix := filepath.Join("..", "..", "testdata", "ingest", "telemetry_jar_raw_bad.csv")
	before := dirHashes(t, dir)
	out, err := battlake(t, "ingest", "--lake", dir, "--table", "telemetry_jar_raw", "--file", fix, "--strict")
	if code := exitCode(err); code != exitRejected {
		t.Fatalf("--strict with bad rows: exit %d (%v), want %d", code, err, exitRejected)
	}
	if !strings.Contains(out, "rejected  10") {
		t.Errorf("--strict summary:\n%s", out)
	}
	if d := diffKeys(before, dirHashes(t, dir)); len(d) > 0 {
		t.Errorf("--strict wrote %v", d)
	}
	out, err = battlake(t, "ingest", "--lake", dir, "--table", "telemetry_jar_raw", "--file", fix)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"accepted  5", "rejected  10", "out_of_range", "duplicate_key", "truncated", "rejects/month="} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, err = battlake(t, "ingest", "--lake", dir, "--table", "telemetry_jar_raw", "--file", fix, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Rows, Accepted, Rejected int64
		Unchanged                bool
		ByReason                 map[string]int64
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if s.Rows != 15 || s.Accepted != 5 || s.Rejected != 10 || s.ByReason["nan"] != 1 {
		t.Errorf("json summary %+v", s)
	}
	// The day's rejects were recorded by the first run, but this run's
	// clock is another moment of the same day: nothing new is written.
	if !s.Unchanged {
		t.Errorf("second ingest of the same file: %+v, want unchanged", s)
	}
	for _, args := range [][]string{
		{"ingest", "--lake", dir, "--table", "alert", "--file", fix},
		{"ingest", "--lake", dir, "--table", "telemetry_jar_raw", "--file", fix, "--output", "yaml"},
		{"ingest", "--lake", dir, "--table", "telemetry_jar_raw"},
	} {
		if _, err := battlake(t, args...); exitCode(err) != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, exitCode(err), exitUsage)
		}
	}
}
