package export_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// nasty are text values that need quoting or must stay apart from NULL.
var nasty = []string{
	`plain`, `a, comma`, `say "hi"`, "two\nlines", "crlf\r\nend", ` leading space`, `\.`, ``, `"`, `,`,
	"ünïcødé °C, Ω", `{"not":"json"}`,
}

// plantMonth is a month the generated lake has no rows in.
const plantMonth = "2030-01"

var (
	lakeOnce sync.Once
	lakeDir  string
	lakeErr  error
)

// tinyLake is one site over one detail day at 10 min (master, telemetry,
// transactions) plus planted rows whose text, decimals and timestamps probe
// the CSV contract's edges. Built once per test binary.
func tinyLake(t *testing.T) string {
	t.Helper()
	lakeOnce.Do(func() {
		lakeDir, lakeErr = os.MkdirTemp("", "export-test-")
		if lakeErr != nil {
			return
		}
		if _, lakeErr = jobs.Run(context.Background(), jobs.RunConfig{Lake: lakeDir, Scenario: tinyScenario(), Seed: 8,
			Stages: []string{"master", "telemetry", "transactions"}, Workers: 2}); lakeErr != nil {
			return
		}
		lakeErr = plant(lakeDir)
	})
	if lakeErr != nil {
		t.Fatal(lakeErr)
	}
	return lakeDir
}

// tinyScenario is one site over one detail day at 10 min.
func tinyScenario() jobs.Scenario {
	sc := jobs.DefaultScenario()
	sc.Sites = []string{"DC-BKK-01"}
	d, _ := jobs.ParseDate("2026-03-01")
	sc.Start, sc.End, sc.DetailFrom = d, jobs.Date{Time: d.AddDate(0, 0, 1)}, jobs.Date{}
	sc.SampleInterval = jobs.Duration{Duration: 10 * time.Minute}
	return sc
}

func TestMain(m *testing.M) {
	code := m.Run()
	if lakeDir != "" {
		os.RemoveAll(lakeDir)
	}
	os.Exit(code)
}

func openLake(t testing.TB, dir string) *lake.Lake {
	t.Helper()
	fs, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return lake.New(fs)
}

// plantTime is 2030-01-01 plus d.
func plantTime(d time.Duration) time.Time {
	return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(d)
}

func plant(dir string) error {
	fs, err := objstore.NewFS(dir)
	if err != nil {
		return err
	}
	lk := lake.New(fs)
	write := func(name string, n int, set func(i int, b *parquetio.RowBuilder)) error {
		tb := schema.MustLookup(name)
		start, _ := time.Parse("2006-01", plantMonth)
		_, _, err := lk.WritePartition(context.Background(), lake.MustPartition(tb, plantMonth, -1), lake.Meta{Job: "plant"},
			[]lake.Segment{lake.AsOfSegment(start, start.AddDate(0, 1, 0))}, true, nil, func(ctx context.Context, o *lake.Output) error {
				w, err := parquetio.NewRowWriter(o.Data(), tb)
				if err != nil {
					return err
				}
				sink := parquetio.NewRowSink(w, tb)
				for i := range n {
					if err := sink.Add(func(b *parquetio.RowBuilder) { set(i, b) }); err != nil {
						return err
					}
				}
				rows, err := sink.Close()
				o.SetRows(rows)
				return err
			})
		return err
	}
	err = write("maintenance_event", len(nasty)+1, func(i int, b *parquetio.RowBuilder) {
		b.Set("event_id", uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)})).Set("event_type", "corrective").Set("status", "completed")
		b.Set("scheduled_date", plantTime(time.Duration(i)*time.Hour+time.Duration(i)*123*time.Microsecond))
		b.Set("created_at", plantTime(0)).Set("updated_at", plantTime(500*time.Millisecond))
		if i < len(nasty) { // the last row keeps every optional column NULL
			b.Set("notes", nasty[i]).Set("event_subtype", strings.ReplaceAll(nasty[i], "\n", " "))
			b.Set("photo_urls", fmt.Sprintf(`["s3://x/%d.jpg", "a,b \"q\""]`, i))
		}
	})
	if err != nil {
		return err
	}
	decimals := []float64{0, -0.05, 1234.56, -9999.99, 0.01, 9999.99}
	return write("capacity_test_raw", len(decimals), func(i int, b *parquetio.RowBuilder) {
		b.Set("test_id", uuid.NewSHA1(uuid.NameSpaceURL, []byte{byte(i)})).Set("test_type", "full_discharge")
		b.Set("test_date", plantTime(time.Duration(i)*time.Minute+999_999*time.Microsecond))
		b.Set("discharge_rate_a", decimals[i]).Set("cutoff_voltage_v", -decimals[i]).Set("ambient_temp_c", float64(-i)/10)
	})
}

// csvScan is DuckDB's read of an exported file with the registry's types:
// empty unquoted fields are NULL, quoted "" is an empty string.
func csvScan(path string, t *schema.Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = fmt.Sprintf("'%s': '%s'", c.Name, lakecheck.DuckType(c.Type))
	}
	return fmt.Sprintf(`read_csv('%s', header=true, auto_detect=false, delim=',', quote='"', escape='"', nullstr='',
		allow_quoted_nulls=false, columns={%s})`, path, strings.Join(cols, ", "))
}

func count(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Every table of a small generated lake, exported to CSV and read back by
// DuckDB with the registry's types, holds exactly the rows DuckDB reads
// from the table's Parquet files: same multiset of rows (EXCEPT ALL both
// ways), NULLs, decimals at scale, timestamps to the microsecond and text
// with commas, quotes and newlines included.
func TestExportMatchesDuckDBReadOfParquet(t *testing.T) {
	exportEqualsLake(t, func(t *testing.T, lk *lake.Lake, _ string, tb *schema.Table, out string) (export.Stats, string) {
		path := filepath.Join(out, tb.Name+".csv")
		st, err := export.CSVFile(t.Context(), lk, tb, path, export.Options{Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		return st, csvScan(path, tb)
	})
}

// exportEqualsLake exports every table of the small lake with exp, which
// returns the export's stats and DuckDB's scan of what it wrote, and
// checks that DuckDB reads exactly the lake's rows there: the same count
// and the same multiset (EXCEPT ALL both ways).
func exportEqualsLake(t *testing.T, exp func(t *testing.T, lk *lake.Lake, dir string, tb *schema.Table, out string) (export.Stats, string)) {
	dir := tinyLake(t)
	lk := openLake(t, dir)
	db, err := lakecheck.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := t.TempDir()
	exported := 0
	for _, tb := range schema.All() {
		if tb.Blob() != nil || !lakecheck.Present(dir, tb) {
			continue
		}
		t.Run(tb.Name, func(t *testing.T) {
			st, scan := exp(t, lk, dir, tb, out)
			pq := lakecheck.Scan(dir, tb)
			if n := count(t, db, "SELECT count(*) FROM "+pq); n != st.Rows {
				t.Fatalf("exported %d rows, parquet holds %d", st.Rows, n)
			}
			if st.Rows > 0 {
				exported++
			}
			if n := count(t, db, "SELECT count(*) FROM "+scan); n != st.Rows {
				t.Fatalf("duckdb reads %d rows from the export, exported %d", n, st.Rows)
			}
			for _, q := range []string{
				fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s)", pq, scan),
				fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s)", scan, pq),
			} {
				if n := count(t, db, q); n != 0 {
					t.Errorf("%d rows differ: %s", n, q)
				}
			}
		})
	}
	if exported < 12 {
		t.Fatalf("only %d tables exported rows", exported)
	}
}

// The planted rows come out as the contract spells them.
func TestExportSpellsTheContract(t *testing.T) {
	lk := openLake(t, tinyLake(t))
	var buf bytes.Buffer
	me := schema.MustLookup("maintenance_event")
	st, err := export.CSV(t.Context(), lk, me, &buf, export.Options{Month: plantMonth})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || st.Rows != int64(len(nasty)+1) {
		t.Fatalf("month %s: %d files, %d rows; want 1 file, %d rows", plantMonth, st.Files, st.Rows, len(nasty)+1)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { return me.ColumnIndex(name) }
	for i, want := range nasty {
		r := recs[i+1]
		// encoding/csv turns CRLF inside a quoted field into LF.
		if got, w := r[col("notes")], strings.ReplaceAll(want, "\r\n", "\n"); got != w {
			t.Errorf("row %d notes = %q, want %q", i, got, w)
		}
		if got, w := r[col("photo_urls")], fmt.Sprintf(`["s3://x/%d.jpg", "a,b \"q\""]`, i); got != w {
			t.Errorf("row %d photo_urls = %q, want %q", i, got, w)
		}
		wantTS := plantTime(time.Duration(i)*time.Hour + time.Duration(i)*123*time.Microsecond).Format(time.RFC3339Nano)
		if got := r[col("scheduled_date")]; got != wantTS {
			t.Errorf("row %d scheduled_date = %s, want %s", i, got, wantTS)
		}
	}
	last := recs[len(recs)-1]
	if last[col("notes")] != "" || last[col("photo_urls")] != "" || last[col("created_at")] != "2030-01-01T00:00:00Z" || last[col("updated_at")] != "2030-01-01T00:00:00.5Z" {
		t.Errorf("NULL row = %q", last)
	}
	// NULL is an empty unquoted field, an empty string a quoted one.
	lines := strings.Split(buf.String(), "\n")
	if l := lines[len(lines)-2]; !strings.Contains(l, ",,,") || strings.Contains(l, `""`) {
		t.Errorf("NULL row line %q: want empty unquoted fields", l)
	}
	if !strings.Contains(buf.String(), `,"",`) {
		t.Errorf("no quoted empty string in\n%s", buf.String())
	}

	// TIMESTAMP (wall clock) has no offset; DATE and BOOLEAN as spelled.
	buf.Reset()
	loc := schema.MustLookup("location")
	if _, err := export.CSV(t.Context(), lk, loc, &buf, export.Options{}); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wall := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$`)
	for _, r := range recs[1:] {
		if c := r[loc.ColumnIndex("created_at")]; !wall.MatchString(c) {
			t.Errorf("location created_at %q: want a wall clock without offset", c)
		}
		if c := r[loc.ColumnIndex("is_active")]; c != "true" && c != "false" {
			t.Errorf("location is_active %q", c)
		}
		if c := r[loc.ColumnIndex("commissioned_date")]; !regexp.MustCompile(`^\d{4}-\d\d-\d\d$`).MatchString(c) {
			t.Errorf("location commissioned_date %q", c)
		}
	}

	buf.Reset()
	if _, err := export.CSV(t.Context(), lk, schema.MustLookup("capacity_test_raw"), &buf, export.Options{Month: plantMonth}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2030-01-01T00:00:00.999999Z,full_discharge,0.00,,0.00,0.0",
		"2030-01-01T00:01:00.999999Z,full_discharge,-0.05,,0.05,-0.1",
		"2030-01-01T00:02:00.999999Z,full_discharge,1234.56,,-1234.56,-0.2",
		"2030-01-01T00:03:00.999999Z,full_discharge,-9999.99,,9999.99,-0.3",
	}
	got := strings.Split(buf.String(), "\n")
	for i, w := range want {
		// test_id, string_id, maintenance_event_id | test_date … ambient | raw_data_url, notes
		f := strings.Split(got[i+1], ",")
		if g := strings.Join(f[3:9], ","); g != w {
			t.Errorf("capacity row %d = %s, want %s", i, g, w)
		}
	}
}

func TestExportOptionsAndIntegrity(t *testing.T) {
	dir := tinyLake(t)
	lk := openLake(t, dir)
	for _, c := range []struct {
		table string
		o     export.Options
		want  string
	}{
		{"event_window_sample", export.Options{Month: "March"}, "want YYYY-MM"},
		{"battery", export.Options{Month: "2026-03"}, "no month partitions"},
		{"telemetry_jar_raw", export.Options{Month: "March"}, "want YYYY-MM"},
		{"telemetry_jar_raw", export.Options{Workers: -1}, "workers -1"},
	} {
		_, err := export.CSV(t.Context(), lk, schema.MustLookup(c.table), &bytes.Buffer{}, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: err %v, want %q", c.table, c.o, err, c.want)
		}
	}

	// A month filter keeps exactly that month's partitions.
	var buf bytes.Buffer
	jar := schema.MustLookup("telemetry_jar_raw")
	all, err := export.CSV(t.Context(), lk, jar, &buf, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	none, err := export.CSV(t.Context(), lk, jar, &bytes.Buffer{}, export.Options{Month: "2026-04"})
	if err != nil {
		t.Fatal(err)
	}
	march, err := export.CSV(t.Context(), lk, jar, &bytes.Buffer{}, export.Options{Month: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	if all.Rows == 0 || march.Rows != all.Rows || none.Rows != 0 || none.Files != 0 {
		t.Errorf("rows: all %d, 2026-03 %d, 2026-04 %d (%d files)", all.Rows, march.Rows, none.Rows, none.Files)
	}
	if lines := int64(bytes.Count(buf.Bytes(), []byte("\n"))); lines != all.Rows+1 || int64(buf.Len()) != all.Bytes {
		t.Errorf("%d lines, %d bytes written; stats say %d rows, %d bytes", lines, buf.Len(), all.Rows, all.Bytes)
	}

	// A data file that no longer matches its manifest fails the export,
	// naming the file, and CSVFile leaves no output behind.
	cp := t.TempDir()
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	files := lakecheck.Files(cp, jar)
	f, err := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	out := filepath.Join(t.TempDir(), "jar.csv")
	_, err = export.CSVFile(t.Context(), openLake(t, cp), jar, out, export.Options{})
	rel, _ := filepath.Rel(cp, files[0])
	if !errors.Is(err, export.ErrFileChanged) || !strings.Contains(err.Error(), filepath.ToSlash(rel)) {
		t.Errorf("tampered file: err %v, want ErrFileChanged naming %s", err, rel)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Errorf("failed export left %v", ents)
	}

	// A failing writer stops the export with its error while workers are
	// blocked on full queues (1 KiB chunks: dozens per file), and none is
	// left running (the test would hang).
	// So does a cancelled context (an interrupted command), whichever
	// file the workers had reached.
	for range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		w := &cancelOnWrite{cancel: cancel} // cancels as the header is written
		if _, err := export.CSV(ctx, lk, jar, w, export.Options{Workers: 1}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled export: err %v, want context.Canceled", err)
		}
	}

	defer export.SetChunkBytes(1 << 10)()
	w := &failAfter{n: 2}
	if _, err := export.CSV(t.Context(), lk, jar, w, export.Options{Workers: 2}); !errors.Is(err, errDiskFull) {
		t.Errorf("failing writer: err %v, want %v", err, errDiskFull)
	}
}

var errDiskFull = errors.New("disk full")

type cancelOnWrite struct{ cancel func() }

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return len(p), nil
}

// failAfter accepts n writes, then fails.
type failAfter struct{ n int }

func (w *failAfter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errDiskFull
	}
	w.n--
	return len(p), nil
}

// TestBlobExport: a blob table comes out one row per sample with its
// parent key, every object its parent's manifests list (and no other) in
// parent order, each object's rows together in the table's sort order; an
// object that no longer matches its manifest entry fails the export.
func TestBlobExport(t *testing.T) {
	dir := tinyLake(t)
	lk := openLake(t, dir)
	curve, parent := schema.MustLookup("capacity_test_curve"), schema.MustLookup("capacity_test_raw")
	parts, err := lk.Partitions(t.Context(), parent)
	if err != nil {
		t.Fatal(err)
	}
	var objects []lake.FileEntry
	var rows int64
	for _, c := range parts {
		for _, f := range c.Manifest.Files {
			if f.Role == "blob" {
				objects = append(objects, f)
				rows += f.Rows
			}
		}
	}
	var buf bytes.Buffer
	st, err := export.CSV(t.Context(), lk, curve, &buf, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) == 0 || st.Files != len(objects) || st.Rows != rows {
		t.Fatalf("exported %d rows from %d files; the manifests list %d objects of %d rows", st.Rows, st.Files, len(objects), rows)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if lines[0] != "test_id,elapsed_s,battery_id,voltage_v,current_a" || int64(len(lines)-1) != rows {
		t.Fatalf("header %q, %d rows", lines[0], len(lines)-1)
	}
	// Each object's rows are contiguous, in object (manifest) order, and
	// sorted by battery then elapsed time.
	var order []string
	type key struct {
		battery string
		elapsed int
	}
	var last key
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		el, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		k := key{f[2], el}
		if n := len(order); n == 0 || order[n-1] != f[0] {
			if slices.Contains(order, f[0]) {
				t.Fatalf("test %s: rows not contiguous", f[0])
			}
			order = append(order, f[0])
		} else if k.battery < last.battery || (k.battery == last.battery && k.elapsed <= last.elapsed) {
			t.Fatalf("test %s: %v after %v, want the sort order", f[0], k, last)
		}
		last = k
	}
	for i, f := range objects {
		if !strings.HasSuffix(f.Key, "/"+order[i]+".parquet") {
			t.Fatalf("object %d is %s, export's test %d is %s", i, f.Key, i, order[i])
		}
	}
	var pq bytes.Buffer
	if ps, err := export.Parquet(t.Context(), lk, curve, &pq, export.Options{}); err != nil || ps.Rows != rows {
		t.Errorf("Parquet export: %d rows, err %v; want %d", ps.Rows, err, rows)
	}

	cp := t.TempDir()
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(cp, objects[1].Key), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	_, err = export.CSV(t.Context(), openLake(t, cp), curve, &bytes.Buffer{}, export.Options{})
	if !errors.Is(err, export.ErrFileChanged) || !strings.Contains(err.Error(), objects[1].Key) {
		t.Errorf("tampered object: err %v, want ErrFileChanged naming %s", err, objects[1].Key)
	}
}
