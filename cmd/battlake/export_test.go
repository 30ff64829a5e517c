package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/battlake/battlake/schema"
)

// battlake export writes a table's CSV to stdout or a file and its summary
// to stderr; bad requests exit with the usage or lake code.
func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	if _, err := battlake(t, append([]string{"run", "--lake", dir, "--stages", "master"}, tiny...)...); err != nil {
		t.Fatal(err)
	}
	exec := func(args ...string) (stdout, stderr string, err error) {
		var out, errb bytes.Buffer
		root := newRoot(&out, &errb)
		root.SetArgs(args)
		err = root.ExecuteContext(t.Context())
		return out.String(), errb.String(), err
	}
	bat := schema.MustLookup("battery")
	stdout, stderr, err := exec("export", "--lake", dir, "--table", "battery", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	for _, c := range bat.Columns {
		header = append(header, c.Name)
	}
	if strings.Join(recs[0], ",") != strings.Join(header, ",") {
		t.Errorf("header %v, want %v", recs[0], header)
	}
	m := regexp.MustCompile(`^exported battery: (\d+) rows from 1 files, `).FindStringSubmatch(stderr)
	if m == nil || m[1] != strconv.Itoa(len(recs)-1) || len(recs) < 2 {
		t.Errorf("stderr %q for %d CSV rows", stderr, len(recs)-1)
	}

	out := filepath.Join(t.TempDir(), "battery.csv")
	if _, _, err := exec("export", "--lake", dir, "--table", "battery", "--out", out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != stdout {
		t.Errorf("--out file differs from stdout (err %v)", err)
	}

	// --format parquet: one Parquet file, the same bytes to stdout and to
	// --out, the same row count as the CSV.
	pq, stderr, err := exec("export", "--lake", dir, "--table", "battery", "--format", "parquet")
	if err != nil {
		t.Fatal(err)
	}
	if len(pq) < 8 || pq[:4] != "PAR1" || pq[len(pq)-4:] != "PAR1" {
		t.Errorf("stdout is not a Parquet file (%d bytes)", len(pq))
	}
	if want := "exported battery: " + strconv.Itoa(len(recs)-1) + " rows from 1 files, "; !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "of Parquet") {
		t.Errorf("stderr %q, want %q... of Parquet", stderr, want)
	}
	out = filepath.Join(t.TempDir(), "battery.parquet")
	if _, _, err := exec("export", "--lake", dir, "--table", "battery", "--format", "parquet", "--out", out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != pq {
		t.Errorf("--out Parquet file differs from stdout (err %v)", err)
	}

	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"no table flag", []string{"export", "--lake", dir}, exitUsage},
		{"unknown table", []string{"export", "--lake", dir, "--table", "nope"}, exitUsage},
		{"blob table, bad month", []string{"export", "--lake", dir, "--table", "event_window_sample", "--month", "03"}, exitUsage},
		{"month of a master table", []string{"export", "--lake", dir, "--table", "battery", "--month", "2026-03"}, exitUsage},
		{"unknown format", []string{"export", "--lake", dir, "--table", "battery", "--format", "xlsx"}, exitUsage},
		{"no lake", []string{"export", "--lake", filepath.Join(dir, "missing"), "--table", "battery"}, exitLake},
	} {
		_, _, err := exec(c.args...)
		if got := exitCode(err); got != c.want {
			t.Errorf("%s: exit code %d (err %v), want %d", c.name, got, err, c.want)
		}
	}
}
