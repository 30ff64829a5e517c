package jobs

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// The worker count changes neither the waves' results nor the tasks that
// spread over the worker budget (feature passes, model fits): every stage
// with 1 and 3 workers writes the same bytes.
func TestWorkersDoNotChangeBytes(t *testing.T) {
	sc := DefaultScenario()
	sc.Sites = []string{"DC-BKK-01"}
	sc.Start, _ = ParseDate("2026-03-01")
	sc.End, _ = ParseDate("2026-03-03")
	sc.SampleInterval, sc.HistoryInterval = Duration{5 * time.Minute}, Duration{time.Hour}
	var lakes [2]map[string]string
	for i, w := range []int{1, 3} {
		dir := t.TempDir()
		if _, err := Run(context.Background(), RunConfig{Lake: dir, Scenario: sc, Seed: 8, Workers: w}); err != nil {
			t.Fatal(err)
		}
		lakes[i] = treeHashes(t, dir)
	}
	for _, tb := range []string{"feature_store", "digital_twin_state", "ml_model"} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(lakes[0])), func(k string) bool { return strings.HasPrefix(k, tb+"/") }) {
			t.Errorf("no %s written: the comparison misses it", tb)
		}
	}
	if !maps.Equal(lakes[0], lakes[1]) {
		for k, v := range lakes[0] {
			if lakes[1][k] != v {
				t.Errorf("%s differs between 1 and 3 workers", k)
			}
		}
		for k := range lakes[1] {
			if _, ok := lakes[0][k]; !ok {
				t.Errorf("%s written with 3 workers only", k)
			}
		}
	}
}
