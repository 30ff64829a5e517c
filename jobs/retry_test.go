package jobs_test

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
)

// failOnce is a store whose first read of one day's jar raw file fails
// with a transient error, as a flaky network read would.
type failOnce struct {
	readGuard
	day  string
	mu   sync.Mutex
	done bool
}

var errFlaky = errors.New("flaky read")

func (s *failOnce) fail(key string) error {
	if !strings.HasPrefix(key, "telemetry_jar_raw/") || path.Base(key) != "part-"+s.day+".parquet" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	s.done = true
	return errFlaky
}

// A derived month task that fails on its second day (a transient read
// error) is retried by the runner and writes what a clean run writes: the
// feature engine left mid-chunk and the twin's failed day are not reused.
func TestDerivedTaskRetriedAfterTransientReadError(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-10-29", 3, 5*time.Minute)
	sc.Sites = []string{"DC-KKC-01"}
	runOn(t, dir, "", sc, rawStages...)
	derivedRun(t, dir, "", sc, "calc")
	derived := []string{"feature_store", "digital_twin_state", filepath.Join(lake.StateArea, "digital_twin_state")}
	hashes := func() map[string]string { return subdirHashes(t, dir, derived...) }
	derivedRun(t, dir, "", sc, "features", "twin")
	clean := hashes()
	for _, sub := range derived {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	for _, stage := range []string{"features", "twin"} {
		store := &failOnce{day: sc.Start.AddDate(0, 0, 1).Format(time.DateOnly)}
		store.before = store.fail
		sum, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 8, Stages: []string{stage},
			Workers: 2, WrapStore: func(s objstore.Store) objstore.Store { store.Store = s; return store }})
		if err != nil {
			t.Fatalf("stage %s with one flaky read: %v", stage, err)
		}
		if !store.done {
			t.Fatalf("stage %s never read jar raw day %s: the fault was not injected", stage, store.day)
		}
		retries := 0
		for _, ts := range sum.Tables {
			retries += ts.Retries
		}
		if retries == 0 {
			t.Fatalf("stage %s: no task was retried", stage)
		}
	}
	sameFiles(t, clean, hashes())
}
