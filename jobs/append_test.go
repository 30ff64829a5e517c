package jobs_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
)

// Appends: a month partition grows a day at a time. Every test here
// compares whole lakes byte for byte (data files and manifests), which is
// stronger than comparing rows: day files are pure functions of their day.

var allStages = []string{"master", "telemetry", "transactions"}

func window(start, end string) jobs.Scenario {
	sc := smallScenario(start, 1, 2*time.Minute)
	e, _ := jobs.ParseDate(end)
	sc.End = e
	return sc
}

// runOn runs the scenario on lake (a folder or s3:// URL) and returns the
// partitions each table committed.
func runOn(t *testing.T, lakeURL, endpoint string, sc jobs.Scenario, stages ...string) map[string][]string {
	t.Helper()
	var mu sync.Mutex
	committed := map[string][]string{}
	hooks := &lake.Hooks{Step: func(p lake.Partition, _, step string) error {
		if step == lake.StepCommitted {
			mu.Lock()
			committed[p.Table.Name] = append(committed[p.Table.Name], p.Month)
			mu.Unlock()
		}
		return nil
	}}
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: lakeURL, Endpoint: endpoint, Scenario: sc, Seed: 8, Stages: stages, Workers: 2, Hooks: hooks}); err != nil {
		t.Fatal(err)
	}
	return committed
}

// storeHashes maps every object of a store to its SHA-256.
func storeHashes(t *testing.T, s objstore.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.List(context.Background(), "", func(o objstore.ObjectInfo) error {
		b, err := objstore.ReadAll(context.Background(), s, o.Key)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[o.Key] = hex.EncodeToString(h[:])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameLake(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, "extra "+k)
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		t.Fatalf("%s: %d objects differ from one run over the union, e.g. %v", what, len(diff), diff[:min(5, len(diff))])
	}
}

func fsStore(t *testing.T, dir string) objstore.Store {
	s, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Day 1 then day 2, day 2 then day 1, rerunning day 2 and backfilling the
// month over written days all give the lake of one run over the union.
func TestDailyRunsComposeLikeOneRun(t *testing.T) {
	day1, day2 := window("2026-03-01", "2026-03-02"), window("2026-03-02", "2026-03-03")
	both := window("2026-03-01", "2026-03-03")
	ref := t.TempDir()
	runOn(t, ref, "", both, allStages...)
	want := storeHashes(t, fsStore(t, ref))

	t.Run("day 1 then day 2, rerun changes nothing", func(t *testing.T) {
		dir := t.TempDir()
		runOn(t, dir, "", day1, allStages...)
		runOn(t, dir, "", day2, allStages...)
		sameLake(t, "daily", storeHashes(t, fsStore(t, dir)), want)
		if again := runOn(t, dir, "", day2, allStages...); len(again) != 0 {
			t.Fatalf("rerunning day 2 rewrote %v", again)
		}
		sameLake(t, "rerun", storeHashes(t, fsStore(t, dir)), want)
	})
	t.Run("day 2 then day 1", func(t *testing.T) {
		dir := t.TempDir()
		runOn(t, dir, "", day2, allStages...)
		runOn(t, dir, "", day1, allStages...)
		sameLake(t, "reversed", storeHashes(t, fsStore(t, dir)), want)
	})
	t.Run("month backfill over written days", func(t *testing.T) {
		// The backfill runs at another rate: the days written at 2 min are
		// replaced, not duplicated.
		month := window("2026-03-01", "2026-04-01")
		month.SampleInterval = jobs.Duration{Duration: 10 * time.Minute}
		clean, dir := t.TempDir(), t.TempDir()
		runOn(t, clean, "", month, allStages...)
		runOn(t, dir, "", day2, allStages...)
		runOn(t, dir, "", day1, allStages...)
		runOn(t, dir, "", month, allStages...)
		sameLake(t, "backfill", storeHashes(t, fsStore(t, dir)), storeHashes(t, fsStore(t, clean)))
	})
	t.Run("s3", func(t *testing.T) {
		endpoint, access, secret, bucket := s3Env(t)
		t.Setenv("AWS_ACCESS_KEY_ID", access)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		for _, order := range [][]jobs.Scenario{{day1, day2}, {day2, day1}} {
			prefix := fmt.Sprintf("append-%s-%d", time.Now().Format("150405.000000"), order[0].Start.Day())
			for _, sc := range order {
				runOn(t, "s3://"+bucket+"/"+prefix, endpoint, sc, allStages...)
			}
			s3, err := objstore.NewS3(context.Background(), objstore.S3Config{Bucket: bucket, Prefix: prefix, Endpoint: endpoint, AccessKey: access, SecretKey: secret})
			if err != nil {
				t.Fatal(err)
			}
			sameLake(t, "s3 days "+order[0].Start.String()+" first", storeHashes(t, s3), want)
		}
	})
}

// A one-day run on a lake with history rewrites no truth partition outside
// that day's month, and no transactional month older than the settle time.
func TestOneDayRunTouchesOnlyItsMonth(t *testing.T) {
	dir := t.TempDir()
	runOn(t, dir, "", window("2026-02-27", "2026-03-02"), allStages...)
	got := runOn(t, dir, "", window("2026-03-02", "2026-03-03"), allStages...)
	for table, months := range got {
		tb := schema.MustLookup(table)
		for _, m := range months {
			switch {
			case tb.Partition.MonthOf == "":
				// master snapshots move with the end
			case tb.Class == schema.ClassTruth && m != "2026-03":
				t.Errorf("%s: one-day run of 2026-03-02 rewrote month %s", table, m)
			case m < "2026-01":
				t.Errorf("%s: one-day run of 2026-03-02 rewrote settled month %s", table, m)
			}
		}
	}
	if !slices.Contains(got["truth_battery_daily"], "2026-03") || !slices.Contains(got["telemetry_jar_raw"], "2026-03") {
		t.Fatalf("the day's own month was not written: %v", got)
	}
}

// A transactional or truth month is a function of the end only until it
// settles: months settled under an earlier end are byte-identical under a
// later one, so later runs may skip them.
func TestHistoryMonthsSettle(t *testing.T) {
	early, late := t.TempDir(), t.TempDir()
	runOn(t, early, "", window("2026-03-01", "2026-03-02"), "master", "telemetry", "transactions")
	runOn(t, late, "", window("2026-03-01", "2026-07-15"), "master", "transactions")
	a, b := fileHashes(t, early), fileHashes(t, late)
	checked := 0
	for k, v := range a {
		i := strings.Index(k, "month=")
		if i < 0 || strings.Contains(k, "telemetry") || strings.Contains(k, "ripple") || strings.Contains(k, "truth_event") {
			continue // day-file and telemetry-window tables are covered elsewhere
		}
		month := k[i+6 : i+13]
		settledBy := "2025-12" // Dec 31 + 60 days < 2026-03-02
		if strings.HasPrefix(k, "_truth") {
			settledBy = "2026-02"
		}
		if month > settledBy {
			continue
		}
		if strings.HasPrefix(k, "_truth/truth_battery_daily") {
			continue // only written by the telemetry stage, absent from late
		}
		checked++
		if b[k] != v {
			t.Errorf("%s changed between ends 2026-03-02 and 2026-07-15", k)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d settled files compared", checked)
	}
}

// The kill helper: a day-2 run that prints a line at every commit step, so
// the parent can SIGKILL it at a chosen point without timing guesses.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv("BATTLAKE_KILL_HELPER_LAKE")
	if dir == "" {
		t.Skip("run by TestDailyRunSurvivesKill")
	}
	hooks := &lake.Hooks{Step: func(p lake.Partition, seg, step string) error {
		fmt.Fprintf(os.Stdout, "STEP %s %s %s\n", p, seg, step)
		return nil
	}}
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: window("2026-03-02", "2026-03-03"), Seed: 8, Stages: allStages, Workers: 2, Hooks: hooks}); err != nil {
		t.Fatal(err)
	}
}

// Kill a day-2 run with SIGKILL at random commit steps, several times over
// the same lake: a glob reader never sees day 1 missing or any row twice,
// and the final rerun gives the lake of one clean run.
func TestDailyRunSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	runOn(t, dir, "", window("2026-03-01", "2026-03-02"), allStages...)
	ref := t.TempDir()
	runOn(t, ref, "", window("2026-03-01", "2026-03-03"), allStages...)
	want := storeHashes(t, fsStore(t, ref))
	db := openDuck(t)
	jar := schema.MustLookup("telemetry_jar_raw")
	day1 := fmt.Sprintf("SELECT count(*) FROM %s WHERE ts < TIMESTAMPTZ '2026-03-02 00:00:00+00'", lakecheck.Scan(dir, jar))
	var wantDay1 int64
	if err := db.QueryRow(day1).Scan(&wantDay1); err != nil || wantDay1 == 0 {
		t.Fatalf("day 1 rows %d, %v", wantDay1, err)
	}
	child := func(killAt int) (steps int, killed bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BATTLAKE_KILL_HELPER_LAKE="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "STEP ") {
				steps++
				if steps == killAt {
					cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
					killed = true
					break
				}
			}
		}
		for sc.Scan() { // drain until the pipe closes
		}
		err = cmd.Wait()
		if !killed && err != nil {
			t.Fatalf("helper run failed: %v", err)
		}
		return steps, killed
	}
	// Learn how many steps a day-2 run has from a throwaway copy.
	probe := t.TempDir()
	if err := os.CopyFS(probe, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	saved := dir
	dir = probe
	total, _ := child(0)
	dir = saved
	if total < 10 {
		t.Fatalf("a day-2 run has only %d commit steps", total)
	}
	rng := rand.New(rand.NewPCG(8, 2))
	// Kill points early enough that each killed run leaves work for the
	// next: the crashes accumulate on one lake.
	for i := 0; i < 4; i++ {
		at := 1 + rng.IntN(total/5)
		if _, killed := child(at); !killed {
			t.Fatalf("kill at step %d of %d did not happen", at, total)
		}
		var n, rows, distinct int64
		if err := db.QueryRow(day1).Scan(&n); err != nil || n != wantDay1 {
			t.Fatalf("after SIGKILL at step %d: day 1 has %d rows, want %d (%v)", at, n, wantDay1, err)
		}
		q := fmt.Sprintf("SELECT count(*), count(DISTINCT (battery_id, ts)) FROM %s", lakecheck.Scan(dir, jar))
		if err := db.QueryRow(q).Scan(&rows, &distinct); err != nil || rows != distinct {
			t.Fatalf("after SIGKILL at step %d: %d rows, %d distinct (%v)", at, rows, distinct, err)
		}
	}
	runOn(t, dir, "", window("2026-03-02", "2026-03-03"), allStages...)
	got := storeHashes(t, fsStore(t, dir))
	for k := range got {
		if strings.HasPrefix(k, "_staging/") {
			delete(got, k) // killed writers' leftovers, swept once they age
		}
	}
	sameLake(t, "after kills and a rerun", got, want)
}
