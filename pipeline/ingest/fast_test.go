package ingest

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
)

// jarLines exports the synthetic lake's jar telemetry (one day, 8 bucket
// segments, each in sort order) and returns the header and the data lines
// grouped by bucket, in export order.
func jarLines(t *testing.T) (string, [][]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jar.csv")
	exportCSV(t, synthLake(t), "telemetry_jar_raw", path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	tb := schema.MustLookup("telemetry_jar_raw")
	byBucket := make([][]string, tb.Partition.Buckets)
	last := -1
	for _, l := range lines[1:] {
		bk := lake.Bucket(mustUUID(strings.Split(l, ",")[1]), tb.Partition.Buckets)
		if bk < last {
			t.Fatalf("export not in bucket order")
		}
		last = bk
		byBucket[bk] = append(byBucket[bk], l)
	}
	for bk, ls := range byBucket {
		if len(ls) < 100 {
			t.Fatalf("bucket %d: %d rows", bk, len(ls))
		}
	}
	return lines[0], byBucket
}

func writeLines(t *testing.T, header string, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(path, []byte(header+"\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ingestJar ingests path into a fresh lake holding the synthetic master
// data and returns the lake and the summary.
func ingestJar(t *testing.T, path string) (string, Summary) {
	t.Helper()
	dst := t.TempDir()
	copyDir(t, synthLake(t), dst, "battery")
	s := ingestOK(t, Config{Lake: dst, Table: "telemetry_jar_raw", Source: path, Now: pinnedNow})
	return dst, s
}

// TestPresortedStreamsEverySegment: an export's segments arrive in sort
// order, so each is streamed to Parquet without sorted runs, and the files
// are the synthesizer's bytes.
func TestPresortedStreamsEverySegment(t *testing.T) {
	header, byBucket := jarLines(t)
	var all []string
	for _, ls := range byBucket {
		all = append(all, ls...)
	}
	dst, s := ingestJar(t, writeLines(t, header, all))
	if s.Presorted != len(byBucket) || s.FellBack != 0 || s.Accepted != int64(len(all)) || s.Rejected != 0 {
		t.Fatalf("summary %+v, want %d presorted segments of %d rows", s, len(byBucket), len(all))
	}
	checkSameData(t, synthLake(t), dst, "telemetry_jar_raw")
}

// TestPresortedFallsBackMidSegment: one segment's rows are in order up to
// a row that goes backwards; that segment switches to sorted runs (the rows
// streamed so far are read back), the others stay presorted. Duplicates on
// either side of the switch are rejected exactly as by the merge: the
// first row of a key in file order wins, whichever path wrote it.
func TestPresortedFallsBackMidSegment(t *testing.T) {
	header, byBucket := jarLines(t)
	const bk = 3
	seg := append([]string{}, byBucket[bk]...)
	n := len(seg)
	// Line numbers: the header is line 1; buckets before bk come first.
	base := 2
	for _, ls := range byBucket[:bk] {
		base += len(ls)
	}
	// A duplicate key with another voltage: the first row must win.
	dup := func(l string) string {
		f := strings.Split(l, ",")
		f[2] = "1.000"
		return strings.Join(f, ",")
	}
	moved := seg[n/2]
	seg = append(seg[:11], append([]string{dup(seg[10])}, seg[11:]...)...) // rejected while streaming (index 11)
	seg = append(seg[:n/2+1], seg[n/2+2:]...)                              // moved leaves its place...
	seg = append(seg, moved, dup(seg[20]))                                 // ...for the end: the fallback; then a duplicate of a streamed row
	var all []string
	for b, ls := range byBucket {
		if b == bk {
			ls = seg
		}
		all = append(all, ls...)
	}
	dst, s := ingestJar(t, writeLines(t, header, all))
	if s.Presorted != len(byBucket)-1 || s.FellBack != 1 {
		t.Fatalf("presorted %d, fell back %d, want %d and 1", s.Presorted, s.FellBack, len(byBucket)-1)
	}
	want := int64(len(all) - 2)
	if s.Accepted != want || s.Rejected != 2 || s.ByReason[ReasonDuplicate] != 2 || s.Rows != int64(len(all)) {
		t.Fatalf("summary %+v, want %d accepted and 2 duplicates", s, want)
	}
	checkSameData(t, synthLake(t), dst, "telemetry_jar_raw")
	rej := readRejects(t, dst)
	lines := map[int64]string{}
	for _, r := range rej {
		lines[r.line] = r.reason
	}
	// dupFast at segment index 11, first at index 10; the late duplicate
	// is the file's last line, first at segment index 20.
	for line, first := range map[int64]int{int64(base + 11): base + 10, int64(base + len(seg) - 1): base + 20} {
		r, ok := lines[line]
		if !ok || !strings.HasPrefix(r, ReasonDuplicate) || !strings.Contains(r, "(first at line "+strconv.Itoa(first)+")") {
			t.Errorf("line %d: reject %q, want a duplicate of line %d (rejects %v)", line, r, first, lines)
		}
	}
}

// TestPresortedReopenedSegmentFallsBack: more segments than maxOpenFast
// interleave, so the least recently used one is closed; its next row
// reopens it, and it falls back to sorted runs without losing a row.
func TestPresortedReopenedSegmentFallsBack(t *testing.T) {
	header, byBucket := jarLines(t)
	var all []string
	for _, ls := range byBucket[:maxOpenFast+1] {
		all = append(all, ls[:len(ls)/2]...)
	}
	for _, ls := range byBucket[:maxOpenFast+1] {
		all = append(all, ls[len(ls)/2:]...)
	}
	for _, ls := range byBucket[maxOpenFast+1:] {
		all = append(all, ls...)
	}
	dst, s := ingestJar(t, writeLines(t, header, all))
	if s.FellBack == 0 || s.Presorted+s.FellBack < len(byBucket) || s.Accepted != int64(len(all)) || s.Rejected != 0 {
		t.Fatalf("summary %+v: want some segments to fall back, none lost", s)
	}
	checkSameData(t, synthLake(t), dst, "telemetry_jar_raw")
}

// TestJarRealZeroIsNotNull: the fast path's jar sink takes zero for NULL,
// so a segment with a real 0.0 falls back to the merge's sink: a zero
// reads back as zero and an empty field as NULL.
func TestJarRealZeroIsNotNull(t *testing.T) {
	header, byBucket := jarLines(t)
	var all []string
	for _, ls := range byBucket {
		all = append(all, ls...)
	}
	set := func(i, col int, v string) {
		f := strings.Split(all[i], ",")
		f[col] = v
		all[i] = strings.Join(f, ",")
	}
	set(5, 3, "0.0")      // temperature_c: a cold room
	set(6, 5, "")         // conductance_s: NULL
	set(7, 3, "")         // temperature_c: NULL
	set(5000, 2, "0.000") // voltage_v, in another batch
	dst, s := ingestJar(t, writeLines(t, header, all))
	if s.Accepted != int64(len(all)) || s.FellBack != 1 {
		t.Fatalf("summary %+v: want every row, one segment fallen back", s)
	}
	got := map[string]bool{}
	for _, r := range rowsOf(t, dst, "telemetry_jar_raw", "2026-10-25") {
		got[r] = true
	}
	for _, i := range []int{5, 6, 7, 5000, 8} {
		if !got[all[i]] {
			t.Errorf("row %d: %q not read back", i, all[i])
		}
	}
	if len(got) != len(all) {
		t.Errorf("%d distinct rows read back, want %d", len(got), len(all))
	}
}

// TestUnscaledRangeIsTheRange: the integer bounds of every DECIMAL column
// with a physical range accept exactly the values the float check does,
// around both bounds and across the column's precision.
func TestUnscaledRangeIsTheRange(t *testing.T) {
	checked := 0
	for _, tb := range schema.All() {
		for i := range tb.Columns {
			c := &tb.Columns[i]
			b := newUnscaledRange(c)
			if c.Range == nil || c.Type.Kind != schema.KindDecimal {
				if b.ok {
					t.Errorf("%s.%s: integer bounds without a decimal range", tb.Name, c.Name)
				}
				continue
			}
			if !b.ok {
				t.Errorf("%s.%s: no integer bounds for %s", tb.Name, c.Name, c.Range)
				continue
			}
			checked++
			lim := pow10[c.Type.Precision] - 1
			us := []int64{-lim, lim, 0, 1, -1}
			for d := int64(-50); d <= 50; d++ {
				us = append(us, b.lo+d, b.hi+d)
			}
			for k := int64(0); k < 200; k++ {
				us = append(us, -lim+k*(2*lim/199))
			}
			for _, u := range us {
				if got, want := u >= b.lo && u <= b.hi, c.Range.Contains(decimalFloat(u, c.Type.Scale)); got != want {
					t.Errorf("%s.%s: %d at scale %d: integer bounds say %v, the range %s says %v", tb.Name, c.Name, u, c.Type.Scale, got, c.Range, want)
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d decimal columns with a range", checked)
	}
}

// TestPresortedSegmentAlsoInParquet: a folder whose CSV streams a segment
// presorted and whose Parquet file (read after it, by name) holds rows of
// the same segment: the segment falls back before the merge, so the
// Parquet file's repeats of the CSV's rows are duplicates (the CSV came
// first) and its other rows land: the synthesizer's file again.
func TestPresortedSegmentAlsoInParquet(t *testing.T) {
	header, byBucket := jarLines(t)
	src := synthLake(t)
	tb := schema.MustLookup("telemetry_jar_raw")
	parts, err := openLake(t, src).Partitions(t.Context(), tb)
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for _, p := range parts {
		for _, f := range p.Manifest.Files {
			if f.Role == "data" && p.Partition.Bucket == 0 {
				key = f.Key
			}
		}
	}
	if key == "" {
		t.Fatal("no bucket 0 file")
	}
	dir := t.TempDir()
	half := byBucket[0][:len(byBucket[0])/2]
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), []byte(header+"\n"+strings.Join(half, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src, key))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.parquet"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	dst, s := ingestJar(t, dir)
	n := int64(len(byBucket[0]))
	if s.FellBack != 1 || s.Presorted != 0 || s.Rows != n+int64(len(half)) || s.Accepted != n ||
		s.Rejected != int64(len(half)) || s.ByReason[ReasonDuplicate] != int64(len(half)) {
		t.Fatalf("summary %+v: want bucket 0's %d rows, the %d repeats duplicates, one segment fallen back", s, n, len(half))
	}
	got, err := openLake(t, dst).Partitions(t.Context(), tb)
	if err != nil || len(got) != 1 {
		t.Fatal(err, len(got))
	}
	want := map[string]string{}
	for _, p := range parts {
		for _, f := range p.Manifest.Files {
			want[f.Key] = f.SHA256
		}
	}
	for _, f := range got[0].Manifest.Files {
		if f.Role == "data" && want[f.Key] != f.SHA256 {
			t.Errorf("%s differs from the synthesizer's", f.Key)
		}
	}
}

// TestFixedRowsRoundTrip: the fast path's fixed-width rows give back every
// value of every table's columns: NULLs, empty and non-empty bytes,
// negative integers, doubles (-0 included) and UUIDs.
func TestFixedRowsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tb := range schema.All() {
		c := newCodec(tb, nil)
		var rows, arena []byte
		var want [][]val
		for n := range 50 {
			vals := make([]val, len(tb.Columns))
			for i := range vals {
				v := &vals[i]
				switch {
				case r.IntN(5) == 0:
					v.null = true
				case c.cls[i] == clsInt:
					v.i = r.Int64() - 1<<62
				case c.cls[i] == clsUUID:
					for k := range v.u {
						v.u[k] = byte(r.IntN(256))
					}
				case c.cls[i] == clsDouble:
					v.f = []float64{-0.0, 1.5, -1e300, r.NormFloat64()}[n%4]
				case c.cls[i] == clsBytes:
					v.b = []byte(strings.Repeat("é,\"", r.IntN(3)))
				}
			}
			rows, arena = c.appendFixed(rows, arena, vals)
			want = append(want, vals)
		}
		got := make([]val, len(tb.Columns))
		for n, w := range want {
			c.decodeFixed(rows[n*c.fixedSize:(n+1)*c.fixedSize], arena, got)
			for i := range w {
				a, b := w[i], got[i]
				if a.null != b.null || a.i != b.i || a.u != b.u || math.Float64bits(a.f) != math.Float64bits(b.f) ||
					string(a.b) != string(b.b) || (!a.null && c.cls[i] == clsBytes && b.b == nil) {
					t.Fatalf("%s row %d column %s: got %+v, want %+v", tb.Name, n, tb.Columns[i].Name, b, a)
				}
			}
		}
	}
}
