package jobs_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/rul"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const goldenLake = "../testdata/golden/lake_seed42.sha256"

// TestGoldenLakeChecksums pins the bytes of a small lake at a fixed seed
// (one site, one day at 10 min, every stage). An intended change of the
// output must bump jobs.GeneratorVersion or derive.CodeVersion (or
// derive.AlertsVersion for the alerts stage alone; so reruns rewrite old
// partitions) and refresh this file with `go test ./jobs -run Golden
// -update`; an unintended one fails here.
func TestGoldenLakeChecksums(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, smallScenario("2026-06-01", 1, 10*time.Minute), 42)
	hashes := fileHashes(t, dir)
	keys := make([]string, 0, len(hashes))
	for k := range hashes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "# generator %s %s %s %s\n", jobs.GeneratorVersion, derive.CodeVersion, derive.AlertsVersion, rul.CodeVersion)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s  %s\n", hashes[k], filepath.ToSlash(k))
	}
	if *update {
		if err := os.WriteFile(goldenLake, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenLake)
	if err != nil {
		t.Fatalf("%v (run go test ./jobs -run Golden -update)", err)
	}
	if string(want) == b.String() {
		return
	}
	wantLines, gotLines := strings.Split(string(want), "\n"), strings.Split(b.String(), "\n")
	if wantLines[0] == gotLines[0] {
		t.Errorf("output changed without a version bump (still %s): bump jobs.GeneratorVersion (synthesis), derive.CodeVersion (derived stages) or derive.AlertsVersion (alerts), then refresh with -update", wantLines[0])
	}
	seen := map[string]bool{}
	for _, l := range wantLines {
		seen[l] = true
	}
	n := 0
	for _, l := range gotLines {
		if !seen[l] && n < 10 {
			t.Errorf("changed: %s", l)
			n++
		}
	}
	t.Fatalf("lake checksums differ from %s; if intended, run go test ./jobs -run Golden -update", goldenLake)
}
