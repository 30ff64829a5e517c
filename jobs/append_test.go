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

// allStages are every stage built so far, raw and derived: the derived
// tables must compose like the raw ones (their day files are pure
// functions of their lineage).
var allStages = []string{"master", "telemetry", "transactions", "calc", "features", "twin"}

// window is one site from start to end at 2 min, with a historian (1 h)
// before 2026-03-02: 2026-03-01 is a history day, 2026-03-02 a detail day,
// so the compose tests cover both kinds and the change of rate between.
func window(start, end string) jobs.Scenario {
	sc := smallScenario(start, 1, 2*time.Minute)
	e, _ := jobs.ParseDate(end)
	sc.End = e
	sc.DetailFrom, _ = jobs.ParseDate("2026-03-02")
	sc.HistoryInterval = jobs.Duration{Duration: time.Hour}
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
	checkDayRates(t, fsStore(t, ref), map[string]string{"2026-03-01": "sample_interval=1h0m0s", "2026-03-02": "sample_interval=2m0s"})

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
	raw := []string{"master", "telemetry", "transactions"}
	runOn(t, early, "", window("2026-03-01", "2026-03-02"), raw...)
	runOn(t, late, "", window("2026-07-14", "2026-07-15"), raw...)
	a, b := fileHashes(t, early), fileHashes(t, late)
	checked := map[string]int{}
	for k, v := range a {
		i := strings.Index(k, "month=")
		// As-of (history) files only: day files hold telemetry windows,
		// which differ between the two runs by construction.
		if i < 0 || !strings.HasSuffix(k, "part-"+lake.AsOfName+".parquet") {
			continue
		}
		month := k[i+6 : i+13]
		settledBy := "2025-12" // Dec 31 + 60 days < 2026-03-02
		if strings.HasPrefix(k, "_truth") {
			settledBy = "2026-02" // truth months are final when they end
		}
		if month > settledBy {
			continue
		}
		checked[strings.SplitN(k, "/month=", 2)[0]]++
		if b[k] != v {
			t.Errorf("%s changed between ends 2026-03-02 and 2026-07-15", k)
		}
	}
	for _, tb := range []string{"maintenance_event", "capacity_test_raw", "impedance_measurement_raw", "audit_log", "_truth/truth_battery_daily", "_truth/truth_event"} {
		if checked[tb] == 0 {
			t.Errorf("no settled month of %s compared (%v)", tb, checked)
		}
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

// Kill a day-2 run with SIGKILL at random commit steps spread over the
// whole run (raw and derived stages): a glob reader never sees day 1
// missing or any row twice, every manifest describes exactly the bytes
// published, and the rerun gives the lake of one clean run.
func TestDailyRunSurvivesKill(t *testing.T) {
	base := t.TempDir()
	runOn(t, base, "", window("2026-03-01", "2026-03-02"), allStages...)
	ref := t.TempDir()
	runOn(t, ref, "", window("2026-03-01", "2026-03-03"), allStages...)
	want := storeHashes(t, fsStore(t, ref))
	db := openDuck(t)
	jar := schema.MustLookup("telemetry_jar_raw")
	day1 := func(dir string) int64 {
		var n int64
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE ts < TIMESTAMPTZ '2026-03-02 00:00:00+00'", lakecheck.Scan(dir, jar))
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	wantDay1 := day1(base)
	if wantDay1 == 0 {
		t.Fatal("no day-1 rows")
	}
	copyLake := func() string {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	child := func(dir string, killAt int) (steps int, killed bool) {
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
	// How many commit steps a day-2 run has, from an uninterrupted run.
	total, _ := child(copyLake(), 0)
	if total < 20 {
		t.Fatalf("a day-2 run has only %d commit steps", total)
	}
	rng := rand.New(rand.NewPCG(8, 2))
	for i := 0; i < 4; i++ {
		// One kill point in each quarter of the run; the child may take a
		// few more steps before the signal lands.
		at := total*i/4 + 1 + rng.IntN(max(total/4, 1))
		dir := copyLake()
		if _, killed := child(dir, at); !killed {
			t.Fatalf("kill at step %d of %d did not happen", at, total)
		}
		if n := day1(dir); n != wantDay1 {
			t.Fatalf("after SIGKILL at step %d: day 1 has %d rows, want %d", at, n, wantDay1)
		}
		for _, tb := range schema.All() {
			if lakecheck.Present(dir, tb) {
				if err := lakecheck.CheckPK(db, dir, tb); err != nil {
					t.Fatalf("after SIGKILL at step %d: %v", at, err)
				}
			}
		}
		checkManifests(t, dir, fmt.Sprintf("after SIGKILL at step %d", at))
		runOn(t, dir, "", window("2026-03-02", "2026-03-03"), allStages...)
		got := storeHashes(t, fsStore(t, dir))
		for k := range got {
			if strings.HasPrefix(k, "_staging/") {
				delete(got, k) // killed writers' leftovers, swept once they age
			}
		}
		sameLake(t, fmt.Sprintf("after SIGKILL at step %d and a rerun", at), got, want)
	}
}

// checkManifests verifies that every manifest under dir describes the
// bytes published: each listed file exists with its size and SHA-256.
func checkManifests(t *testing.T, dir, when string) {
	t.Helper()
	s := fsStore(t, dir)
	l := lake.New(s)
	n := 0
	for _, tb := range schema.All() {
		parts, err := l.Partitions(context.Background(), tb)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, c := range parts {
			for _, f := range c.Manifest.Files {
				b, err := objstore.ReadAll(context.Background(), s, f.Key)
				h := sha256.Sum256(b)
				if err != nil || int64(len(b)) != f.Bytes || hex.EncodeToString(h[:]) != f.SHA256 {
					t.Fatalf("%s: manifest of %s lists %s with other bytes (%v)", when, c.Partition, f.Key, err)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s: no manifest file checked", when)
	}
}

// checkDayRates checks that every jar and string telemetry day segment of
// the listed days records the given rate, and that the rows match it: one
// row per jar and sample, less the sensors' dropouts. The room, ripple and
// event windows follow the day's kind too (history on 2026-03-01).
func checkDayRates(t *testing.T, st objstore.Store, want map[string]string) {
	t.Helper()
	lk := lake.New(st)
	for _, c := range []struct{ table, history, detail string }{
		{"telemetry_env", "env_interval=1h0m0s", "env_interval=1m0s"},
		{"ripple_capture", "ripple_every=24h0m0s", "ripple_every=1h0m0s"},
		{"telemetry_event_window", "captures=none", ""},
	} {
		parts, err := lk.Partitions(context.Background(), schema.MustLookup(c.table))
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, p := range parts {
			for _, seg := range p.Manifest.Segments {
				in := strings.Join(seg.Inputs, ",")
				if (seg.Name == "2026-03-01" && in != c.history) || (seg.Name == "2026-03-02" && in != c.detail) {
					t.Errorf("%s %s: inputs %q", c.table, seg.Name, in)
				}
				seen++
			}
		}
		if seen == 0 {
			t.Errorf("%s: no segments", c.table)
		}
	}
	for _, name := range []string{"telemetry_jar_raw", "telemetry_string_raw"} {
		parts, err := lk.Partitions(context.Background(), schema.MustLookup(name))
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]int64{}
		for _, c := range parts {
			for _, seg := range c.Manifest.Segments {
				if w, ok := want[seg.Name]; ok {
					if !slices.Contains(seg.Inputs, w) {
						t.Errorf("%s %s: inputs %v, want %s", name, seg.Name, seg.Inputs, w)
					}
					rows[seg.Name] += seg.Rows
				}
			}
		}
		// 1 h: 24 samples a day; 2 min: 720 (one site: 216 jars, 9 strings).
		perDay := map[string]int64{"sample_interval=1h0m0s": 24, "sample_interval=2m0s": 720}
		ents := int64(216)
		if name == "telemetry_string_raw" {
			ents = 9
		}
		for day, w := range want {
			full := ents * perDay[w]
			if rows[day] > full || rows[day] < full*95/100 {
				t.Errorf("%s %s: %d rows, want about %d (%s)", name, day, rows[day], full, w)
			}
		}
	}
}
