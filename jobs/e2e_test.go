package jobs_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
)

// smallScenario is one site over one day at a coarse rate: enough to
// exercise every table's path in seconds. Every day is a detail day (no
// historian), unless a test sets DetailFrom.
func smallScenario(start string, days int, interval time.Duration) jobs.Scenario {
	sc := jobs.DefaultScenario()
	sc.Sites = []string{"DC-BKK-01"}
	d, _ := jobs.ParseDate(start)
	sc.Start, sc.DetailFrom = d, jobs.Date{}
	sc.End = jobs.Date{Time: d.AddDate(0, 0, days)}
	sc.SampleInterval = jobs.Duration{Duration: interval}
	return sc
}

func run(t *testing.T, dir string, sc jobs.Scenario, seed uint64, stages ...string) {
	t.Helper()
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: seed, Stages: stages, Workers: 2}); err != nil {
		t.Fatal(err)
	}
}

// fileHashes maps every file under dir (relative path) to its SHA-256.
func fileHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(s[:])
		return nil
	})
	return out
}

// checkLake runs every DuckDB check on the lake and returns the tables it
// found, as a list and as a set.
func checkLake(t *testing.T, db *sql.DB, dir string) ([]string, map[string]bool) {
	t.Helper()
	found, err := lakecheck.CheckAll(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range found {
		have[n] = true
	}
	return found, have
}

// sameFiles fails unless after holds exactly the files of before, unchanged.
func sameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	if len(after) != len(before) {
		t.Fatalf("%d files before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("%s changed", k)
		}
	}
}

func openDuck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := lakecheck.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMasterStageReadsBackInDuckDB(t *testing.T) {
	dir := t.TempDir()
	sc := jobs.DefaultScenario() // the whole fleet: master data is small
	run(t, dir, sc, 7, "master")
	db := openDuck(t)
	found, err := lakecheck.CheckAll(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	// ml_model is the registry of the models stage rul trains.
	want := []string{"location", "battery_model", "battery_system", "string", "battery", "environmental_sensor", "user", "truth_battery"}
	sort.Strings(want)
	sort.Strings(found)
	if strings.Join(found, ",") != strings.Join(want, ",") {
		t.Fatalf("tables written = %v, want %v", found, want)
	}
	counts := map[string]int64{}
	for _, n := range want {
		c, err := lakecheck.Count(db, dir, schema.MustLookup(n))
		if err != nil {
			t.Fatal(err)
		}
		counts[n] = c
	}
	if counts["location"] != 9 || counts["string"] != 81 || counts["battery"] < 1944 || counts["truth_battery"] != counts["battery"] {
		t.Fatalf("counts = %v", counts)
	}
	// Exactly 24 jars in service per string at the scenario end.
	var bad int64
	q := `SELECT count(*) FROM (SELECT string_id, count(*) n FROM ` + lakecheck.Scan(dir, schema.MustLookup("battery")) +
		` WHERE replaced_date IS NULL GROUP BY string_id HAVING n <> 24)`
	if err := db.QueryRow(q).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("strings without 24 active jars: %d (%v)", bad, err)
	}
	// Hive partitioning reads the same rows with the glob users will type.
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet('` + filepath.Join(dir, "battery", "**", "*.parquet") + `', hive_partitioning=true)`).Scan(&n); err != nil || n != counts["battery"] {
		t.Fatalf("hive glob count = %d (%v)", n, err)
	}
}

func TestSameSeedSameBytesOtherSeedOtherData(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	sc := smallScenario("2026-03-01", 1, time.Minute)
	run(t, a, sc, 11, "master", "telemetry")
	run(t, b, sc, 11, "master", "telemetry")
	run(t, c, sc, 12, "master", "telemetry")
	ha, hb, hc := fileHashes(t, a), fileHashes(t, b), fileHashes(t, c)
	if len(ha) < 20 {
		t.Fatalf("only %d files written", len(ha))
	}
	for k, v := range ha {
		if hb[k] != v {
			t.Fatalf("%s differs between two runs with the same seed", k)
		}
	}
	if len(hb) != len(ha) {
		t.Fatalf("file sets differ: %d vs %d", len(ha), len(hb))
	}
	same := 0
	for k, v := range ha {
		if hc[k] == v {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("%d files identical under another seed", same)
	}
}

func TestRerunSkipsFreshPartitions(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-03-01", 1, time.Minute)
	run(t, dir, sc, 3, "master")
	before := fileHashes(t, dir)
	sum, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 3, Stages: []string{"master"}})
	if err != nil {
		t.Fatal(err)
	}
	tot := sum.Totals()
	if tot.Partitions != 0 || tot.Skipped != 8 {
		t.Fatalf("rerun wrote %d, skipped %d; want 0 and 8", tot.Partitions, tot.Skipped)
	}
	sameFiles(t, before, fileHashes(t, dir))
}

func TestBadConfigurationFailsFastAndWritesNothing(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	good := smallScenario("2026-03-01", 1, time.Minute)
	cases := []struct {
		name string
		mod  func(c *jobs.RunConfig)
		want string
	}{
		{"unknown site", func(c *jobs.RunConfig) { c.Scenario.Sites = []string{"DC-XXX-99"} }, `unknown site "DC-XXX-99"`},
		{"interval too small", func(c *jobs.RunConfig) { c.Scenario.SampleInterval = jobs.Duration{Duration: 100 * time.Millisecond} }, "sample interval 100ms out of range"},
		{"interval too large", func(c *jobs.RunConfig) { c.Scenario.SampleInterval = jobs.Duration{Duration: 2 * time.Hour} }, "out of range"},
		{"end before start", func(c *jobs.RunConfig) { c.Scenario.End = jobs.Date{Time: c.Scenario.Start.AddDate(0, 0, -1)} }, "must be after start"},
		{"unknown stage", func(c *jobs.RunConfig) { c.Stages = []string{"telemetri"} }, `unknown stage "telemetri"`},
		{"lake is a file", func(c *jobs.RunConfig) { c.Lake = file }, "is a file"},
		{"unreachable s3", func(c *jobs.RunConfig) {
			t.Setenv("AWS_ACCESS_KEY_ID", "test")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			c.Lake = "s3://bucket/lake"
			c.Endpoint = "http://127.0.0.1:1"
		}, "unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lakeDir := filepath.Join(base, strings.ReplaceAll(tc.name, " ", "-"))
			cfg := jobs.RunConfig{Lake: lakeDir, Scenario: good, Seed: 1}
			tc.mod(&cfg)
			_, err := jobs.Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if _, statErr := os.Stat(lakeDir); statErr == nil {
				t.Fatalf("%s was created", lakeDir)
			}
		})
	}
}

// s3Env returns the test S3 server given by scripts/test.sh, skipping
// outside it (and failing in CI, which must never skip S3).
func s3Env(t *testing.T) (endpoint, access, secret, bucket string) {
	endpoint = os.Getenv("BATTLAKE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("BATTLAKE_TEST_S3_ENDPOINT not set in CI: run the suite through scripts/test.sh")
		}
		t.Skip("no S3 test server (run make test)")
	}
	return endpoint, os.Getenv("BATTLAKE_TEST_S3_ACCESS"), os.Getenv("BATTLAKE_TEST_S3_SECRET"), os.Getenv("BATTLAKE_TEST_S3_BUCKET")
}

func TestRunOnS3(t *testing.T) {
	endpoint, access, secret, bucket := s3Env(t)
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	prefix := "e2e-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000")
	sc := smallScenario("2026-03-01", 1, time.Minute)
	cfg := jobs.RunConfig{Lake: "s3://" + bucket + "/" + prefix, Endpoint: endpoint, Scenario: sc, Seed: 5, Stages: []string{"master"}}
	sum, err := jobs.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The same run on the filesystem gives the same rows and identical objects.
	dir := t.TempDir()
	lsum, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 5, Stages: []string{"master"}})
	if err != nil {
		t.Fatal(err)
	}
	if tot := sum.Totals(); tot.Partitions != 8 || tot.Rows != lsum.Totals().Rows || tot.Bytes != lsum.Totals().Bytes {
		t.Fatalf("s3 summary %+v, filesystem %+v", tot, lsum.Totals())
	}
	local := fileHashes(t, dir)
	sum2, err := jobs.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tot := sum2.Totals(); tot.Skipped != 8 {
		t.Fatalf("rerun on s3 skipped %d of 8", tot.Skipped)
	}
	if len(local) < 17 { // 8 tables, data and manifest each, and _lake.json
		t.Fatalf("local files %d", len(local))
	}
	s3, err := objstore.NewS3(context.Background(), objstore.S3Config{Bucket: bucket, Prefix: prefix, Endpoint: endpoint, AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	remote := 0
	if err := s3.List(context.Background(), "", func(o objstore.ObjectInfo) error {
		remote++
		b, err := objstore.ReadAll(context.Background(), s3, o.Key)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if want := local[filepath.FromSlash(o.Key)]; want != hex.EncodeToString(sum[:]) {
			t.Errorf("%s on s3 differs from the filesystem run", o.Key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if remote != len(local) {
		t.Fatalf("s3 holds %d objects, filesystem %d", remote, len(local))
	}

	t.Run("wrong credentials", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "definitely-wrong")
		_, err := jobs.Run(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "credentials") {
			t.Fatalf("err = %v, want a credentials error", err)
		}
	})
}

// A month generated alone equals that month of a longer run, byte for byte:
// every sample is a pure function of (seed, entity, time).
func TestMonthAloneEqualsSliceOfLongerRun(t *testing.T) {
	long, alone := t.TempDir(), t.TempDir()
	a := smallScenario("2026-01-30", 3, time.Minute) // Jan 30 .. Feb 1 inclusive
	b := smallScenario("2026-02-01", 1, time.Minute)
	run(t, long, a, 9, "master", "telemetry")
	run(t, alone, b, 9, "master", "telemetry")
	hl, ha := fileHashes(t, long), fileHashes(t, alone)
	compared := 0
	for k, v := range ha {
		if !strings.Contains(k, "month=2026-02") || !strings.HasSuffix(k, ".parquet") {
			continue
		}
		compared++
		if hl[k] != v {
			t.Errorf("%s differs between the month alone and the longer run", k)
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d files", compared)
	}
}

// Every table the raw and derived stages write, read back by DuckDB with the
// registry's types, unique keys and resolving foreign keys — blobs behind
// URL columns included.
func TestEveryWrittenTableReadsBackInDuckDB(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-10-25", 7, 5*time.Minute)
	sc.Sites = []string{"DC-KKC-01"} // this week holds transfer, equalize and surge windows at the default seed
	run(t, dir, sc, jobs.DefaultSeed)
	db := openDuck(t)
	found, have := checkLake(t, db, dir)
	for _, tb := range schema.All() {
		// Tables of the stages not built yet (ingest).
		later := slices.Contains([]string{"rejects"}, tb.Name)
		if have[tb.Name] == later {
			t.Errorf("table %s (class %s): written = %v", tb.Name, tb.Class, have[tb.Name])
		}
	}
	// Arrow (arrow-go's Parquet reader, the mapping pyarrow shares) reads
	// every table with the registry's in-memory Arrow schema.
	for _, name := range found {
		tb := schema.MustLookup(name)
		files := lakecheck.Files(dir, tb)
		if len(files) == 0 {
			t.Fatalf("%s: no file found", name)
		}
		f, err := os.Open(files[0])
		if err != nil {
			t.Fatal(err)
		}
		at, err := parquetio.ReadArrow(context.Background(), f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := parquetio.ArrowSchema(tb)
		got := at.Schema()
		// arrow-go surfaces the JSON logical type as binary (pyarrow: utf8);
		// the bytes are the same UTF-8 JSON text.
		readAs := func(c schema.Column, tp arrow.DataType) arrow.DataType {
			if c.Type.Kind == schema.KindJSON {
				return arrow.BinaryTypes.Binary
			}
			return tp
		}
		if got.NumFields() != want.NumFields() {
			t.Fatalf("%s: arrow sees %d fields, want %d", name, got.NumFields(), want.NumFields())
		}
		for i := range want.Fields() {
			g, w := got.Field(i), want.Field(i)
			if g.Name != w.Name || !arrow.TypeEqual(g.Type, readAs(tb.Columns[i], w.Type)) || g.Nullable != w.Nullable {
				t.Errorf("%s column %s: arrow reads %s %v (nullable %v), want %s %v (nullable %v)", name, w.Name, g.Name, g.Type, g.Nullable, w.Name, w.Type, w.Nullable)
			}
		}
		at.Release()
	}

	// URL columns resolve to objects in the lake.
	for _, c := range []struct{ table, col string }{{"telemetry_event_window", "data_blob_url"}, {"capacity_test_raw", "raw_data_url"}} {
		rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s", c.col, lakecheck.Scan(dir, schema.MustLookup(c.table))))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var key string
			if err := rows.Scan(&key); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key))); err != nil {
				t.Errorf("%s.%s %q does not resolve: %v", c.table, c.col, key, err)
			}
			n++
		}
		rows.Close()
		if n == 0 {
			t.Errorf("no %s rows to check", c.table)
		}
	}
}

// A run killed between publishing a data file and writing its manifest
// leaves only complete data visible; the next run rewrites the partition
// (same bytes), writes the manifest and sweeps the crashed writer's staging.
func TestCrashedRunRecovers(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-03-01", 1, time.Minute)
	cfg := jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 4, Stages: []string{"master"}, Workers: 1,
		Hooks: &lake.Hooks{Step: func(p lake.Partition, _, step string) error {
			if p.Table.Name == "battery" && step == lake.StepBeforeIndex {
				return lake.ErrInjected
			}
			return nil
		}}}
	if _, err := jobs.Run(context.Background(), cfg); !errors.Is(err, lake.ErrInjected) {
		t.Fatalf("err = %v, want the injected crash", err)
	}
	// A second writer died mid-file an hour ago: its upload sits in staging.
	fsStore, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := fsStore.Create(context.Background(), "battery/part-00000.parquet")
	u.Write([]byte("PAR1 half a file"))
	old := time.Now().Add(-2 * time.Hour)
	filepath.WalkDir(filepath.Join(dir, "_staging"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	battery := schema.MustLookup("battery")
	if _, err := os.Stat(filepath.Join(dir, "battery", "_manifest.json")); !os.IsNotExist(err) {
		t.Fatalf("manifest of the crashed partition exists: %v", err)
	}
	db := openDuck(t)
	crashed, err := lakecheck.Count(db, dir, battery)
	if err != nil {
		t.Fatalf("the published data file must be complete and readable: %v", err)
	}
	before := fileHashes(t, dir)

	cfg.Hooks = nil
	if _, err := jobs.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "battery", "_manifest.json")); err != nil {
		t.Fatalf("manifest not written on recovery: %v", err)
	}
	after := fileHashes(t, dir)
	if k := filepath.Join("battery", "part-00000.parquet"); before[k] != after[k] {
		t.Fatal("recovered data file differs from the one the crashed run published")
	}
	if n, _ := lakecheck.Count(db, dir, battery); n != crashed {
		t.Fatalf("rows %d after recovery, %d before", n, crashed)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "_staging"))
	if len(entries) != 0 {
		t.Fatalf("staging not swept: %v", entries)
	}
}

// A backfilled day does not depend on the scenario's end: the rows of
// 2026-02-01 are the same whether the run ends that day or two days later
// (nothing in the telemetry may be a function of the end date).
func TestDayRowsDoNotDependOnScenarioEnd(t *testing.T) {
	long, short := t.TempDir(), t.TempDir()
	run(t, long, smallScenario("2026-01-31", 3, 2*time.Minute), 13, "master", "telemetry")
	run(t, short, smallScenario("2026-02-01", 1, 2*time.Minute), 13, "master", "telemetry")
	db := openDuck(t)
	for _, c := range []struct{ table, ts string }{
		{"telemetry_jar_raw", "ts"}, {"telemetry_string_raw", "ts"}, {"telemetry_env", "ts"},
		{"ripple_capture", "capture_ts"}, {"telemetry_event_window", "start_ts"}, {"event_window_sample", "ts"},
	} {
		tb := schema.MustLookup(c.table)
		day := fmt.Sprintf("%s >= TIMESTAMPTZ '2026-02-01 00:00:00+00' AND %s < TIMESTAMPTZ '2026-02-02 00:00:00+00'", c.ts, c.ts)
		var n, diff int64
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s WHERE %[3]s),
			(SELECT count(*) FROM (SELECT * FROM %[1]s WHERE %[3]s EXCEPT ALL SELECT * FROM %[2]s WHERE %[3]s)) +
			(SELECT count(*) FROM (SELECT * FROM %[2]s WHERE %[3]s EXCEPT ALL SELECT * FROM %[1]s WHERE %[3]s))`,
			lakecheck.Scan(long, tb), lakecheck.Scan(short, tb), day)
		if err := db.QueryRow(q).Scan(&n, &diff); err != nil {
			if c.table == "event_window_sample" && !lakecheck.Present(short, tb) {
				continue // no window that day for this site
			}
			t.Fatalf("%s: %v", c.table, err)
		}
		if n == 0 && c.table != "telemetry_event_window" && c.table != "event_window_sample" {
			t.Fatalf("%s: no rows on the day", c.table)
		}
		if diff != 0 {
			t.Errorf("%s: %d rows of 2026-02-01 differ between runs ending 02-02 and 02-03", c.table, diff)
		}
	}
}

// A lake holds one fleet: a run with another seed on the same lake is
// refused before it writes anything.
func TestLakeRefusesAnotherFleet(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-03-01", 1, time.Minute)
	run(t, dir, sc, 1, "master")
	before := fileHashes(t, dir)
	_, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 2, Stages: []string{"master"}})
	if err == nil || !strings.Contains(err.Error(), "holds another fleet") {
		t.Fatalf("err = %v", err)
	}
	sc.Sites = []string{"DC-CNX-01"}
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 1, Stages: []string{"master"}}); err == nil {
		t.Fatal("another site set accepted on the same lake")
	}
	sameFiles(t, before, fileHashes(t, dir)) // refused runs change nothing
}
