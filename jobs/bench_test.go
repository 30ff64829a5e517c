package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/internal/benchutil"
	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/features/featuresql"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	_ "github.com/duckdb/duckdb-go/v2"
)

func peakRSS() int64 { return benchutil.PeakRSS() }

func resetPeakRSS() { benchutil.ResetPeakRSS() }

// BenchmarkTelemetryJarFleetDay writes one fleet-day of telemetry_jar_raw
// at 5 s (1,944 jars x 17,280 samples = 33.6 M rows), physics included, to
// Parquet on local disk, with 1 and 2 workers. BENCH_DAYS, BENCH_INTERVAL
// and BENCH_SITES (comma-separated codes) reshape it; peak RSS shows that
// memory follows the partition, not the date range.
func BenchmarkTelemetryJarFleetDay(b *testing.B) {
	sc := DefaultScenario()
	sc.Start, sc.DetailFrom = Date{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, Date{} // every day at the detail rate
	days := 1
	if v, err := strconv.Atoi(os.Getenv("BENCH_DAYS")); err == nil && v > 0 {
		days = v
	}
	sc.End = Date{sc.Start.AddDate(0, 0, days)}
	if d, err := time.ParseDuration(os.Getenv("BENCH_INTERVAL")); err == nil {
		sc.SampleInterval = Duration{d}
	}
	if s := os.Getenv("BENCH_SITES"); s != "" {
		sc.Sites = strings.Split(s, ",")
	}
	e, err := NewEnv(sc, DefaultSeed)
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var rows, bytes int64
			resetPeakRSS()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fs, err := objstore.NewFS(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				r := &pipeline.Runner{Lake: lake.New(fs), Workers: workers, Force: true}
				sum, err := r.RunJobs(context.Background(), []pipeline.Job{(&telemetry{Env: e}).jarRawJob()})
				if err != nil {
					b.Fatal(err)
				}
				rows, bytes = sum.Totals().Rows, sum.Totals().Bytes
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(rows)/sec, "rows/s")
			b.ReportMetric(float64(bytes)/float64(rows), "bytes/row")
			b.ReportMetric(float64(peakRSS())/(1<<20), "peakRSS_MB")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// fleetDayScenario is 2026-01-01 alone at 5 s, the fleet shrunk to
// BENCH_SITES (comma-separated codes) if set.
func fleetDayScenario() Scenario {
	sc := DefaultScenario()
	sc.Start, sc.DetailFrom = Date{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, Date{} // a day at 5 s
	sc.End = Date{sc.Start.AddDate(0, 0, 1)}
	if s := os.Getenv("BENCH_SITES"); s != "" {
		sc.Sites = strings.Split(s, ",")
	}
	return sc
}

// openDuckDB opens an in-memory DuckDB on one connection (so SET applies
// to every statement), closed with b, and a helper that runs a statement
// and returns its time.
func openDuckDB(b *testing.B) (*sql.DB, func(q string) time.Duration) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	return db, func(q string) time.Duration {
		start := time.Now()
		if _, err := db.Exec(q); err != nil {
			b.Fatalf("%v\n%s", err, q)
		}
		return time.Since(start)
	}
}

// BenchmarkDailyAppend times a scheduled daily run of the whole fleet at
// 5 s on day 30 of a month whose days 1-29 are already in the lake, next to
// the same day run on an empty lake, for the raw stages (master,
// telemetry, transactions) and the derived ones (calc, features) apart:
// the raw append costs about a day of work, not a month; the derived
// append also reads its look-back (the day before for SOC, 8 days for the
// 168 h features), which an empty lake does not have. BENCH_PRIOR_DAYS
// (default 29) sets the history written before; the setup is one run over
// those days (equivalent to daily runs, which TestDailyRunsComposeLikeOneRun
// checks byte for byte).
func BenchmarkDailyAppend(b *testing.B) {
	prior := 29
	if v, err := strconv.Atoi(os.Getenv("BENCH_PRIOR_DAYS")); err == nil && v > 0 {
		prior = v
	}
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := first.AddDate(0, 0, prior)
	scenario := func(from, to time.Time) Scenario {
		sc := DefaultScenario()
		sc.Start, sc.End, sc.DetailFrom = Date{from}, Date{to}, Date{} // every day at 5 s
		return sc
	}
	runDay := func(dir string, stages ...string) (time.Duration, pipeline.TableStats) {
		start := time.Now()
		sum, err := Run(context.Background(), RunConfig{Lake: dir, Scenario: scenario(day, day.AddDate(0, 0, 1)), Seed: DefaultSeed, Stages: stages})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start), sum.Totals()
	}
	raw, derived := []string{"master", "telemetry", "transactions"}, []string{"calc", "features", "twin"}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		lakeDir := b.TempDir()
		if _, err := Run(context.Background(), RunConfig{Lake: lakeDir, Scenario: scenario(first, day), Seed: DefaultSeed}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rawAppend, rawTot := runDay(lakeDir, raw...)
		derivedAppend, derivedTot := runDay(lakeDir, derived...)
		b.StopTimer()
		empty := b.TempDir()
		rawEmpty, _ := runDay(empty, raw...)
		derivedEmpty, _ := runDay(empty, derived...)
		b.ReportMetric(rawAppend.Seconds(), "raw_append_s")
		b.ReportMetric(rawEmpty.Seconds(), "raw_emptylake_s")
		b.ReportMetric(rawAppend.Seconds()/rawEmpty.Seconds(), "raw_append/empty")
		b.ReportMetric(float64(rawTot.Rows)/rawAppend.Seconds(), "raw_rows/s")
		b.ReportMetric(float64(rawTot.Bytes)/float64(max(rawTot.Rows, 1)), "raw_bytes/row")
		b.ReportMetric(derivedAppend.Seconds(), "derived_append_s")
		b.ReportMetric(derivedEmpty.Seconds(), "derived_emptylake_s")
		b.ReportMetric(float64(derivedTot.Rows), "derived_rows")
	}
}

// BenchmarkDerivedFleetDay derives one fleet-day at 5 s (33.6 M jar rows)
// from a lake and races DuckDB on the same files and machine, printing
// both times and their ratio:
//   - telemetry_jar_calc (read, SOC/SOH, write) against DuckDB's COPY of
//     the same output rows, loaded into memory first, to Parquet;
//   - feature_store with 1 h windows, then with 24 h + 168 h windows,
//     against the same aggregates in DuckDB SQL (featuresql) over the
//     lake's raw Parquet files;
//   - stage alerts (alert, incident, work_order) over the day and the
//     fleet's maintenance history, and its no-op rerun.
//
// BENCH_SITES (comma-separated codes) shrinks the fleet.
func BenchmarkDerivedFleetDay(b *testing.B) {
	sc := fleetDayScenario()
	dir := b.TempDir()
	if _, err := Run(context.Background(), RunConfig{Lake: dir, Scenario: sc, Seed: DefaultSeed, Stages: []string{"master", "telemetry", "transactions", "calc"}}); err != nil {
		b.Fatal(err)
	}
	fs, err := objstore.NewFS(dir)
	if err != nil {
		b.Fatal(err)
	}
	lk := lake.New(fs)
	_, exec := openDuckDB(b)
	glob := func(table string) string { return filepath.Join(dir, table, "**", "*.parquet") }
	// Peak memory is not reported here: DuckDB shares the process. `battlake
	// run --stages calc,features` under /usr/bin/time measures it alone.
	runJobs := func(jobs []pipeline.Job) (time.Duration, pipeline.TableStats) {
		r := &pipeline.Runner{Lake: lk, Workers: runtime.GOMAXPROCS(0), Force: true}
		start := time.Now()
		sum, err := r.RunJobs(context.Background(), jobs)
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start), sum.Totals()
	}
	var jarJob []pipeline.Job
	for _, j := range derive.CalcJobs(lk) {
		if j.Name() == "telemetry_jar_calc" {
			jarJob = append(jarJob, j)
		}
	}
	for i := 0; i < b.N; i++ {
		d, tot := runJobs(jarJob)
		exec(fmt.Sprintf("CREATE OR REPLACE TABLE jc AS SELECT * FROM read_parquet('%s')", glob("telemetry_jar_calc")))
		duck := exec(fmt.Sprintf("COPY jc TO '%s' (FORMAT parquet)", filepath.Join(b.TempDir(), "jc.parquet")))
		exec("DROP TABLE jc")
		b.ReportMetric(d.Seconds(), "jarcalc_s")
		b.ReportMetric(float64(tot.Rows)/d.Seconds(), "jarcalc_rows/s")
		b.ReportMetric(float64(tot.Bytes)/float64(tot.Rows), "jarcalc_bytes/row")
		b.ReportMetric(duck.Seconds(), "duckdb_copy_s")
		b.ReportMetric(d.Seconds()/duck.Seconds(), "jarcalc/duckdb")

		m, err := derive.LoadMaster(context.Background(), lk)
		if err != nil {
			b.Fatal(err)
		}
		var vals []string
		for _, bt := range m.Batteries {
			md := m.Models[bt.ModelID]
			vals = append(vals, fmt.Sprintf("('%s'::UUID, '%s'::UUID, '%s'::UUID, %g, %g, %g)", bt.ID, bt.StringID, m.RoomSensor[bt.StringID], md.FloatMinV, md.FloatMaxV, bt.InitialResistanceMOhm))
		}
		exec("CREATE OR REPLACE TABLE bat (battery_id UUID, string_id UUID, sensor_id UUID, fmin DOUBLE, fmax DOUBLE, r0 DOUBLE)")
		exec("INSERT INTO bat VALUES " + strings.Join(vals, ","))
		raw := []string{glob("telemetry_jar_raw"), glob("telemetry_env"), glob("telemetry_string_raw"), glob("telemetry_string_calc")}
		for _, w := range []struct {
			name    string
			windows []int
			sql     string
		}{
			{"1h", []int{1}, featuresql.Hourly(raw[0], raw[1], raw[2], raw[3])},
			{"24h+168h", []int{24, 168}, featuresql.Wide(raw[0], raw[1], raw[2], raw[3])},
		} {
			d, tot := runJobs(derive.FeatureJobs(lk, w.windows...))
			duck := exec(w.sql)
			b.ReportMetric(d.Seconds(), "features_"+w.name+"_s")
			b.ReportMetric(float64(tot.Rows), "features_"+w.name+"_rows")
			b.ReportMetric(duck.Seconds(), "duckdb_"+w.name+"_s")
			b.ReportMetric(d.Seconds()/duck.Seconds(), "features_"+w.name+"/duckdb")
		}
		// Stage alerts over the day and the lake's maintenance history,
		// then a rerun on unchanged inputs (plans, writes nothing).
		d, tot = runJobs(derive.AlertJobs(lk))
		b.ReportMetric(d.Seconds(), "alerts_s")
		b.ReportMetric(float64(tot.Rows), "alerts_rows")
		r := &pipeline.Runner{Lake: lk, Workers: runtime.GOMAXPROCS(0)}
		start := time.Now()
		if _, err := r.RunJobs(context.Background(), derive.AlertJobs(lk)); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "alerts_rerun_s")
	}
}
