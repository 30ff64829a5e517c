package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
)

// exportBlobCSV writes blob table of the lake at dir as CSV (through the
// parent's manifests) and returns its lines, header first.
func exportBlobCSV(t *testing.T, dir, table, out string) []string {
	t.Helper()
	if _, err := export.CSVFile(t.Context(), openLake(t, dir), schema.MustLookup(table), out, export.Options{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// blobEntries maps the blob objects the parent's manifests list to their
// manifest entries.
func blobEntries(t *testing.T, dir, parent string) map[string]lake.FileEntry {
	t.Helper()
	parts, err := openLake(t, dir).Partitions(t.Context(), schema.MustLookup(parent))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]lake.FileEntry{}
	for _, c := range parts {
		for _, f := range c.Manifest.Files {
			if f.Role == "blob" {
				out[f.Key] = f
			}
		}
	}
	return out
}

// parentRows maps each parent row's key of blob table's parent to its URL
// and count (when it has one) as contract text.
func parentRows(t *testing.T, dir, blob string) map[string][2]string {
	t.Helper()
	bt := newBlobTarget(schema.MustLookup(blob))
	pt := bt.parent
	out := map[string][2]string{}
	err := readTable(t.Context(), openLake(t, dir), pt, func(_ lake.Partition, _ string, v []val) error {
		rec := [2]string{string(formatVal(nil, &pt.Columns[bt.pURL], &v[bt.pURL])), ""}
		if bt.pCount >= 0 {
			rec[1] = string(formatVal(nil, &pt.Columns[bt.pCount], &v[bt.pCount]))
		}
		out[string(formatVal(nil, &pt.Columns[bt.pKey], &v[bt.pKey]))] = rec
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBlobIngestOfExportIsUnchanged: the lake's samples exported and
// ingested back write nothing: each object comes out byte for byte the
// synthesizer's, and so does each parent file with its URLs and counts.
func TestBlobIngestOfExportIsUnchanged(t *testing.T) {
	dir := copyLake(t)
	before := dirHashes(t, dir)
	for _, table := range []string{"event_window_sample", "capacity_test_curve"} {
		path := filepath.Join(t.TempDir(), table+".csv")
		lines := exportBlobCSV(t, dir, table, path)
		s := ingestOK(t, Config{Lake: dir, Table: table, Source: path, Now: pinnedNow})
		if n := int64(len(lines) - 1); n == 0 || s.Rows != n || s.Accepted != n || s.Rejected != 0 || !s.Unchanged {
			t.Errorf("%s: %d rows exported; summary %+v, want all accepted and nothing written", table, n, s)
		}
	}
	if after := dirHashes(t, dir); !sameHashes(before, after) {
		t.Error("re-ingesting the lake's own samples changed files")
	}
}

// TestBlobIngestIntoEmptyParents: samples loaded after their parents'
// rows (whose URLs an export carries but whose objects another lake holds)
// become the objects the parents name: the parent's URL and count agree
// with what was written, and the objects equal the source lake's.
func TestBlobIngestIntoEmptyParents(t *testing.T) {
	src := synthLake(t)
	dst := t.TempDir()
	csvDir := t.TempDir()
	for _, table := range append(append([]string{}, masterOrder...), "telemetry_event_window", "maintenance_event", "capacity_test_raw") {
		path := filepath.Join(csvDir, table+".csv")
		exportCSV(t, src, table, path)
		s := ingestOK(t, Config{Lake: dst, Table: table, Source: path})
		if s.Rejected != 0 {
			t.Fatalf("%s: %+v", table, s)
		}
		if table == "telemetry_event_window" || table == "capacity_test_raw" {
			// No object yet: the URLs would dangle, so they are NULL.
			if len(s.Warnings) == 0 || !strings.Contains(strings.Join(s.Warnings, "\n"), "written as NULL") {
				t.Errorf("%s: warnings %q, want one about URLs written as NULL", table, s.Warnings)
			}
		}
	}
	for _, blob := range []string{"event_window_sample", "capacity_test_curve"} {
		parent := newBlobTarget(schema.MustLookup(blob)).parent.Name
		for k, r := range parentRows(t, dst, blob) {
			if r[0] != "" || r[1] != "" {
				t.Fatalf("%s %s before its samples: url %q count %q, want NULL", parent, k, r[0], r[1])
			}
		}
		path := filepath.Join(csvDir, blob+".csv")
		exportBlobCSV(t, src, blob, path)
		s := ingestOK(t, Config{Lake: dst, Table: blob, Source: path})
		if s.Rejected != 0 || s.Accepted == 0 || s.Unchanged {
			t.Fatalf("%s: %+v", blob, s)
		}
		want, got := blobEntries(t, src, parent), blobEntries(t, dst, parent)
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("%s: %d objects, the source lake has %d", blob, len(got), len(want))
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g.SHA256 != w.SHA256 || g.Rows != w.Rows {
				t.Errorf("%s: object %s: %+v, want %+v", blob, k, g, w)
			}
		}
		if a, b := parentRows(t, src, blob), parentRows(t, dst, blob); len(a) != len(b) {
			t.Errorf("%s: %d rows, source %d", parent, len(b), len(a))
		} else {
			for k, r := range a {
				if b[k] != r {
					t.Errorf("%s %s: url, count %q, want %q", parent, k, b[k], r)
				}
			}
		}
		checkSameData(t, src, dst, parent)
	}
	// A parent reloaded later keeps the objects its rows name.
	before := blobEntries(t, dst, "telemetry_event_window")
	path := filepath.Join(csvDir, "telemetry_event_window.csv")
	if s := ingestOK(t, Config{Lake: dst, Table: "telemetry_event_window", Source: path}); s.Rejected != 0 || len(s.Warnings) != 0 {
		t.Errorf("parent reload: %+v", s)
	}
	if after := blobEntries(t, dst, "telemetry_event_window"); len(after) != len(before) {
		t.Errorf("parent reload: %d objects, had %d", len(after), len(before))
	}
	checkSameData(t, src, dst, "telemetry_event_window")
}

// TestBlobBadRowsAndCorrection: the blob fixtures land each good sample
// and quarantine each bad one with its reason, file, line and column; the
// good samples replace their parent's object (a corrected file covers
// whole windows or tests), the parent row's count follows, and every other
// object is kept as it was.
func TestBlobBadRowsAndCorrection(t *testing.T) {
	dir := copyLake(t)
	cases := []struct {
		file, table, parentKey string
		rejects                map[int64][2]string // line -> reason, column
		good                   []string
	}{
		{"event_window_sample_bad.csv", "event_window_sample", "393c853b-12e5-50b6-85a3-04842e0172a4", map[int64][2]string{
			4:  {ReasonDuplicate, "window_id"},
			5:  {ReasonReference, "window_id"},
			6:  {ReasonWindow, "ts"},
			7:  {ReasonDecimal, "voltage_v"},
			8:  {ReasonType, "voltage_v"},
			9:  {ReasonReference, "battery_id"},
			10: {ReasonNotNull, "ts"},
			11: {ReasonReference, "battery_id"}, // a jar of another string
		}, []string{
			"393c853b-12e5-50b6-85a3-04842e0172a4,2026-10-25T16:15:25.6Z,078db087-a895-5016-9a60-62a20eb912bd,13.711,0.070,22.1",
			"393c853b-12e5-50b6-85a3-04842e0172a4,2026-10-25T16:15:25.7Z,078db087-a895-5016-9a60-62a20eb912bd,13.690,0.070,22.3",
		}},
		{"capacity_test_curve_bad.csv", "capacity_test_curve", "037530a2-65cc-5f80-8116-bc163348c84d", map[int64][2]string{
			4: {ReasonWindow, "elapsed_s"},
			5: {ReasonWindow, "elapsed_s"},
			6: {ReasonDuplicate, "test_id"},
			7: {ReasonReference, "test_id"},
			8: {ReasonDecimal, "current_a"},
		}, []string{
			"037530a2-65cc-5f80-8116-bc163348c84d,0,02d48e58-d2b2-5659-8aa9-3160386337da,12.807,29.959",
			"037530a2-65cc-5f80-8116-bc163348c84d,60,02d48e58-d2b2-5659-8aa9-3160386337da,12.649,29.985",
		}},
	}
	for _, c := range cases {
		src := fixtures + c.file
		bt := newBlobTarget(schema.MustLookup(c.table))
		objs := blobEntries(t, dir, bt.parent.Name)
		rows := parentRows(t, dir, c.table)
		s := ingestOK(t, Config{Lake: dir, Table: c.table, Source: src, Now: pinnedNow})
		if s.Accepted != int64(len(c.good)) || s.Rejected != int64(len(c.rejects)) || s.Accepted+s.Rejected != s.Rows {
			t.Errorf("%s: summary %+v, want %d accepted, %d rejected", c.file, s, len(c.good), len(c.rejects))
		}
		got := map[int64]rejectRow{}
		for _, r := range readRejects(t, dir) {
			if r.file == src {
				got[r.line] = r
			}
		}
		if len(got) != len(c.rejects) {
			t.Errorf("%s: %d rejects recorded, want %d", c.file, len(got), len(c.rejects))
		}
		for line, want := range c.rejects {
			r, ok := got[line]
			if !ok || !strings.HasPrefix(r.reason, want[0]+": ") || r.column != want[1] || r.raw == "" || !strings.Contains(r.reason, src) {
				t.Errorf("%s line %d: reject %+v, want reason %s column %q naming the file", c.file, line, r, want[0], want[1])
			}
		}
		if r, ok := got[11]; c.table == "event_window_sample" && (!ok || !strings.Contains(r.reason, "is a jar of string")) {
			t.Errorf("%s line 11: reject %+v, want the jar's string named", c.file, r)
		}
		// The covered parent's object now holds the good samples only.
		lines := exportBlobCSV(t, dir, c.table, filepath.Join(t.TempDir(), "x.csv"))
		var mine []string
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, c.parentKey+",") {
				mine = append(mine, l)
			}
		}
		if strings.Join(mine, "\n") != strings.Join(c.good, "\n") {
			t.Errorf("%s: samples of %s after the load:\n%s\nwant\n%s", c.file, c.parentKey, strings.Join(mine, "\n"), strings.Join(c.good, "\n"))
		}
		after := blobEntries(t, dir, bt.parent.Name)
		if len(after) != len(objs) {
			t.Errorf("%s: %d objects, had %d", c.file, len(after), len(objs))
		}
		for k, f := range objs {
			g := after[k]
			if strings.Contains(k, c.parentKey) {
				if g.Rows != int64(len(c.good)) || g.SHA256 == f.SHA256 {
					t.Errorf("%s: covered object %s: %+v, want %d rows, new bytes", c.file, k, g, len(c.good))
				}
			} else if g != f {
				t.Errorf("%s: object %s not covered by the file changed: %+v, was %+v", c.file, k, g, f)
			}
		}
		newRows := parentRows(t, dir, c.table)
		for k, r := range rows {
			want := r
			if k == c.parentKey && bt.pCount >= 0 {
				want[1] = "2"
			}
			if newRows[k] != want {
				t.Errorf("%s: parent %s url, count %q, want %q", c.file, k, newRows[k], want)
			}
		}
		// The same file again writes nothing.
		h := dirHashes(t, dir)
		if s := ingestOK(t, Config{Lake: dir, Table: c.table, Source: src, Now: pinnedNow}); !s.Unchanged {
			t.Errorf("%s again: %+v, want nothing written", c.file, s)
		}
		if !sameHashes(h, dirHashes(t, dir)) {
			t.Errorf("%s again: files changed", c.file)
		}
	}
}

// TestBlobStrictWritesNothing: --strict with a bad sample changes no byte.
func TestBlobStrictWritesNothing(t *testing.T) {
	dir := copyLake(t)
	before := dirHashes(t, dir)
	_, err := Run(t.Context(), Config{Lake: dir, Table: "event_window_sample", Source: fixtures + "event_window_sample_bad.csv", Strict: true, Now: pinnedNow, Workers: 2})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err %v, want ErrRejected", err)
	}
	if !sameHashes(before, dirHashes(t, dir)) {
		t.Error("a strict load with bad samples changed files")
	}
}
