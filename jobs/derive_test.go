package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// The derived stages (calc, features, twin, alerts) read only the lake: never
// _truth/, never the synthesizer's packages.

var (
	rawStages     = []string{"master", "telemetry", "transactions"}
	derivedStages = []string{"calc", "features", "twin", "alerts"}
)

var errTruthRead = errors.New("derived stage touched _truth/")

// readGuard is a store that calls before on every key a job reads (Get,
// Open) ahead of the store: tests use it to refuse, fail or record reads.
type readGuard struct {
	objstore.Store
	before func(key string) error
}

func (s *readGuard) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.before(key); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, key)
}

func (s *readGuard) Open(ctx context.Context, key string) (objstore.Object, error) {
	if err := s.before(key); err != nil {
		return nil, err
	}
	return s.Store.Open(ctx, key)
}

// noTruth is a store that fails any access to _truth/.
type noTruth struct {
	readGuard
	mu   sync.Mutex
	hits []string
}

func newNoTruth() *noTruth {
	g := &noTruth{}
	g.before = g.check
	return g
}

func (s *noTruth) check(key string) error {
	if strings.HasPrefix(key, "_truth") {
		s.mu.Lock()
		s.hits = append(s.hits, key)
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", key, errTruthRead)
	}
	return nil
}

func (s *noTruth) List(ctx context.Context, prefix string, fn func(objstore.ObjectInfo) error) error {
	if err := s.check(prefix); err != nil {
		return err
	}
	return s.Store.List(ctx, prefix, func(o objstore.ObjectInfo) error {
		if strings.HasPrefix(o.Key, "_truth") {
			return s.check(o.Key)
		}
		return fn(o)
	})
}

// derivedRun runs stages on dir through a store that refuses _truth/ and
// returns the segments each table wrote ("table partition segment").
func derivedRun(t *testing.T, lakeURL, endpoint string, sc jobs.Scenario, stages ...string) (written []string) {
	t.Helper()
	var mu sync.Mutex
	guard := newNoTruth()
	cfg := jobs.RunConfig{Lake: lakeURL, Endpoint: endpoint, Scenario: sc, Seed: 8, Stages: stages, Workers: 2,
		WrapStore: func(s objstore.Store) objstore.Store { guard.Store = s; return guard },
		Hooks: &lake.Hooks{Step: func(p lake.Partition, seg, step string) error {
			if step == lake.StepPublished {
				mu.Lock()
				written = append(written, p.String()+" "+seg)
				mu.Unlock()
			}
			return nil
		}}}
	if _, err := jobs.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if len(guard.hits) > 0 {
		t.Fatalf("derived stages read the hidden truth: %v", guard.hits)
	}
	slices.Sort(written)
	return written
}

// The guard itself works: a raw stage that writes _truth/ through it fails.
func TestTruthGuardCatchesAccess(t *testing.T) {
	guard := newNoTruth()
	cfg := jobs.RunConfig{Lake: t.TempDir(), Scenario: window("2026-03-01", "2026-03-02"), Seed: 8, Stages: []string{"master"},
		WrapStore: func(s objstore.Store) objstore.Store { guard.Store = s; return guard }}
	// master commits truth_battery, which starts by reading its manifest.
	if _, err := jobs.Run(context.Background(), cfg); !errors.Is(err, errTruthRead) || len(guard.hits) == 0 {
		t.Fatalf("master through the guard: err %v, hits %v; want a _truth/ refusal", err, guard.hits)
	}
}

// Package derive and the kernels import neither physics/ nor jobs/fleet.
func TestDerivedPackagesDoNotImportTheSynthesizer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/battlake/battlake/jobs/derive").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/battlake/battlake/jobs/calc") || !slices.Contains(deps, "github.com/battlake/battlake/jobs/features") {
		t.Fatalf("go list found no kernels among %d deps: the check would prove nothing", len(deps))
	}
	for _, d := range deps {
		if d == "github.com/battlake/battlake/physics" || d == "github.com/battlake/battlake/jobs/fleet" || d == "github.com/battlake/battlake/jobs" {
			t.Errorf("derived stages depend on %s", d)
		}
	}
}

// Derived tables: a rerun writes nothing; changing one raw day re-derives
// exactly what depends on it; features equal a DuckDB SQL reference.
func TestDerivedStages(t *testing.T) {
	dir := t.TempDir()
	sc := window("2026-03-01", "2026-03-04")
	runOn(t, dir, "", sc, rawStages...)
	first := derivedRun(t, dir, "", sc, derivedStages...)
	if len(first) == 0 {
		t.Fatal("derived stages wrote nothing")
	}
	if again := derivedRun(t, dir, "", sc, derivedStages...); len(again) != 0 {
		t.Fatalf("rerun wrote %v", again)
	}
	db := openDuck(t)
	feat := schema.MustLookup("feature_store")
	jar := schema.MustLookup("telemetry_jar_raw")

	t.Run("features equal SQL", func(t *testing.T) {
		// 1 h windows: every feature that reads only the jar's own rows,
		// on the detail days (2026-03-01 is a historian day: no 1 h rows).
		q := fmt.Sprintf(`WITH raw AS (
			SELECT battery_id, time_bucket(INTERVAL 1 HOUR, ts) + INTERVAL 1 HOUR AS fts,
				avg(voltage_v) v_mean, stddev_samp(voltage_v) v_std, min(voltage_v) v_min, max(voltage_v) v_max,
				avg(temperature_c) t_mean, max(temperature_c) t_max,
				arg_max(resistance_mohm, ts) FILTER (WHERE resistance_mohm IS NOT NULL) r_last, count(*) n
			FROM %s WHERE ts >= TIMESTAMPTZ '2026-03-02 00:00:00+00' AND ts < TIMESTAMPTZ '2026-03-03 23:00:00+00' GROUP BY ALL)
			SELECT count(*),
				count(*) FILTER (WHERE NOT (near(f.v_mean, r.v_mean, 0.0006) AND near(f.v_min, r.v_min, 0.0006) AND near(f.v_max, r.v_max, 0.0006)
					AND near(f.v_std, r.v_std, 0.00006) AND near(f.t_mean, r.t_mean, 0.06) AND near(f.t_max, r.t_max, 0.06)
					AND near(f.r_internal_latest, r.r_last, 0.0006))),
				(SELECT count(*) FROM raw) 
			FROM %s f JOIN raw r ON f.battery_id = r.battery_id AND f.feature_ts = r.fts
			WHERE f.feature_window_hours = 1`, lakecheck.Scan(dir, jar), lakecheck.Scan(dir, feat))
		// near: both NULL, or both set and within tol (a NULL against a
		// value is a mismatch, not an unknown).
		if _, err := db.Exec(`CREATE OR REPLACE MACRO near(a, b, tol) AS (a IS NULL AND b IS NULL) OR coalesce(abs(a - b) <= tol, false)`); err != nil {
			t.Fatal(err)
		}
		var joined, bad, want int64
		if err := db.QueryRow(q).Scan(&joined, &bad, &want); err != nil {
			t.Fatal(err)
		}
		if joined == 0 || joined != want || bad != 0 {
			t.Fatalf("1 h features: %d of %d battery-hours joined, %d differ from SQL", joined, want, bad)
		}
		var off int64
		if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s WHERE feature_ts < TIMESTAMPTZ '2026-03-02 00:00:00+00'
			AND (extract(hour FROM feature_ts) <> 0 OR feature_window_hours < 24)`, lakecheck.Scan(dir, feat))).Scan(&off); err != nil {
			t.Fatal(err)
		}
		if off != 0 {
			t.Fatalf("%d hourly or 1 h feature rows on the historian day", off)
		}
	})

	t.Run("one raw day changed", func(t *testing.T) {
		// Day 2 rewritten at another rate: raw day 2 changes in every
		// bucket; jar calc re-derives days 2 and 3 (warm-up), string calc
		// day 2, features days 2 and 3 (day 1 reads only earlier days; the
		// look-back reaches 8 days ahead but the lake ends on day 3).
		day2 := window("2026-03-02", "2026-03-03")
		day2.SampleInterval = jobs.Duration{Duration: 5 * time.Minute}
		runOn(t, dir, "", day2, "telemetry")
		all := derivedRun(t, dir, "", sc, derivedStages...)
		// The alert tables are history (episodes cross days): their
		// months are one as-of segment over every input, so any changed
		// input rewrites each of them.
		var got []string
		alertMonths := 0
		for _, w := range all {
			if strings.HasPrefix(w, "alert ") || strings.HasPrefix(w, "incident ") || strings.HasPrefix(w, "work_order ") {
				alertMonths++
				continue
			}
			got = append(got, w)
		}
		if alertMonths == 0 {
			t.Error("a changed raw day rewrote no alert-stage partition")
		}
		var want []string
		for b := 0; b < 8; b++ {
			for _, d := range []string{"2026-03-02", "2026-03-03"} {
				want = append(want, fmt.Sprintf("telemetry_jar_calc month=2026-03 bucket=%02d %s", b, d))
			}
		}
		for b := 0; b < 2; b++ {
			want = append(want, fmt.Sprintf("telemetry_string_calc month=2026-03 bucket=%02d 2026-03-02", b))
		}
		for _, d := range []string{"2026-03-02", "2026-03-03"} {
			want = append(want, "feature_store month=2026-03 "+d)
		}
		// The twin's day reads its own raw day (windows and tests are
		// unchanged by the sample rate) and resumes the filter state of
		// the day before: days 2 and 3.
		want = append(want, "digital_twin_state month=2026-03 2026-03-02", "digital_twin_state month=2026-03 2026-03-03")
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("re-derived\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// The derived stages give identical bytes from a local lake and from the
// same lake on the S3 server.
func TestDerivedSameOnS3(t *testing.T) {
	endpoint, access, secret, bucket := s3Env(t)
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	sc := window("2026-03-01", "2026-03-02")
	dir := t.TempDir()
	runOn(t, dir, "", sc, rawStages...)
	derivedRun(t, dir, "", sc, derivedStages...)
	prefix := "derived-" + time.Now().Format("150405.000000")
	runOn(t, "s3://"+bucket+"/"+prefix, endpoint, sc, rawStages...)
	derivedRun(t, "s3://"+bucket+"/"+prefix, endpoint, sc, derivedStages...)
	s3, err := objstore.NewS3(context.Background(), objstore.S3Config{Bucket: bucket, Prefix: prefix, Endpoint: endpoint, AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	remote, local := storeHashes(t, s3), storeHashes(t, fsStore(t, dir))
	n := 0
	for k, v := range local {
		for _, tb := range []string{"telemetry_jar_calc", "telemetry_string_calc", "capacity_test_calc", "impedance_measurement_calc", "feature_store", "alert", "incident", "work_order"} {
			if strings.HasPrefix(k, tb+"/") {
				n++
				if remote[k] != v {
					t.Errorf("%s differs between the filesystem and S3", k)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d derived objects compared", n)
	}
}
