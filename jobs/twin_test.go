package jobs_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
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

	t.Run("a day rebuilt alone from its month's filter chain", func(t *testing.T) {
		// The daily filter resumes from the day before's state, chained from
		// the month's first day: the last day's segment rewritten alone (its
		// chain rebuilt from 10-28 on demand) is the same bytes as in the
		// full run. (The carry itself is TestEKFResumeCarriesStateAcrossDays:
		// on this float site every day ends full either way.)
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
