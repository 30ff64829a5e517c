package validate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/pipeline/validate"
	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// The tiny lake every test starts from: one site, two days at 5 min, every
// stage (raw and derived), built once and copied per test.
const (
	day1, day2 = "2026-10-30", "2026-10-31"
	month      = "month=2026-10"
)

var (
	baseOnce sync.Once
	baseDir  string
	baseErr  error
)

func baseLake(t *testing.T) string {
	t.Helper()
	baseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "validate-base-")
		if err != nil {
			baseErr = err
			return
		}
		baseDir = filepath.Join(dir, "lake")
		sc := jobs.DefaultScenario()
		sc.Sites = []string{"DC-BKK-01"}
		start, _ := jobs.ParseDate(day1)
		sc.Start, sc.End = start, jobs.Date{Time: start.AddDate(0, 0, 2)}
		sc.SampleInterval = jobs.Duration{Duration: 5 * time.Minute}
		_, baseErr = jobs.Run(context.Background(), jobs.RunConfig{Lake: baseDir, Scenario: sc, Seed: 8, Workers: 2})
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
	return baseDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if baseDir != "" {
		os.RemoveAll(filepath.Dir(baseDir))
	}
	os.Exit(code)
}

// copyLake returns a private copy of the base lake.
func copyLake(t *testing.T) (string, *lake.Lake) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lake")
	if err := os.CopyFS(dir, os.DirFS(baseLake(t))); err != nil {
		t.Fatal(err)
	}
	fs, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, lake.New(fs)
}

func run(t *testing.T, lk *lake.Lake, o validate.Options) *validate.Report {
	t.Helper()
	rep, err := validate.Validate(context.Background(), lk, "test", o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func partition(t *testing.T, table, hive string) lake.Partition {
	t.Helper()
	tb := schema.MustLookup(table)
	dir := tb.Dir()
	if hive != "" {
		dir += "/" + hive
	}
	p, err := lake.ParsePartition(tb, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rewrite replaces one committed segment with mutated rows through the
// lake's commit protocol: the manifest records the new file (size,
// SHA-256) with the old segment's inputs and lineage, as a job rerun
// would.
func rewrite(t *testing.T, lk *lake.Lake, table, hive, segment string, mutate func(rows []parquet.Row) []parquet.Row) {
	t.Helper()
	rewriteWith(t, lk, table, hive, segment, func(pf *parquet.File, w io.Writer) (int64, error) {
		declared := len(pf.RowGroups()) > 0 && len(pf.RowGroups()[0].SortingColumns()) > 0
		var rows []parquet.Row
		for _, rg := range pf.RowGroups() {
			rr := rg.Rows()
			buf := make([]parquet.Row, 1024)
			for {
				n, err := rr.ReadRows(buf)
				for _, r := range buf[:n] {
					rows = append(rows, r.Clone())
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					return 0, err
				}
			}
			rr.Close()
		}
		rows = mutate(rows)
		tb := schema.MustLookup(table)
		opts := []parquet.WriterOption{parquetio.MustSchema(tb)}
		if declared { // keep the file's claim, so the sorted path is what is tested
			var cols []parquet.SortingColumn
			for _, c := range tb.SortBy {
				cols = append(cols, parquet.Ascending(c))
			}
			opts = append(opts, parquet.SortingWriterConfig(parquet.SortingColumns(cols...)))
		}
		pw := parquet.NewWriter(w, opts...)
		if _, err := pw.WriteRows(rows); err != nil {
			return 0, err
		}
		return int64(len(rows)), pw.Close()
	})
}

// rewriteWith replaces one committed segment's data file with what write
// makes of the old one, through the lake's commit protocol.
func rewriteWith(t *testing.T, lk *lake.Lake, table, hive, segment string, write func(old *parquet.File, w io.Writer) (rows int64, err error)) {
	t.Helper()
	ctx := context.Background()
	p := partition(t, table, hive)
	m, _, err := lk.ReadManifest(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.Segment(segment)
	if !ok {
		t.Fatalf("%s %s has no segment %s", table, hive, segment)
	}
	data, err := objstore.ReadAll(ctx, lk.Store, p.SegmentKey(segment))
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	meta := lake.Meta{Job: m.Job, RootSeed: m.RootSeed, Seed: m.Seed, ConfigHash: m.ConfigHash, Inputs: m.Inputs}
	seg := lake.Segment{Name: e.Name, From: e.From, To: e.To, Inputs: e.Inputs, Lineage: e.Lineage}
	_, _, err = lk.WritePartition(ctx, p, meta, []lake.Segment{seg}, true, nil, func(ctx context.Context, o *lake.Output) error {
		n, err := write(pf, o.Data())
		o.SetRows(n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// set returns row with column col set to x (levels kept from the old value).
func set(t *testing.T, table string, row parquet.Row, col string, x parquet.Value) {
	t.Helper()
	j := schema.MustLookup(table).ColumnIndex(col)
	old := row[j]
	def := old.DefinitionLevel()
	if !schema.MustLookup(table).Columns[j].NotNull {
		def = 1
	}
	row[j] = x.Level(old.RepetitionLevel(), def, j)
}

func colValue(table string, row parquet.Row, col string) parquet.Value {
	return row[schema.MustLookup(table).ColumnIndex(col)]
}

// only asserts the report holds exactly want violations, all of check c
// on table, and returns its examples.
func only(t *testing.T, rep *validate.Report, c validate.Check, table string, want int64) []validate.Violation {
	t.Helper()
	if rep.Violations != want || rep.Count(c, table) != want {
		var b strings.Builder
		rep.WriteText(&b)
		t.Fatalf("want exactly %d %s violations on %s, got %d in all:\n%s", want, c, table, rep.Violations, b.String())
	}
	var out []validate.Violation
	for _, f := range rep.Findings {
		out = append(out, f.Examples...)
	}
	return out
}

func TestCleanLakeValidates(t *testing.T) {
	_, lk := copyLake(t)
	rep := run(t, lk, validate.Options{})
	if !rep.OK() {
		var b strings.Builder
		rep.WriteText(&b)
		t.Fatalf("clean lake has violations:\n%s", b.String())
	}
	if rep.From != day1 || rep.To != "2026-11-01" {
		t.Errorf("window %s..%s, want %s..2026-11-01", rep.From, rep.To, day1)
	}
	modes := map[string]validate.TableStats{}
	for _, s := range rep.Tables {
		modes[s.Table] = s
	}
	for table, mode := range map[string]string{"telemetry_jar_raw": "sorted", "battery": "sorted", "feature_store": "sorted",
		"maintenance_event": "hash", "event_window_sample": "blob"} {
		s, ok := modes[table]
		if !ok || s.PKMode != mode || (s.Rows == 0 && table != "event_window_sample") {
			t.Errorf("%s: stats %+v, want pk mode %s and rows", table, s, mode)
		}
	}
	if modes["telemetry_jar_raw"].Files != 16 { // 8 buckets x 2 days
		t.Errorf("telemetry_jar_raw: %d files checked, want 16", modes["telemetry_jar_raw"].Files)
	}
}

func TestDuplicateKeyInSortedFile(t *testing.T) {
	_, lk := copyLake(t)
	rewrite(t, lk, "telemetry_jar_calc", month+"/bucket=03", day2, func(rows []parquet.Row) []parquet.Row {
		return append(rows[:6:6], append([]parquet.Row{rows[5].Clone()}, rows[6:]...)...)
	})
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckPrimaryKey, "telemetry_jar_calc", 1)
	v := ex[0]
	if v.Partition != month+"/bucket=03" || v.Segment != day2 || v.Row != 6 || v.Column != "battery_id,ts" ||
		v.File != "telemetry_jar_calc/"+month+"/bucket=03/part-"+day2+".parquet" {
		t.Errorf("violation %+v", v)
	}
}

func TestDuplicateKeyInHashedTable(t *testing.T) {
	_, lk := copyLake(t)
	rewrite(t, lk, "maintenance_event", month, lake.AsOfName, func(rows []parquet.Row) []parquet.Row {
		return append(rows, rows[0].Clone())
	})
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckPrimaryKey, "maintenance_event", 1)
	if v := ex[0]; v.Partition != month || v.Column != "event_id" || !strings.Contains(v.Message, "first at maintenance_event/"+month+"/part-00000.parquet row 0") {
		t.Errorf("violation %+v", v)
	}
}

func TestDuplicateUniqueValue(t *testing.T) {
	_, lk := copyLake(t)
	rewrite(t, lk, "battery", "", lake.AsOfName, func(rows []parquet.Row) []parquet.Row {
		set(t, "battery", rows[4], "battery_code", colValue("battery", rows[1], "battery_code").Clone())
		return rows
	})
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckUnique, "battery", 1)
	if v := ex[0]; v.Column != "battery_code" || v.Row != 4 || !strings.Contains(v.Message, "battery/part-00000.parquet row 1") {
		t.Errorf("violation %+v", v)
	}
}

func TestNullableNotNullColumn(t *testing.T) {
	_, lk := copyLake(t)
	tb := schema.MustLookup("maintenance_event")
	g := parquet.Group{}
	for _, f := range parquetio.MustSchema(tb).Fields() {
		if f.Name() == "created_at" {
			g[f.Name()] = parquet.Optional(f)
		} else {
			g[f.Name()] = f
		}
	}
	loose := parquet.NewSchema(tb.Name, g)
	rewriteWith(t, lk, tb.Name, month, lake.AsOfName, func(old *parquet.File, w io.Writer) (int64, error) {
		conv, err := parquet.Convert(loose, old.Schema())
		if err != nil {
			return 0, err
		}
		pw := parquet.NewWriter(w, loose)
		for _, rg := range old.RowGroups() {
			if _, err := pw.WriteRowGroup(parquet.ConvertRowGroup(rg, conv)); err != nil {
				return 0, err
			}
		}
		return old.NumRows(), pw.Close()
	})
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckNotNull, "maintenance_event", 1)
	if v := ex[0]; v.Partition != month || v.Column != "created_at" || v.Row != -1 {
		t.Errorf("violation %+v", v)
	}
}

func TestDanglingForeignKey(t *testing.T) {
	_, lk := copyLake(t)
	ghost := [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 1}
	rewrite(t, lk, "maintenance_event", month, lake.AsOfName, func(rows []parquet.Row) []parquet.Row {
		set(t, "maintenance_event", rows[2], "location_id", parquet.FixedLenByteArrayValue(ghost[:]))
		return rows
	})
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckForeignKey, "maintenance_event", 1)
	if v := ex[0]; v.Partition != month || v.Column != "location_id" || v.Row != 2 || v.Value != "deadbeef-0000-0000-0000-000000000001" ||
		!strings.Contains(v.Message, "location.location_id") {
		t.Errorf("violation %+v", v)
	}
}

func TestEnumOutOfDomain(t *testing.T) {
	_, lk := copyLake(t)
	rewrite(t, lk, "maintenance_event", month, lake.AsOfName, func(rows []parquet.Row) []parquet.Row {
		set(t, "maintenance_event", rows[1], "status", parquet.ByteArrayValue([]byte("exploded")))
		return rows
	})
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckEnum, "maintenance_event", 1)
	if v := ex[0]; v.Partition != month || v.Column != "status" || v.Row != 1 || v.Value != `"exploded"` {
		t.Errorf("violation %+v", v)
	}
}

func TestDecimalOutOfRange(t *testing.T) {
	_, lk := copyLake(t)
	// soh_pct is DECIMAL(5,2): |value| <= 999.99, unscaled 99999.
	rewrite(t, lk, "telemetry_jar_calc", month+"/bucket=01", day1, func(rows []parquet.Row) []parquet.Row {
		set(t, "telemetry_jar_calc", rows[10], "soh_pct", parquet.Int32Value(100000))
		set(t, "telemetry_jar_calc", rows[11], "soh_pct", parquet.Int32Value(-99999)) // in range
		return rows
	})
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckDecimal, "telemetry_jar_calc", 1)
	if v := ex[0]; v.Partition != month+"/bucket=01" || v.Segment != day1 || v.Column != "soh_pct" || v.Row != 10 || v.Value != "1000.00" {
		t.Errorf("violation %+v", v)
	}
}

func TestFlippedByteFailsChecksum(t *testing.T) {
	dir, lk := copyLake(t)
	key := "telemetry_jar_raw/" + month + "/bucket=00/part-" + day1 + ".parquet"
	path := filepath.Join(dir, filepath.FromSlash(key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A byte of the footer's key-value metadata: the file still parses,
	// same size, so only the hash can tell.
	i := bytes.LastIndex(b, []byte("battlake.table"))
	if i < 0 {
		t.Fatal("footer metadata not found")
	}
	b[i] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckChecksum, "telemetry_jar_raw", 1)
	if v := ex[0]; v.File != key || v.Partition != month+"/bucket=00" || v.Segment != day1 {
		t.Errorf("violation %+v", v)
	}
}

// A model artifact (opaque JSON behind ml_model) is checked by its hash:
// one changed byte, same size, is one checksum violation on ml_model.
func TestFlippedByteInModelArtifact(t *testing.T) {
	dir, lk := copyLake(t)
	keys, err := filepath.Glob(filepath.Join(dir, "_blobs", "ml_model", "*.json"))
	if err != nil || len(keys) == 0 {
		t.Fatalf("no model artifact in the test lake (%v): stage rul trained nothing", err)
	}
	b, err := os.ReadFile(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.IndexByte(b, '1')
	if i < 0 {
		t.Fatal("no digit to change")
	}
	b[i] = '2'
	if err := os.WriteFile(keys[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckChecksum, "ml_model", 1)
	if rel, _ := filepath.Rel(dir, keys[0]); ex[0].File != filepath.ToSlash(rel) {
		t.Errorf("violation %+v, want file %s", ex[0], rel)
	}
}

func TestMissingDaySegment(t *testing.T) {
	dir, lk := copyLake(t)
	ctx := context.Background()
	p := partition(t, "telemetry_jar_calc", month+"/bucket=05")
	m, _, err := lk.ReadManifest(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// A partition whose day was never written: neither file nor entry.
	var segs []lake.SegmentEntry
	for _, s := range m.Segments {
		if s.Name != day2 {
			segs = append(segs, s)
		}
	}
	var files []lake.FileEntry
	for _, f := range m.Files {
		if f.Segment != day2 {
			files = append(files, f)
		}
	}
	m.Segments, m.Files = segs, files
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := objstore.Put(ctx, lk.Store, p.ManifestKey(), enc); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p.SegmentKey(day2)))); err != nil {
		t.Fatal(err)
	}
	ex := only(t, run(t, lk, validate.Options{}), validate.CheckCompleteness, "telemetry_jar_calc", 1)
	if v := ex[0]; v.Partition != month+"/bucket=05" || v.Segment != day2 {
		t.Errorf("violation %+v", v)
	}
	// A window the lake does not cover misses every partition of November.
	rep := run(t, lk, validate.Options{Tables: []string{"telemetry_env"}, From: mustDate(t, day2), To: mustDate(t, "2026-11-02")})
	ex = only(t, rep, validate.CheckCompleteness, "telemetry_env", 1)
	if v := ex[0]; v.Partition != "month=2026-11" || !strings.Contains(v.Message, "partition missing") {
		t.Errorf("violation %+v", v)
	}
}

func TestRawRewrittenAfterDerived(t *testing.T) {
	_, lk := copyLake(t)
	rewrite(t, lk, "telemetry_string_raw", month+"/bucket=00", day2, func(rows []parquet.Row) []parquet.Row {
		v := colValue("telemetry_string_raw", rows[3], "voltage_v")
		set(t, "telemetry_string_raw", rows[3], "voltage_v", parquet.Int32Value(v.Int32()+1))
		return rows
	})
	rep := run(t, lk, validate.Options{})
	if n := rep.Count(validate.CheckLineage, ""); n == 0 || n != rep.Violations {
		var b strings.Builder
		rep.WriteText(&b)
		t.Fatalf("want only lineage violations:\n%s", b.String())
	}
	input := "telemetry_string_raw/" + month + "/bucket=00#" + day2 + "@"
	stale := map[string]bool{}
	for _, f := range rep.Findings {
		for _, v := range f.Examples {
			if v.Segment != day2 || !strings.HasPrefix(v.Value, input) {
				t.Errorf("lineage violation %+v: want day %s, input %s", v, day2, input)
			}
			stale[v.Table+" "+v.Partition] = true
		}
	}
	for _, want := range []string{"telemetry_string_calc " + month + "/bucket=00", "feature_store " + month} {
		if !stale[want] {
			t.Errorf("%s not reported stale; got %v", want, stale)
		}
	}
	if stale["telemetry_string_calc "+month+"/bucket=01"] {
		t.Error("string calc bucket 01 does not read bucket 00, yet reported stale")
	}
}

func TestMissingAndUnlistedFiles(t *testing.T) {
	dir, lk := copyLake(t)
	p := partition(t, "telemetry_env", month)
	src := filepath.Join(dir, filepath.FromSlash(p.SegmentKey(day1)))
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// A stray copy under another day's name: glob readers see its rows twice.
	if err := os.WriteFile(filepath.Join(filepath.Dir(src), "part-2026-10-29.parquet"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(partition(t, "location", "").SegmentKey(lake.AsOfName)))); err != nil {
		t.Fatal(err)
	}
	rep := run(t, lk, validate.Options{})
	if rep.Count(validate.CheckFile, "telemetry_env") != 1 || rep.Count(validate.CheckFile, "location") != 1 {
		var s strings.Builder
		rep.WriteText(&s)
		t.Fatalf("want one unlisted env file and one missing location file:\n%s", s.String())
	}
	// With location gone, foreign keys to it cannot be checked: a note,
	// not a violation per row.
	if rep.Violations != 2 {
		var s strings.Builder
		rep.WriteText(&s)
		t.Errorf("want 2 violations:\n%s", s.String())
	}
}

// All plants at once: every kind reported, and the report (text and JSON)
// is the same whatever the workers.
func TestReportIsDeterministic(t *testing.T) {
	dir, lk := copyLake(t)
	rewrite(t, lk, "telemetry_jar_calc", month+"/bucket=02", day1, func(rows []parquet.Row) []parquet.Row {
		for i := 0; i < 30; i += 2 {
			set(t, "telemetry_jar_calc", rows[i], "soc_pct", parquet.Int32Value(-100000))
		}
		return append(rows, rows[len(rows)-1].Clone())
	})
	rewrite(t, lk, "maintenance_event", month, lake.AsOfName, func(rows []parquet.Row) []parquet.Row {
		set(t, "maintenance_event", rows[0], "event_type", parquet.ByteArrayValue([]byte("party")))
		return rows
	})
	os.WriteFile(filepath.Join(dir, "battery", "part-00001.parquet"), []byte("junk"), 0o644)
	var outs []string
	for _, w := range []int{1, 3} {
		rep := run(t, lk, validate.Options{Workers: w, MaxExamples: 3})
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		rep.WriteText(&b)
		outs = append(outs, b.String())
		if rep.Count(validate.CheckDecimal, "telemetry_jar_calc") != 15 || rep.Count(validate.CheckPrimaryKey, "telemetry_jar_calc") != 1 ||
			rep.Count(validate.CheckEnum, "maintenance_event") != 1 || rep.Count(validate.CheckFile, "battery") != 1 || rep.Violations != 18 {
			t.Fatalf("workers %d: unexpected report:\n%s", w, b.String())
		}
		for _, f := range rep.Findings {
			if len(f.Examples) > 3 {
				t.Errorf("%s %s: %d examples kept, cap 3", f.Check, f.Table, len(f.Examples))
			}
		}
		var back validate.Report
		if err := json.NewDecoder(bytes.NewReader(b.Bytes())).Decode(&back); err != nil || back.Violations != rep.Violations || len(back.Findings) != len(rep.Findings) {
			t.Errorf("json report does not read back: %v", err)
		}
	}
	if outs[0] != outs[1] {
		t.Errorf("report differs between 1 and 3 workers:\n%s\n---\n%s", outs[0], outs[1])
	}
}

func TestUnknownTableAndEmptyWindowFail(t *testing.T) {
	_, lk := copyLake(t)
	if _, err := validate.Validate(context.Background(), lk, "x", validate.Options{Tables: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown table: %v", err)
	}
	d := mustDate(t, day1)
	if _, err := validate.Validate(context.Background(), lk, "x", validate.Options{From: d, To: d}); err == nil {
		t.Error("empty window accepted")
	}
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// s3Env returns the test S3 server given by scripts/test.sh, skipping
// outside it (and failing in CI, which must never skip S3).
func s3Env(t *testing.T) (endpoint, bucket string) {
	t.Helper()
	endpoint = os.Getenv("BATTLAKE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("BATTLAKE_TEST_S3_ENDPOINT not set in CI: run the suite through scripts/test.sh")
		}
		t.Skip("no S3 test server (run make test)")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", os.Getenv("BATTLAKE_TEST_S3_ACCESS"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", os.Getenv("BATTLAKE_TEST_S3_SECRET"))
	return endpoint, os.Getenv("BATTLAKE_TEST_S3_BUCKET")
}

// The same checks over S3: the lake copied object by object, one byte
// flipped in a raw day file on the way.
func TestValidateOnS3(t *testing.T) {
	endpoint, bucket := s3Env(t)
	ctx := context.Background()
	s3, err := objstore.NewS3(ctx, objstore.S3Config{Bucket: bucket, Prefix: fmt.Sprintf("validate-%d", os.Getpid()), Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	base := baseLake(t)
	flipped := "telemetry_string_raw/" + month + "/bucket=01/part-" + day2 + ".parquet"
	err = filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key, _ := filepath.Rel(base, path)
		key = filepath.ToSlash(key)
		if strings.HasPrefix(key, "_staging") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if key == flipped {
			i := bytes.LastIndex(b, []byte("battlake.table"))
			b[i] ^= 0x20
		}
		return objstore.Put(ctx, s3, key, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	ex := only(t, run(t, lake.New(s3), validate.Options{}), validate.CheckChecksum, "telemetry_string_raw", 1)
	if v := ex[0]; v.File != flipped || v.Partition != month+"/bucket=01" || v.Segment != day2 {
		t.Errorf("violation %+v", v)
	}
}
