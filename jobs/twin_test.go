package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/validate"
	"github.com/battlake/battlake/schema"
)

// Stage twin on one site over three days at 1 min holding a transfer
// (2026-10-30), surges and an equalize: through the store that refuses
// _truth/, the identified R0 follows the jars' own ohmic readings, SOC
// stays in range, R2/C2 stay NULL (no window is long enough), and a rerun
// writes nothing.
func TestTwinState(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-10-28", 3, time.Minute)
	sc.Sites = []string{"DC-KKC-01"}
	runOn(t, dir, "", sc, rawStages...)
	first := derivedRun(t, dir, "", sc, "calc", "twin")
	twinSegs := 0
	for _, w := range first {
		if len(w) > len("digital_twin_state") && w[:len("digital_twin_state")] == "digital_twin_state" {
			twinSegs++
		}
	}
	if twinSegs != 3 {
		t.Fatalf("twin wrote %d day segments, want 3: %v", twinSegs, first)
	}
	if again := derivedRun(t, dir, "", sc, "calc", "twin"); len(again) != 0 {
		t.Fatalf("rerun wrote %v", again)
	}
	db := openDuck(t)
	tw := lakecheck.Scan(dir, schema.MustLookup("digital_twin_state"))
	jar := lakecheck.Scan(dir, schema.MustLookup("telemetry_jar_raw"))
	win := lakecheck.Scan(dir, schema.MustLookup("telemetry_event_window"))
	bat := lakecheck.Scan(dir, schema.MustLookup("battery"))

	t.Run("R0 tracks ohmic readings", func(t *testing.T) {
		// Rows right after the window the jar was calibrated on, against
		// the jar's BMS ohmic readings of the hour before the window.
		q := fmt.Sprintf(`WITH cal AS (
				SELECT DISTINCT s.battery_id, s.r0_mohm, w.start_ts FROM %s s JOIN %s w ON s.captured_at = w.end_ts AND s.last_calibrated_at = w.start_ts
				WHERE s.r0_mohm IS NOT NULL),
			ohm AS (SELECT c.battery_id, c.r0_mohm, avg(j.resistance_mohm) r FROM cal c JOIN %s j
				ON j.battery_id = c.battery_id AND j.ts BETWEEN c.start_ts - INTERVAL 1 HOUR AND c.start_ts GROUP BY ALL)
			SELECT count(*), corr(r0_mohm, r), median(r0_mohm / r), quantile_cont(r0_mohm / r, 0.05), quantile_cont(r0_mohm / r, 0.95),
				count(DISTINCT battery_id) FROM ohm`, tw, win, jar)
		var n, jars int64
		var corr, ratio, p05, p95 float64
		if err := db.QueryRow(q).Scan(&n, &corr, &ratio, &p05, &p95, &jars); err != nil {
			t.Fatal(err)
		}
		if n < 100 || corr < 0.9 || ratio < 0.95 || ratio > 1.05 || p05 < 0.9 || p95 > 1.1 {
			t.Fatalf("%d calibrations (%d jars): corr(R0, ohmic) = %.3f, ratio median %.3f, 5-95 %% %.3f-%.3f", n, jars, corr, ratio, p05, p95)
		}
	})

	t.Run("ranges and NULLs", func(t *testing.T) {
		q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE soc_pct < 0 OR soc_pct > 100),
				count(*) FILTER (WHERE hour(captured_at) = 23 AND soc_pct < 90),
				count(sei_thickness_nm), count(r2_mohm) + count(c2_f),
				count(r0_mohm), count(*) FILTER (WHERE r0_mohm IS NOT NULL AND (calibration_rmse_v IS NULL OR last_calibrated_at IS NULL)
					OR r1_mohm IS NOT NULL AND calibration_rmse_v >= 0.03),
				count(DISTINCT state_id), count(soh_pct), count(*) FILTER (WHERE abs(capacity_fade_pct - (100 - soh_pct)) > 20),
				count(*) FILTER (WHERE NOT coalesce(CAST(json_extract(ocv_params_json, '$.e1_v') AS DOUBLE) BETWEEN 0.5 AND 2, false))
			FROM %s`, tw)
		var n, badSOC, lowFloat, sei, r2, r0, badCal, ids, soh, badFade, badOCV int64
		if err := db.QueryRow(q).Scan(&n, &badSOC, &lowFloat, &sei, &r2, &r0, &badCal, &ids, &soh, &badFade, &badOCV); err != nil {
			t.Fatal(err)
		}
		if badOCV != 0 {
			t.Errorf("%d rows without an OCV curve of 0.5-2 V span", badOCV)
		}
		if badSOC != 0 || lowFloat != 0 {
			t.Errorf("%d rows with SOC outside 0-100 %%, %d end-of-day rows below 90 %% on a float site", badSOC, lowFloat)
		}
		if sei != 0 || r2 != 0 {
			t.Errorf("%d SEI values (lead-acid has none), %d R2/C2 values from windows shorter than τ2", sei, r2)
		}
		if r0 == 0 || badCal != 0 {
			t.Errorf("%d rows with R0, %d of them without their calibration's time and RMSE, or with R1 from a poor fit", r0, badCal)
		}
		if ids != n {
			t.Errorf("%d state ids for %d rows", ids, n)
		}
		if soh == 0 || badFade != 0 {
			t.Errorf("%d rows with SOH, %d whose capacity fade disagrees with it", soh, badFade)
		}
	})

	t.Run("one row per battery in service per day", func(t *testing.T) {
		// Jars installed by each day's end (replacements appear on theirs)
		// and not removed by then (battery.replaced_date, master data).
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s b, (VALUES (DATE '2026-10-29'), (DATE '2026-10-30'), (DATE '2026-10-31')) d(e)
				WHERE (b.installed_date IS NULL OR b.installed_date < d.e) AND (b.replaced_date IS NULL OR b.replaced_date >= d.e)),
			count(*) FILTER (WHERE hour(captured_at) = 23 AND minute(captured_at) = 59), count(*),
			(SELECT count(*) FROM %[2]s s JOIN %[1]s b USING (battery_id) WHERE b.replaced_date <= s.captured_at::DATE AND hour(s.captured_at) = 23),
			(SELECT count(*) FROM %[1]s WHERE replaced_date < DATE '2026-10-31')
			FROM %[2]s`, bat, tw)
		var want, daily, all, afterRemoval, removed int64
		if err := db.QueryRow(q).Scan(&want, &daily, &all, &afterRemoval, &removed); err != nil {
			t.Fatal(err)
		}
		if daily != want || all <= daily {
			t.Fatalf("%d daily rows, want %d; %d rows in all (window rows: %d)", daily, want, all, all-daily)
		}
		if removed == 0 || afterRemoval != 0 {
			t.Fatalf("%d daily rows of jars after their removal (%d jars removed before the last day)", afterRemoval, removed)
		}
	})

	t.Run("a day rewritten alone from its month's filter chain", func(t *testing.T) {
		// The daily filter resumes from the day before's state, chained from
		// the month's first day: the last day's segment rewritten alone (from
		// 10-29's persisted state; TestTwinDailyRunsResumePersistedState
		// covers the rebuilds) is the same bytes as in the full run. (The
		// carry itself is TestEKFResumeCarriesStateAcrossDays: on this float
		// site every day ends full either way.)
		before := fileHashes(t, filepath.Join(dir, "digital_twin_state"))
		lk, err := pipeline.OpenLake(context.Background(), dir, pipeline.LakeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		job := derive.TwinJobs(lk)[0].(*pipeline.FuncJob)
		plan := job.PlanFn
		rewritten := 0
		job.PlanFn = func(ctx context.Context) ([]pipeline.Task, error) {
			tasks, err := plan(ctx)
			for k := range tasks {
				var keep []lake.Segment
				for _, sg := range tasks[k].Segments {
					if sg.From.Equal(time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)) {
						keep = append(keep, sg)
					}
				}
				rewritten += len(keep)
				tasks[k].Segments = keep
			}
			return tasks, err
		}
		r := &pipeline.Runner{Lake: lk, Workers: 2, Force: true}
		if _, err := r.RunJobs(context.Background(), []pipeline.Job{job}); err != nil {
			t.Fatal(err)
		}
		if rewritten != 1 {
			t.Fatalf("rewrote %d segments, want the last day's", rewritten)
		}
		sameFiles(t, before, fileHashes(t, filepath.Join(dir, "digital_twin_state")))
	})
}

// jarReads is a store that records which days of telemetry_jar_raw a run
// opens: what a day derived alone had to replay.
type jarReads struct {
	readGuard
	mu   sync.Mutex
	days map[string]bool
}

func (s *jarReads) note(key string) error {
	if strings.HasPrefix(key, "telemetry_jar_raw/") && strings.HasPrefix(path.Base(key), "part-") {
		s.mu.Lock()
		s.days[strings.TrimSuffix(strings.TrimPrefix(path.Base(key), "part-"), ".parquet")] = true
		s.mu.Unlock()
	}
	return nil
}

// twinDay runs stage twin on day alone (what `battlake run --start day
// --end day+1` derives) and returns the jar raw days it read and its debug
// log.
func twinDay(t testing.TB, lakeURL string, day time.Time, force bool) (read []string, log string) {
	return twinDayOn(t, lakeURL, "", day, force)
}

// twinDayOn is twinDay on a lake URL at an S3 endpoint.
func twinDayOn(t testing.TB, lakeURL, endpoint string, day time.Time, force bool) (read []string, log string) {
	t.Helper()
	ctx := context.Background()
	lk, err := pipeline.OpenLake(ctx, lakeURL, pipeline.LakeOptions{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	reads := &jarReads{days: map[string]bool{}}
	reads.Store, reads.before = lk.Store, reads.note
	lk = lake.New(reads)
	var buf syncBuffer
	job := derive.TwinJobsLog(lk, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))[0].(*pipeline.FuncJob)
	plan := job.PlanFn
	job.PlanFn = func(ctx context.Context) ([]pipeline.Task, error) {
		tasks, err := plan(ctx)
		var keep []pipeline.Task
		for _, tk := range tasks {
			tk.Segments = slices.DeleteFunc(tk.Segments, func(s lake.Segment) bool { return !s.From.Equal(day) })
			if len(tk.Segments) > 0 {
				keep = append(keep, tk)
			}
		}
		return keep, err
	}
	r := &pipeline.Runner{Lake: lk, Workers: 2, Force: force}
	sum, err := r.RunJobs(ctx, []pipeline.Job{job})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.Totals().Segments; n != 1 {
		t.Fatalf("twin run of %s wrote %d segments, want 1", day.Format(time.DateOnly), n)
	}
	for d := range reads.days {
		read = append(read, d)
	}
	slices.Sort(read)
	return read, buf.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// twinFiles hashes what stage twin writes: its table (data files and
// manifests) and its state files.
func twinFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	return subdirHashes(t, dir, "digital_twin_state", filepath.Join(lake.StateArea, "digital_twin_state"))
}

func dropTwin(t testing.TB, dir string) {
	t.Helper()
	for _, sub := range []string{"digital_twin_state", lake.StateArea} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
}

// without is m less keys.
func without(m map[string]string, keys ...string) map[string]string {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// Daily runs of stage twin resume the filter from the day before's
// persisted end state: a chain of one-day runs reads only its own day and
// writes the full run's bytes (table, manifests and states); a deleted, a
// corrupted or an outdated state (an earlier day changed) makes the day
// rebuild its chain, with the same bytes as a full run of the same lake.
func TestTwinDailyRunsResumePersistedState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sc := smallScenario("2026-10-28", 5, 5*time.Minute) // to 11-01: a month's chain restarts
	sc.Sites = []string{"DC-KKC-01"}
	runOn(t, dir, "", sc, rawStages...)
	derivedRun(t, dir, "", sc, "calc")
	var days []time.Time
	for d := sc.Start.Time; d.Before(sc.End.Time); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	derivedRun(t, dir, "", sc, "twin")
	full := twinFiles(t, dir)
	stateKey := func(d time.Time) string {
		return lake.MustPartition(schema.MustLookup("digital_twin_state"), lake.Month(d), -1).StateKey(d.Format(time.DateOnly))
	}
	dataKey := func(d time.Time) string {
		return lake.MustPartition(schema.MustLookup("digital_twin_state"), lake.Month(d), -1).SegmentKey(d.Format(time.DateOnly))
	}
	for _, d := range days {
		if full[stateKey(d)] == "" {
			t.Fatalf("the full run wrote no state file %s: %v", stateKey(d), slices.Sorted(maps.Keys(full)))
		}
	}

	t.Run("a chain of one-day runs is the full run", func(t *testing.T) {
		dropTwin(t, dir)
		for _, d := range days {
			read, log := twinDay(t, dir, d, false)
			if want := []string{d.Format(time.DateOnly)}; !slices.Equal(read, want) {
				t.Fatalf("day %s alone read jar raw days %v, want %v; log:\n%s", want[0], read, want, log)
			}
			resumed := strings.Contains(log, "resumed the persisted filter state")
			if first := d.Day() == 1 || d.Equal(days[0]); resumed == first || strings.Contains(log, "rebuilding") {
				t.Fatalf("day %s (first of its chain: %v): log\n%s", d.Format(time.DateOnly), first, log)
			}
		}
		sameFiles(t, full, twinFiles(t, dir))
	})

	t.Run("validate passes the state files, export skips them", func(t *testing.T) {
		lk, err := pipeline.OpenLake(ctx, dir, pipeline.LakeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := validate.Validate(ctx, lk, dir, validate.Options{Tables: []string{"digital_twin_state"}})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("validate: %+v", rep.Findings)
		}
		files, err := export.Files(ctx, lk, schema.MustLookup("digital_twin_state"), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != len(days) {
			t.Fatalf("export reads %d files, want the %d day files", len(files), len(days))
		}
		for _, f := range files {
			if f.Data.Key != dataKey(f.Segment.From) {
				t.Fatalf("export reads %s", f.Data.Key)
			}
		}
		// A damaged state file is noted, not a violation: it is a cache
		// the job checks (and rebuilds) itself.
		p := filepath.Join(dir, filepath.FromSlash(stateKey(days[1])))
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(orig)
		bad[len(bad)/2] ^= 1
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err = validate.Validate(ctx, lk, dir, validate.Options{Tables: []string{"digital_twin_state"}})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || !slices.ContainsFunc(rep.Notes, func(n string) bool {
			return strings.Contains(n, "1 of 5 state files") && strings.Contains(n, stateKey(days[1]))
		}) {
			t.Fatalf("damaged state: findings %+v, notes %q; want a note naming %s", rep.Findings, rep.Notes, stateKey(days[1]))
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	})

	d1, d2, d3 := days[0], days[1], days[2]
	t.Run("a deleted state falls back", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(stateKey(d2)))); err != nil {
			t.Fatal(err)
		}
		read, log := twinDay(t, dir, d3, true)
		// d2's state rebuilt from d1's, which is there.
		if want := []string{d2.Format(time.DateOnly), d3.Format(time.DateOnly)}; !slices.Equal(read, want) {
			t.Fatalf("read jar raw days %v, want %v; log:\n%s", read, want, log)
		}
		if !strings.Contains(log, "rebuilding the filter chain") || !strings.Contains(log, lake.ErrNoState.Error()) {
			t.Fatalf("no fallback logged:\n%s", log)
		}
		sameFiles(t, without(full, stateKey(d2)), twinFiles(t, dir))
		// d2 rerun alone puts its state back.
		twinDay(t, dir, d2, true)
		sameFiles(t, full, twinFiles(t, dir))
	})

	t.Run("a corrupted state falls back", func(t *testing.T) {
		p := filepath.Join(dir, filepath.FromSlash(stateKey(d2)))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-20] ^= 0x40 // a covariance bit of the last jar
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		read, log := twinDay(t, dir, d3, true)
		if want := []string{d2.Format(time.DateOnly), d3.Format(time.DateOnly)}; !slices.Equal(read, want) {
			t.Fatalf("read jar raw days %v, want %v; log:\n%s", read, want, log)
		}
		if !strings.Contains(log, "rebuilding the filter chain") || !strings.Contains(log, lake.ErrStateChanged.Error()) {
			t.Fatalf("no fallback logged:\n%s", log)
		}
		sameFiles(t, without(full, stateKey(d2)), without(twinFiles(t, dir), stateKey(d2)))
		twinDay(t, dir, d2, true)
		sameFiles(t, full, twinFiles(t, dir))
	})

	t.Run("a changed earlier day invalidates the state", func(t *testing.T) {
		// The first day's raw telemetry rewritten at another rate: every
		// later day of the month resumes another chain.
		day1 := sc
		day1.End = jobs.Date{Time: d2}
		day1.SampleInterval = jobs.Duration{Duration: 10 * time.Minute}
		runOn(t, dir, "", day1, "telemetry")
		read, log := twinDay(t, dir, d3, false)
		if want := []string{d1.Format(time.DateOnly), d2.Format(time.DateOnly), d3.Format(time.DateOnly)}; !slices.Equal(read, want) {
			t.Fatalf("read jar raw days %v, want %v; log:\n%s", read, want, log)
		}
		if !strings.Contains(log, "rebuilding the filter chain") || !strings.Contains(log, "the month's inputs now give") {
			t.Fatalf("no outdated state logged:\n%s", log)
		}
		alone := twinFiles(t, dir)
		if alone[stateKey(d3)] == full[stateKey(d3)] {
			t.Fatal("the day's state did not change with an earlier day's inputs")
		}
		dropTwin(t, dir)
		derivedRun(t, dir, "", sc, "twin")
		again := twinFiles(t, dir)
		for _, k := range []string{dataKey(d3), stateKey(d3)} {
			if alone[k] != again[k] {
				t.Errorf("%s: derived alone after the change %.12s, in a full run %.12s", k, alone[k], again[k])
			}
		}
	})
}

// On the S3 server, a chain of one-day twin runs reads one day each and
// writes the objects a full run writes on the filesystem.
func TestTwinDailyRunsOnS3(t *testing.T) {
	endpoint, access, secret, bucket := s3Env(t)
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	sc := smallScenario("2026-10-29", 3, 10*time.Minute)
	sc.Sites = []string{"DC-KKC-01"}
	dir := t.TempDir()
	runOn(t, dir, "", sc, rawStages...)
	derivedRun(t, dir, "", sc, "calc", "twin")
	prefix := "twin-" + time.Now().Format("150405.000000")
	url := "s3://" + bucket + "/" + prefix
	runOn(t, url, endpoint, sc, rawStages...)
	derivedRun(t, url, endpoint, sc, "calc")
	for d := sc.Start.Time; d.Before(sc.End.Time); d = d.AddDate(0, 0, 1) {
		if read, log := twinDayOn(t, url, endpoint, d, false); !slices.Equal(read, []string{d.Format(time.DateOnly)}) {
			t.Fatalf("day %s alone on S3 read jar raw days %v; log:\n%s", d.Format(time.DateOnly), read, log)
		}
	}
	s3, err := objstore.NewS3(context.Background(), objstore.S3Config{Bucket: bucket, Prefix: prefix, Endpoint: endpoint, AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	twinOnly := func(m map[string]string) map[string]string {
		maps.DeleteFunc(m, func(k, _ string) bool {
			return !strings.HasPrefix(k, "digital_twin_state/") && !strings.HasPrefix(k, lake.StateArea+"/digital_twin_state/")
		})
		return m
	}
	local, remote := twinOnly(storeHashes(t, fsStore(t, dir))), twinOnly(storeHashes(t, s3))
	if len(local) != 2*3+1 { // 3 days and states, one manifest
		t.Fatalf("local twin objects: %v", slices.Sorted(maps.Keys(local)))
	}
	sameFiles(t, local, remote)
}

// BenchmarkTwinDailyChain times stage twin in a chain of daily runs (one
// day derived alone per run, as a scheduled `battlake run --start D --end
// D+1` does) over one site, the last BENCH_DAYS (7) days of October 2026 at
// BENCH_INTERVAL (5 min; raw and calc written once): "resume" keeps the
// persisted end-of-day states, "rebuild" deletes them before each run
// (what every daily run did before state files: replay the month up to
// the day). Reports the twin run's wall seconds for day k of the chain as
// s_dayKK and its CPU seconds (this process: the shared machine's other
// load does not count) as cpu_s_dayKK, flat when resumed and growing with
// k when rebuilt, and the days of jar telemetry the chain read (1 per run
// resumed, k rebuilt).
func BenchmarkTwinDailyChain(b *testing.B) {
	days := 7
	if v, err := strconv.Atoi(os.Getenv("BENCH_DAYS")); err == nil && v > 0 && v <= 31 {
		days = v
	}
	// The month's last days: one chain (a month's first day starts cold).
	sc := smallScenario(time.Date(2026, 11, 1-days, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), days, 5*time.Minute)
	sc.Sites = []string{"DC-KKC-01"}
	if d, err := time.ParseDuration(os.Getenv("BENCH_INTERVAL")); err == nil {
		sc.SampleInterval = jobs.Duration{Duration: d}
	}
	dir := b.TempDir()
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 8, Workers: 2,
		Stages: append(slices.Clone(rawStages), "calc")}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"resume", "rebuild"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				dropTwin(b, dir)
				var secs, cpu []float64
				jarDays := 0
				for d := sc.Start.Time; d.Before(sc.End.Time); d = d.AddDate(0, 0, 1) {
					if mode == "rebuild" {
						if err := os.RemoveAll(filepath.Join(dir, lake.StateArea)); err != nil {
							b.Fatal(err)
						}
					}
					start, cpu0 := time.Now(), cpuSeconds()
					read, log := twinDay(b, dir, d, false)
					secs, cpu = append(secs, time.Since(start).Seconds()), append(cpu, cpuSeconds()-cpu0)
					jarDays += len(read)
					if rebuilt := strings.Contains(log, "rebuilding"); d.After(sc.Start.Time) && rebuilt != (mode == "rebuild") {
						b.Fatalf("%s, day %s: log\n%s", mode, d.Format(time.DateOnly), log)
					}
				}
				for k, s := range secs {
					b.ReportMetric(s, fmt.Sprintf("s_day%02d", k+1))
					b.ReportMetric(cpu[k], fmt.Sprintf("cpu_s_day%02d", k+1))
				}
				// The days of jar telemetry the chain filtered: the work,
				// free of the shared machine's noise.
				b.ReportMetric(float64(jarDays), "jar_days_read")
			}
		})
	}
}

// cpuSeconds is the user + system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
