package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The command on a lake of master data only: the page is written and
// says what the later stages would add; a missing lake is an error.
func TestReportCommand(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "report")
	if _, err := battlake(t, "run", "--lake", dir, "--stages", "master", "--sites", "DC-BKK-01", "--progress=false"); err != nil {
		t.Fatal(err)
	}
	stdout, err := battlake(t, "report", "--lake", dir, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "wrote "+out+"/index.html") {
		t.Errorf("stdout %q does not name the page", stdout)
	}
	page, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"no digital_twin_state, _truth/truth_battery_daily", "no rul_prediction (run the rul stage)", "no alert, incident (run the alerts stage)", `src="data_volume.png"`} {
		if !strings.Contains(string(page), s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if _, err := battlake(t, "report", "--lake", filepath.Join(dir, "nope"), "--out", out); err == nil || !strings.Contains(err.Error(), "no lake directory") {
		t.Errorf("missing lake: err = %v", err)
	}
	if _, err := battlake(t, "report", "--lake", dir); err == nil || !strings.Contains(err.Error(), "out") {
		t.Errorf("no --out: err = %v", err)
	}
}
