package evaluate

import (
	"context"
	"os"
	"testing"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
)

// The acceptance on a lake the caller built (the default run
// takes the whole machine, so it is not built here):
//
//	BATTLAKE_EVAL_LAKE=./lake go test ./jobs/evaluate -run Acceptance -v
//
// At least 70 % of the jars reaching end of service were warned 30 days
// ahead, and at least 80 % of the critical alerts match a real condition.
// The stage's own tests (jobs: TestAlertStageOnTinyLake) check the
// report's figures against the same definitions in SQL.
func TestAlertsAcceptanceOnLake(t *testing.T) {
	dir := os.Getenv("BATTLAKE_EVAL_LAKE")
	if dir == "" {
		t.Skip("BATTLAKE_EVAL_LAKE not set")
	}
	fs, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Alerts(context.Background(), lake.New(fs))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r)
	if r.EndOfService == 0 || r.Critical == 0 {
		t.Fatalf("%d jars at end of service, %d critical alerts: nothing to judge", r.EndOfService, r.Critical)
	}
	if r.WarnedShare < 0.70 {
		t.Errorf("%.1f %% of jars at end of service warned 30 days ahead, want >= 70 %%", 100*r.WarnedShare)
	}
	if r.CriticalPrecision < 0.80 {
		t.Errorf("%.1f %% of critical alerts match a real condition, want >= 80 %%", 100*r.CriticalPrecision)
	}
}
