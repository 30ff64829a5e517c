package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

const fixtures = "../../testdata/ingest/"

// copyLake copies the shared synthetic lake so a test may change it.
func copyLake(t *testing.T) string {
	t.Helper()
	src := synthLake(t)
	dst := filepath.Join(t.TempDir(), "lake")
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy lake: %v: %s", err, out)
	}
	return dst
}

func dirHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameHashes(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

type rejectRow struct {
	file   string
	line   int64
	column string
	reason string
	raw    string
}

func readRejects(t *testing.T, dir string) []rejectRow {
	t.Helper()
	var out []rejectRow
	rt := schema.MustLookup("rejects")
	err := readTable(t.Context(), openLake(t, dir), rt, func(_ lake.Partition, _ string, v []val) error {
		out = append(out, rejectRow{file: string(v[1].b), line: v[2].i, column: string(v[3].b), reason: string(v[5].b), raw: string(v[6].b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rowsOf returns table's rows (as contract CSV) whose partition time falls
// on day.
func rowsOf(t *testing.T, dir, table string, day string) []string {
	t.Helper()
	tb := schema.MustLookup(table)
	var out []string
	err := readTable(t.Context(), openLake(t, dir), tb, func(_ lake.Partition, seg string, v []val) error {
		if seg == day {
			out = append(out, formatRecord(tb, v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var pinnedNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// TestBadRowsFixture: every kind of bad row of the list is
// quarantined with its reason, file, line and column; every good row
// lands; accepted + rejected = input rows.
func TestBadRowsFixture(t *testing.T) {
	dir := copyLake(t)
	cases := []struct {
		file     string
		table    string
		accepted int64
		rejects  map[int64][2]string // line -> reason, column
		good     []string            // expected rows of 2026-10-26 for this table
	}{
		{"telemetry_jar_raw_bad.csv", "telemetry_jar_raw", 5, map[int64][2]string{
			6:  {ReasonType, "voltage_v"},
			7:  {ReasonReference, "battery_id"},
			8:  {ReasonDecimal, "voltage_v"},
			9:  {ReasonDuplicate, "ts"},
			10: {ReasonNaN, "voltage_v"},
			11: {ReasonTimeZone, "ts"},
			12: {ReasonRange, "voltage_v"},
			13: {ReasonTimeZone, "ts"},
			14: {ReasonFieldCount, "resistance_mohm"},
			16: {ReasonTruncated, ""},
		}, []string{
			"2026-10-26T00:00:00Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,13.680,23.0,3.146,317.86395",
			"2026-10-26T00:00:05Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,13.675,23.1,3.150,317.46032",
			"2026-10-26T00:00:10.5Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,13.670,23.1,3.150,317.46032",
			"2026-10-26T00:00:15Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,,,,",
			"2026-10-26T00:00:55Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,13.680,0.0,3.146,317.86395",
		}},
		{"telemetry_string_raw_bad.csv", "telemetry_string_raw", 2, map[int64][2]string{
			4: {ReasonEnum, "mode"},
			5: {ReasonType, "equalize_flag"},
			6: {ReasonDecimal, "current_a"},
		}, []string{
			"2026-10-26T00:00:00Z,a5593ae5-fee9-52a9-9b3f-d9240bad16b8,327.40,0.512,float,0.120,1.200,false,false,false",
			"2026-10-26T00:00:05Z,a5593ae5-fee9-52a9-9b3f-d9240bad16b8,327.45,0.510,float,0.121,1.210,false,false,false",
		}},
		{"telemetry_jar_raw_missing_column.csv", "telemetry_jar_raw", 0, map[int64][2]string{
			2: {ReasonMissingColumn, "battery_id"},
			3: {ReasonMissingColumn, "battery_id"},
		}, nil},
	}
	var allRejects int
	for _, c := range cases {
		src := fixtures + c.file
		before := rowsOf(t, dir, c.table, "2026-10-26")
		s := ingestOK(t, Config{Lake: dir, Table: c.table, Source: src, Now: pinnedNow})
		if s.Accepted != c.accepted || s.Rejected != int64(len(c.rejects)) || s.Accepted+s.Rejected != s.Rows {
			t.Errorf("%s: summary %+v, want %d accepted, %d rejected, accepted + rejected = rows", c.file, s, c.accepted, len(c.rejects))
		}
		byReason := map[string]int64{}
		for _, r := range c.rejects {
			byReason[r[0]]++
		}
		for k, n := range byReason {
			if s.ByReason[k] != n {
				t.Errorf("%s: ByReason[%s] = %d, want %d (%v)", c.file, k, s.ByReason[k], n, s.ByReason)
			}
		}
		got := map[int64]rejectRow{}
		for _, r := range readRejects(t, dir) {
			if r.file == src {
				if _, dup := got[r.line]; dup {
					t.Errorf("%s line %d rejected twice", c.file, r.line)
				}
				got[r.line] = r
			}
		}
		allRejects += len(got)
		for line, want := range c.rejects {
			r, ok := got[line]
			if !ok {
				t.Errorf("%s line %d: not in rejects (want %s)", c.file, line, want[0])
				continue
			}
			if !strings.HasPrefix(r.reason, want[0]+": ") || r.column != want[1] || r.raw == "" ||
				!strings.Contains(r.reason, src) || !strings.Contains(r.reason, "line ") {
				t.Errorf("%s line %d: reject %+v, want reason %s column %q naming file and line", c.file, line, r, want[0], want[1])
			}
		}
		if len(got) != len(c.rejects) {
			t.Errorf("%s: %d rejects recorded, want %d", c.file, len(got), len(c.rejects))
		}
		after := rowsOf(t, dir, c.table, "2026-10-26")
		if len(after)-len(before) != len(c.good) {
			t.Errorf("%s: %d rows landed on 2026-10-26, want %d", c.file, len(after)-len(before), len(c.good))
		}
		have := map[string]bool{}
		for _, r := range after {
			have[r] = true
		}
		for _, g := range c.good {
			if !have[g] {
				t.Errorf("%s: good row missing: %s", c.file, g)
			}
		}
	}
	// The reject of line 8 says why in words a person can act on.
	for _, r := range readRejects(t, dir) {
		if r.line == 12 && strings.HasSuffix(r.file, "jar_raw_bad.csv") && !strings.Contains(r.reason, "physical range [0, 20]") {
			t.Errorf("250 V reject: %q", r.reason)
		}
	}
}

// TestStrictWritesNothing: --strict with a bad row changes no byte.
func TestStrictWritesNothing(t *testing.T) {
	dir := copyLake(t)
	before := dirHashes(t, dir)
	_, err := Run(t.Context(), Config{Lake: dir, Table: "telemetry_jar_raw", Source: fixtures + "telemetry_jar_raw_bad.csv", Strict: true, Now: pinnedNow, Workers: 2})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "telemetry_jar_raw_bad.csv line ") {
		t.Fatalf("strict ingest of a bad file: %v, want ErrRejected naming the file and line", err)
	}
	if !sameHashes(before, dirHashes(t, dir)) {
		t.Error("strict ingest with bad rows changed the lake")
	}
	// A clean file under --strict lands.
	s := ingestOK(t, Config{Lake: dir, Table: "telemetry_string_raw", Source: fixtures + "telemetry_string_raw_bad.csv", From: time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)})
	if s.Rejected != s.Rows || s.ByReason[ReasonWindow] != 2 {
		t.Errorf("window: %+v, want every row rejected, the 2 good ones as %s", s, ReasonWindow)
	}
}

// TestIngestTwiceUnchanged: the same file twice writes nothing the second
// time, rejects included.
func TestIngestTwiceUnchanged(t *testing.T) {
	dir := copyLake(t)
	first := ingestOK(t, Config{Lake: dir, Table: "telemetry_jar_raw", Source: fixtures + "telemetry_jar_raw_bad.csv", Now: pinnedNow})
	if first.Unchanged || len(first.Partitions) != 2 {
		t.Fatalf("first ingest: %+v, want a data file and a rejects file", first)
	}
	before := dirHashes(t, dir)
	second := ingestOK(t, Config{Lake: dir, Table: "telemetry_jar_raw", Source: fixtures + "telemetry_jar_raw_bad.csv", Now: pinnedNow.Add(time.Hour)})
	if !second.Unchanged || len(second.Partitions) != 0 || second.Accepted != first.Accepted || second.Rejected != first.Rejected {
		t.Errorf("second ingest: %+v, want unchanged with the same counts", second)
	}
	if !sameHashes(before, dirHashes(t, dir)) {
		t.Error("second ingest of the same file changed the lake")
	}
}

// TestCorrectedFileReplacesCoveredRows: a file holding two corrected
// samples of a day replaces those two rows and keeps the rest of the day.
func TestCorrectedFileReplacesCoveredRows(t *testing.T) {
	dir := copyLake(t)
	before := rowsOf(t, dir, "telemetry_jar_raw", "2026-10-25")
	const b = "102c7af1-4f7f-51de-963a-f1e38dd3ba09"
	fix := "ts,battery_id,voltage_v,temperature_c,resistance_mohm,conductance_s\n" +
		"2026-10-25T00:00:00Z," + b + ",13.111,23.0,3.146,317.86395\n" +
		"2026-10-25T00:02:00Z," + b + ",13.222,23.0,3.146,317.86395\n"
	path := filepath.Join(t.TempDir(), "fix.csv")
	os.WriteFile(path, []byte(fix), 0o644)
	s := ingestOK(t, Config{Lake: dir, Table: "telemetry_jar_raw", Source: path})
	if s.Accepted != 2 || s.Rejected != 0 || len(s.Partitions) != 1 {
		t.Fatalf("summary %+v", s)
	}
	after := rowsOf(t, dir, "telemetry_jar_raw", "2026-10-25")
	if len(after) != len(before) {
		t.Fatalf("%d rows after, %d before: a correction must replace, not add", len(after), len(before))
	}
	changed := map[string]bool{}
	old := map[string]bool{}
	for _, r := range before {
		old[r] = true
	}
	for _, r := range after {
		if !old[r] {
			changed[r] = true
		}
	}
	want := []string{"2026-10-25T00:00:00Z," + b + ",13.111,23.0,3.146,317.86395", "2026-10-25T00:02:00Z," + b + ",13.222,23.0,3.146,317.86395"}
	if len(changed) != 2 || !changed[want[0]] || !changed[want[1]] {
		t.Errorf("changed rows %v, want %v", changed, want)
	}
	// The day keeps its sample interval for the derived stages.
	lk := openLake(t, dir)
	p := lake.MustPartition(schema.MustLookup("telemetry_jar_raw"), "2026-10", lake.Bucket(uuid.UUID(mustUUID(b)), 8))
	m, _, err := lk.ReadManifest(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	se, _ := m.Segment("2026-10-25")
	if !slices.Contains(se.Inputs, "sample_interval=1m0s") {
		t.Errorf("segment inputs %v, want sample_interval=1m0s", se.Inputs)
	}
	var src bool
	for _, in := range se.Lineage {
		src = src || (in.Table == "source" && in.Partition == path && len(in.SHA256) == 64)
	}
	if !src {
		t.Errorf("lineage %v does not name the source file and its SHA-256", se.Lineage)
	}
}

// TestMappingUnitsCodesTimeZone: a BMS export with its own names, jar
// codes instead of ids, millivolts, Fahrenheit, micro-ohms and local
// Bangkok time without an offset.
func TestMappingUnitsCodesTimeZone(t *testing.T) {
	dir := copyLake(t)
	s := ingestOK(t, Config{Lake: dir, Table: "telemetry_jar_raw", Source: fixtures + "telemetry_jar_raw_bms.csv", Mapping: fixtures + "bms-mapping.json", Now: pinnedNow})
	if s.Rows != 3 || s.Accepted != 2 || s.Rejected != 1 || s.ByReason[ReasonReference] != 1 {
		t.Fatalf("summary %+v", s)
	}
	got := rowsOf(t, dir, "telemetry_jar_raw", "2026-10-27")
	want := []string{
		// 07:00 in Bangkok is 00:00 UTC; 13680 mV = 13.680 V; 73.4 °F = 23.0 °C; 3146 µΩ = 3.146 mΩ
		"2026-10-27T00:00:00Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,13.680,23.0,3.146,",
		"2026-10-27T00:00:05Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,13.675,23.1,3.150,",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range readRejects(t, dir) {
		if r.line == 4 && (r.column != "Jar" || !strings.Contains(r.reason, "DC-BKK-UPS-01-S1-J99")) {
			t.Errorf("unknown jar code reject: %+v", r)
		}
	}
	if _, err := ParseMapping([]byte(`{"timezone": "Mars/Olympus"}`), schema.MustLookup("telemetry_jar_raw")); !errors.Is(err, ErrConfig) {
		t.Errorf("bad mapping time zone: %v, want ErrConfig", err)
	}
	if _, err := ParseMapping([]byte(`{"units": {"voltage_v": "furlong"}}`), schema.MustLookup("telemetry_jar_raw")); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown unit: %v, want ErrConfig", err)
	}
}

// TestCorrectedTransactionalRow: a maintenance event (key event_id, sorted
// by location and date) corrected in its month replaces the lake's row; the
// same event moved to another month is a duplicate_key reject, not a copy.
func TestCorrectedTransactionalRow(t *testing.T) {
	dir := copyLake(t)
	tb := schema.MustLookup("maintenance_event")
	var month string
	var row []val
	count := map[string]int{}
	sched, notes := tb.ColumnIndex("scheduled_date"), tb.ColumnIndex("notes")
	err := readTable(t.Context(), openLake(t, dir), tb, func(p lake.Partition, _ string, v []val) error {
		count[p.Month]++
		if row == nil && !v[sched].null && !v[notes].null {
			month, row = p.Month, append([]val(nil), v...)
			for i := range row {
				row[i].b = append([]byte(nil), row[i].b...)
			}
		}
		return nil
	})
	if err != nil || row == nil {
		t.Fatal(err, "no maintenance event with notes")
	}
	var hdr []string
	for _, c := range tb.Columns {
		hdr = append(hdr, c.Name)
	}
	row[notes].b = []byte("corrected by the CMMS, with a \"quote\", a comma\nand a line break")
	fixed := formatRecord(tb, row)
	moved := append([]val(nil), row...)
	moved[sched].i += 40 * 86400e6 // scheduled 40 days later: another month
	path := filepath.Join(t.TempDir(), "cmms.csv")
	os.WriteFile(path, []byte(strings.Join(hdr, ",")+"\n"+fixed+"\n"), 0o644)
	s := ingestOK(t, Config{Lake: dir, Table: tb.Name, Source: path, Now: pinnedNow})
	if s.Accepted != 1 || s.Rejected != 0 {
		t.Fatalf("correction: %+v", s)
	}
	after := map[string]int{}
	found := false
	readTable(t.Context(), openLake(t, dir), tb, func(p lake.Partition, _ string, v []val) error {
		after[p.Month]++
		if p.Month == month && formatRecord(tb, v) == fixed {
			found = true
		}
		return nil
	})
	if !found || after[month] != count[month] {
		t.Errorf("month %s: corrected row found %v, %d rows after, %d before", month, found, after[month], count[month])
	}
	os.WriteFile(path, []byte(strings.Join(hdr, ",")+"\n"+formatRecord(tb, moved)+"\n"), 0o644)
	s = ingestOK(t, Config{Lake: dir, Table: tb.Name, Source: path, Now: pinnedNow})
	if s.Rejected != 1 || s.ByReason[ReasonDuplicate] != 1 {
		t.Errorf("moved event: %+v, want one %s", s, ReasonDuplicate)
	}
}
