package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
)

// Acceptance tests of the transactions stage on one real site over its
// whole history (commissioning to the default scenario end): the lake is
// written by a pipeline.Runner into a filesystem store and read back with
// parquet-go.

const txSeed = 20261101

func txTestEnv(t *testing.T) *Env {
	t.Helper()
	sc := DefaultScenario()
	sc.Sites = []string{"DC-BKK-01"}
	e, err := NewEnv(sc, txSeed)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func txRun(t *testing.T, e *Env, dir string, stages ...string) pipeline.Summary {
	t.Helper()
	st, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	js, err := Select(e, stages)
	if err != nil {
		t.Fatal(err)
	}
	r := &pipeline.Runner{Lake: lake.New(st), Workers: 4}
	sum, err := r.RunJobs(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// txRow is one row read back: column name -> decoded value (nil = NULL):
// uuid.UUID, float64 (decimals), time.Time, string, int, int64, bool.
type txRow map[string]any

func readParquetRows(t *testing.T, path string, tbl *schema.Table) []txRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cols := pf.Schema().Columns()
	var out []txRow
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				m := txRow{}
				for _, v := range row {
					name := cols[v.Column()][0]
					c := tbl.Column(name)
					if c == nil {
						t.Fatalf("%s: column %s not in registry table %s", path, name, tbl.Name)
					}
					m[name] = decodeValue(c, v)
				}
				out = append(out, m)
			}
			if err != nil {
				break
			}
		}
		rows.Close()
	}
	return out
}

func decodeValue(c *schema.Column, v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	switch c.Type.Kind {
	case schema.KindUUID:
		var id uuid.UUID
		copy(id[:], v.ByteArray())
		return id
	case schema.KindDecimal:
		var u int64
		if c.Type.Precision <= 9 {
			u = int64(v.Int32())
		} else {
			u = v.Int64()
		}
		return float64(u) / math.Pow(10, float64(c.Type.Scale))
	case schema.KindTimestamptz, schema.KindTimestamp:
		return time.UnixMicro(v.Int64()).UTC()
	case schema.KindDate:
		return time.Unix(int64(v.Int32())*86400, 0).UTC()
	case schema.KindInt:
		return int(v.Int32())
	case schema.KindBigInt:
		return v.Int64()
	case schema.KindBoolean:
		return v.Boolean()
	case schema.KindDouble:
		return v.Double()
	}
	return string(v.ByteArray())
}

// readTable reads every data file of a table (all partitions) in path order.
func readTable(t *testing.T, dir string, tbl *schema.Table) []txRow {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(dir, tbl.Dir()), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var out []txRow
	for _, f := range files {
		out = append(out, readParquetRows(t, f, tbl)...)
	}
	return out
}

func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "_staging") {
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

func txTime(r txRow, col string) time.Time {
	if v, ok := r[col].(time.Time); ok {
		return v
	}
	return time.Time{}
}

func txID(r txRow, col string) uuid.UUID {
	if v, ok := r[col].(uuid.UUID); ok {
		return v
	}
	return uuid.Nil
}

func txStr(r txRow, col string) string {
	s, _ := r[col].(string)
	return s
}

func txNum(r txRow, col string) float64 {
	f, _ := r[col].(float64)
	return f
}

func quarterStart(t time.Time) time.Time {
	return time.Date(t.Year(), time.Month((int(t.Month())-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC)
}

func TestTransactionsStage(t *testing.T) {
	e := txTestEnv(t)
	dir := filepath.Join(t.TempDir(), "lake")
	start := time.Now()
	sum := txRun(t, e, dir, "master", "transactions")
	t.Logf("master+transactions for %s (commissioned %s) in %v", e.Scenario.Sites[0], e.Fleet.Sites[0].CommissionedDate.Format(time.DateOnly), time.Since(start).Round(time.Millisecond))
	for _, ts := range sum.Tables {
		t.Logf("  %-26s partitions %4d rows %8d bytes %9d", ts.Table, ts.Partitions, ts.Rows, ts.Bytes)
	}
	end := e.Scenario.End.Time
	f := e.Fleet

	evT := schema.MustLookup("maintenance_event")
	ctT := schema.MustLookup("capacity_test_raw")
	imT := schema.MustLookup("impedance_measurement_raw")
	auT := schema.MustLookup("audit_log")
	cvT := schema.MustLookup("capacity_test_curve")
	events := readTable(t, dir, evT)
	tests := readTable(t, dir, ctT)
	imps := readTable(t, dir, imT)
	audit := readTable(t, dir, auT)
	t.Logf("rows: maintenance_event %d, capacity_test_raw %d, impedance_measurement_raw %d, audit_log %d", len(events), len(tests), len(imps), len(audit))
	if len(events) == 0 || len(tests) == 0 || len(imps) == 0 || len(audit) == 0 {
		t.Fatal("a transactional table is empty")
	}

	// Master rows as written (FK targets).
	keys := func(table, col string) map[uuid.UUID]bool {
		m := map[uuid.UUID]bool{}
		for _, r := range readTable(t, dir, schema.MustLookup(table)) {
			m[txID(r, col)] = true
		}
		return m
	}
	ids := map[string]map[uuid.UUID]bool{
		"location":          keys("location", "location_id"),
		"string":            keys("string", "string_id"),
		"battery":           keys("battery", "battery_id"),
		"user":              keys("user", "user_id"),
		"maintenance_event": {},
		"capacity_test_raw": {},
	}
	evByID := map[uuid.UUID]txRow{}
	for _, r := range events {
		ids["maintenance_event"][txID(r, "event_id")] = true
		evByID[txID(r, "event_id")] = r
	}
	for _, r := range tests {
		ids["capacity_test_raw"][txID(r, "test_id")] = true
	}

	t.Run("foreign keys resolve", func(t *testing.T) {
		check := func(tbl *schema.Table, rows []txRow) {
			for _, fk := range tbl.ForeignKeys() {
				bad := 0
				for _, r := range rows {
					if r[fk.Column] == nil {
						continue
					}
					if !ids[fk.Ref.Table][txID(r, fk.Column)] {
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%s.%s: %d values not found in %s", tbl.Name, fk.Column, bad, fk.Ref.Table)
				}
			}
		}
		check(evT, events)
		check(ctT, tests)
		check(imT, imps)
		check(auT, audit)
		// audit_log.entity_id has no declared FK: resolve it by entity_type.
		for _, r := range audit {
			et := txStr(r, "entity_type")
			if r["entity_id"] == nil {
				continue
			}
			if !ids[et][txID(r, "entity_id")] {
				t.Errorf("audit_log %s: entity %s %s does not exist", txStr(r, "action"), et, txID(r, "entity_id"))
			}
		}
		// Primary keys are unique.
		for name, rows := range map[string][]txRow{"event_id": events, "test_id": tests, "measurement_id": imps, "log_id": audit} {
			seen := map[uuid.UUID]bool{}
			for _, r := range rows {
				if seen[txID(r, name)] {
					t.Errorf("duplicate %s %s", name, txID(r, name))
				}
				seen[txID(r, name)] = true
			}
		}
	})

	t.Run("capacity tests agree with truth and the schedule", func(t *testing.T) {
		byID := map[uuid.UUID]txRow{}
		for _, r := range tests {
			byID[txID(r, "test_id")] = r
		}
		n, worst, sumSq := 0, 0.0, 0.0
		for _, s := range f.Strings {
			spec := f.ModelByID[s.ModelID].Spec
			for _, ct := range s.Tests {
				r, ok := byID[(&transactions{Env: e}).testID(s, ct)]
				if ct.Cancelled {
					if ok {
						t.Errorf("cancelled test %s/%d has a capacity_test_raw row", s.Code, ct.Seq)
					}
					continue
				}
				if !ok {
					t.Errorf("scheduled test %s/%d (%s) missing", s.Code, ct.Seq, ct.Start)
					continue
				}
				n++
				if !txTime(r, "test_date").Equal(ct.Start) || txID(r, "string_id") != s.ID {
					t.Errorf("test %s/%d: date %s string %s, schedule says %s", s.Code, ct.Seq, txTime(r, "test_date"), txID(r, "string_id"), ct.Start)
				}
				ev := evByID[txID(r, "maintenance_event_id")]
				if ev == nil || txStr(ev, "event_type") != "capacity_test" || txID(ev, "string_id") != s.ID || txStr(ev, "status") != "completed" {
					t.Errorf("test %s/%d: maintenance event %v is not this string's completed capacity_test", s.Code, ct.Seq, ev)
				}
				// Truth, recomputed independently: no jar delivers more than
				// its available charge at the test (true capacity ×
				// Peukert × temperature × the string's start SOC), and the
				// string stops at the first jar's cutoff, before it is empty.
				amb := txNum(r, "ambient_temp_c")
				best := math.Inf(1)
				for _, b := range f.StringJars(s.ID) {
					if !b.ActiveOn(ct.Start) {
						continue
					}
					best = math.Min(best, b.Life.EffectiveCapacityAh(spec, ct.Start, ct.CurrentA, amb)*ct.StartSOC)
				}
				if ct.TrueAh > best*1.005 || ct.TrueAh < 0.75*best {
					t.Errorf("test %s/%d: string delivered %.1f Ah, weakest jar holds %.1f Ah", s.Code, ct.Seq, ct.TrueAh, best)
				}
				// The instrument: measured Ah within the documented error
				// of the true Ah, and not better (checked over all tests).
				meas := txNum(r, "discharge_rate_a") * txNum(r, "discharge_duration_min") / 60
				rel := meas/ct.TrueAh - 1
				if math.Abs(rel) > 4*CapInstrumentErr+0.002 {
					t.Errorf("test %s/%d: measured %.1f Ah, truth %.1f Ah (%+.2f %%)", s.Code, ct.Seq, meas, ct.TrueAh, 100*rel)
				}
				worst = math.Max(worst, math.Abs(rel))
				sumSq += rel * rel
				if v := txNum(r, "cutoff_voltage_v"); v != round(CutoffV*float64(s.BatteriesCount), 2) {
					t.Errorf("test %s/%d: cutoff %.2f", s.Code, ct.Seq, v)
				}
				if txStr(r, "test_type") != "full_discharge" {
					t.Errorf("test type %q", txStr(r, "test_type"))
				}
				checkCurve(t, dir, r, cvT, s, ct, ids["battery"])
			}
		}
		if n != len(tests) {
			t.Errorf("%d capacity_test_raw rows, %d non-cancelled scheduled tests", len(tests), n)
		}
		rms := math.Sqrt(sumSq / float64(max(n, 1)))
		if n >= 20 && (rms < 0.5*CapInstrumentErr || rms > 1.6*CapInstrumentErr) {
			t.Errorf("measured capacity error %.2f %% rms over %d tests, documented %.2f %%: the instrument is too good or too bad", 100*rms, n, 100*CapInstrumentErr)
		}
		t.Logf("%d tests checked against truth: measured Ah error %.2f %% rms (documented %.2f %%), worst %.2f %%", n, 100*rms, 100*CapInstrumentErr, 100*worst)
	})

	t.Run("ohmic replacements follow the lake's readings", func(t *testing.T) {
		// Readings per impedance event, corrected to 25 °C.
		type rd struct {
			b     *fleet.Battery
			r     float64
			month string
		}
		byEvent := map[uuid.UUID][]rd{}
		for _, r := range imps {
			byEvent[txID(r, "maintenance_event_id")] = append(byEvent[txID(r, "maintenance_event_id")],
				rd{f.BatteryByID[txID(r, "battery_id")], txNum(r, "resistance_mohm") / physics.ResistanceTempFactor(txNum(r, "temperature_c")), lake.Month(txTime(r, "measured_at"))})
		}
		checked := 0
		for _, rs := range byEvent {
			vals := make([]float64, len(rs))
			for i, x := range rs {
				vals[i] = x.r
			}
			slices.Sort(vals)
			med := (vals[(len(vals)-1)/2] + vals[len(vals)/2]) / 2
			for _, x := range rs {
				b := x.b
				if b.RemovalReason != fleet.ReasonOhmic || lake.Month(b.FlaggedAt) != x.month {
					continue
				}
				checked++
				// The decision's threshold, within the rise of a jar
				// between the visit and the fleet's mid-month reading (a
				// few percent; a drying jar's resistance climbs faster).
				tol := 0.95
				if b.Life.Failure == physics.FailureDryOut {
					tol = 0.85
				}
				if x.r < tol*1.5*b.InitialResistanceMOhm && x.r < tol*1.35*med {
					t.Errorf("%s (%v) replaced for ohmic in %s: reading %.3f mΩ, baseline %.3f, string median %.3f", b.Code, b.Life.Failure, b.FlaggedAt.Format("2006-01"), x.r, b.InitialResistanceMOhm, med)
				}
			}
		}
		t.Logf("%d ohmic replacements checked against the lake's readings", checked)
	})

	t.Run("impedance readings agree with true resistance", func(t *testing.T) {
		worst := 0.0
		instr := map[string]int{}
		for _, r := range imps {
			b := f.BatteryByID[txID(r, "battery_id")]
			at := txTime(r, "measured_at")
			temp := txNum(r, "temperature_c")
			meas := txNum(r, "resistance_mohm")
			corrected := meas / physics.ResistanceTempFactor(temp)
			truth := b.Life.ResistanceMOhm(at)
			rel := corrected/truth - 1
			worst = math.Max(worst, math.Abs(rel))
			// 3σ of the 1 % instrument noise, plus the 0.001 mΩ resolution.
			if math.Abs(rel) > 3*impNoiseRel+0.0005/truth+1e-9 {
				t.Errorf("%s at %s: %.3f mΩ at %.1f °C → %.3f at 25 °C, truth %.3f (%+.2f %%)", b.Code, at, meas, temp, corrected, truth, 100*rel)
			}
			if g := txNum(r, "conductance_s"); math.Abs(g-1000/meas) > 1e-5 {
				t.Errorf("%s: conductance %.5f, 1000/R = %.5f", b.Code, g, 1000/meas)
			}
			if temp < 15 || temp > 40 {
				t.Errorf("%s: implausible jar temperature %.1f", b.Code, temp)
			}
			ev := evByID[txID(r, "maintenance_event_id")]
			if ev == nil || txStr(ev, "event_type") != "impedance_test" || txID(ev, "string_id") != b.StringID {
				t.Errorf("%s: reading references %v, not its string's impedance_test", b.Code, ev)
			}
			instr[txStr(r, "instrument_model")]++
		}
		t.Logf("%d readings, worst |corrected/true-1| = %.2f %% (3σ bound 3 %%), instruments %v", len(imps), 100*worst, instr)
	})

	t.Run("cadence", func(t *testing.T) {
		type key struct {
			s   uuid.UUID
			typ string
			m   string
		}
		byKey := map[key][]txRow{}
		for _, r := range events {
			k := key{txID(r, "string_id"), txStr(r, "event_type"), lake.Month(txTime(r, "scheduled_date"))}
			byKey[k] = append(byKey[k], r)
		}
		readings := map[uuid.UUID]map[uuid.UUID]txRow{} // event -> battery -> reading
		for _, r := range imps {
			ev := txID(r, "maintenance_event_id")
			if readings[ev] == nil {
				readings[ev] = map[uuid.UUID]txRow{}
			}
			readings[ev][txID(r, "battery_id")] = r
		}
		months, quarters, jarQuarters, skipped := 0, 0, 0, 0
		for _, s := range f.Strings {
			// Every full month of service has its monthly checks.
			for m := time.Date(s.InstalledDate.Year(), s.InstalledDate.Month()+1, 1, 0, 0, 0, 0, time.UTC); !m.AddDate(0, 1, 0).After(end); m = m.AddDate(0, 1, 0) {
				months++
				for _, typ := range []string{"visual_inspection", "voltage_measurement"} {
					if len(byKey[key{s.ID, typ, lake.Month(m)}]) != 1 {
						t.Errorf("%s %s: %d %s events", s.Code, lake.Month(m), len(byKey[key{s.ID, typ, lake.Month(m)}]), typ)
					}
				}
				if m.Month() == s.InstalledDate.Month() && len(byKey[key{s.ID, "torque_check", lake.Month(m)}]) != 1 {
					t.Errorf("%s %s: no annual torque_check", s.Code, lake.Month(m))
				}
			}
			// Every full quarter: one thermal survey and one impedance
			// test, and every jar in service all quarter has a reading
			// within two weeks of the schedule unless the test was
			// cancelled.
			for q := quarterStart(s.InstalledDate).AddDate(0, 3, 0); !q.AddDate(0, 3, 0).After(end); q = q.AddDate(0, 3, 0) {
				quarters++
				var imp []txRow
				thermal := 0
				for k := 0; k < 3; k++ {
					m := lake.Month(q.AddDate(0, k, 0))
					imp = append(imp, byKey[key{s.ID, "impedance_test", m}]...)
					thermal += len(byKey[key{s.ID, "thermal_survey", m}])
				}
				if len(imp) != 1 || thermal != 1 {
					t.Errorf("%s quarter %s: %d impedance tests, %d thermal surveys", s.Code, lake.Month(q), len(imp), thermal)
					continue
				}
				ev := imp[0]
				if txStr(ev, "status") == "cancelled" {
					skipped++
					continue
				}
				sched := txTime(ev, "scheduled_date")
				for _, b := range f.StringJars(s.ID) {
					if b.InstalledDate.After(q) || (!b.Removed.IsZero() && b.Removed.Before(q.AddDate(0, 3, 0))) {
						continue // not in service the whole quarter
					}
					jarQuarters++
					r := readings[txID(ev, "event_id")][b.ID]
					if r == nil {
						t.Errorf("%s quarter %s: no ohmic reading", b.Code, lake.Month(q))
						continue
					}
					if d := txTime(r, "measured_at").Sub(sched); d < 0 || d > 14*24*time.Hour {
						t.Errorf("%s quarter %s: measured %s, scheduled %s", b.Code, lake.Month(q), txTime(r, "measured_at"), sched)
					}
				}
			}
		}
		t.Logf("%d string-months with monthly checks, %d string-quarters (%d cancelled), %d jar-quarters with readings", months, quarters, skipped, jarQuarters)
	})

	t.Run("events respect battery lifetimes and replacements", func(t *testing.T) {
		repl := map[uuid.UUID]int{}
		for _, r := range events {
			sched := txTime(r, "scheduled_date")
			s := f.StringByID[txID(r, "string_id")]
			if s == nil || !sched.After(s.InstalledDate) {
				t.Errorf("event %s %s at %s before its string's install", txStr(r, "event_type"), txID(r, "event_id"), sched)
			}
			if r["battery_id"] != nil {
				b := f.BatteryByID[txID(r, "battery_id")]
				for _, ts := range []time.Time{sched, txTime(r, "completed_date")} {
					if ts.IsZero() {
						continue
					}
					if !b.ActiveOn(ts) {
						t.Errorf("%s event for %s at %s outside its service [%s, %s)", txStr(r, "event_type"), b.Code, ts, b.InstalledDate.Format(time.DateOnly), b.Removed.Format(time.DateOnly))
					}
				}
				switch txStr(r, "event_type") {
				case "replacement":
					repl[b.ID]++
					if b.ReplacementOf == nil {
						t.Errorf("replacement event for first-generation jar %s", b.Code)
						continue
					}
					old := f.BatteryByID[*b.ReplacementOf]
					// Replaced on evidence, not at the true end of life: the
					// work order is raised when something was observed, and
					// the subtype names it.
					if !old.Removed.Equal(b.InstalledDate) || old.RemovalReason == "" {
						t.Errorf("%s replaced %s on %s: removed %s, reason %q", b.Code, old.Code, b.InstalledDate, old.Removed, old.RemovalReason)
					}
					if c := txTime(r, "created_at"); c.Before(old.FlaggedAt.Add(-time.Second)) || c.After(sched) {
						t.Errorf("replacement of %s: work order created %s, evidence %s, swap %s", old.Code, c, old.FlaggedAt, sched)
					}
					if got, want := txStr(r, "event_subtype"), replacementSubtype(old.RemovalReason); got != want {
						t.Errorf("replacement of %s: subtype %q, evidence %q", old.Code, got, old.RemovalReason)
					}
					if !sameDay(sched, b.InstalledDate) {
						t.Errorf("replacement of %s scheduled %s, installed %s", b.Code, sched, b.InstalledDate)
					}
					if !strings.HasPrefix(txStr(r, "work_order_id"), "WO-") {
						t.Errorf("replacement without work order: %q", txStr(r, "work_order_id"))
					}
				case "corrective":
					if b.Life.FailureAt.IsZero() || sched.Before(b.Life.FailureAt) {
						t.Errorf("corrective for %s at %s before its failure %s", b.Code, sched, b.Life.FailureAt)
					}
				}
			}
		}
		for _, r := range imps {
			b := f.BatteryByID[txID(r, "battery_id")]
			if !b.ActiveOn(txTime(r, "measured_at")) {
				t.Errorf("reading of %s at %s outside its service", b.Code, txTime(r, "measured_at"))
			}
		}
		n := 0
		for _, b := range f.Batteries {
			if b.ReplacementOf != nil {
				n++
				if repl[b.ID] != 1 {
					t.Errorf("battery %s (replacing another) has %d replacement events", b.Code, repl[b.ID])
				}
			}
		}
		t.Logf("%d replacements, each with one event on the new jar's install day", n)
	})

	t.Run("statuses and timestamps", func(t *testing.T) {
		count := map[string]int{}
		late, scheduledAfterEnd := 0, 0
		for _, r := range events {
			st := txStr(r, "status")
			count[st]++
			sched, done := txTime(r, "scheduled_date"), txTime(r, "completed_date")
			created, updated := txTime(r, "created_at"), txTime(r, "updated_at")
			if created.IsZero() || updated.Before(created) || !created.Before(end) || created.After(sched) {
				t.Errorf("event %s: created %s updated %s scheduled %s", txID(r, "event_id"), created, updated, sched)
			}
			if r["photo_urls"] != nil || r["ir_scan_url"] != nil {
				t.Errorf("event %s references images", txID(r, "event_id"))
			}
			switch st {
			case "completed":
				if done.IsZero() || done.Before(sched) || !done.Before(end) || txStr(r, "notes") == "" {
					t.Errorf("completed event %s: scheduled %s completed %s notes %q", txID(r, "event_id"), sched, done, txStr(r, "notes"))
				}
				if done.Sub(sched) > 24*time.Hour {
					late++
				}
			case "cancelled":
				if !done.IsZero() {
					t.Errorf("cancelled event %s has completed_date %s", txID(r, "event_id"), done)
				}
			case "scheduled", "in_progress":
				if !done.IsZero() {
					t.Errorf("%s event %s has completed_date", st, txID(r, "event_id"))
				}
				if st == "in_progress" && (sched.After(end) || end.Sub(sched) > 15*24*time.Hour) {
					t.Errorf("in_progress event %s scheduled %s", txID(r, "event_id"), sched)
				}
				if !sched.Before(end) {
					scheduledAfterEnd++
				}
			}
		}
		share := float64(count["cancelled"]) / float64(len(events))
		if share < 0.01 || share > 0.05 {
			t.Errorf("cancelled share %.2f %%", 100*share)
		}
		if late == 0 || count["completed"] < len(events)*9/10 {
			t.Errorf("statuses %v, late %d", count, late)
		}
		if scheduledAfterEnd == 0 {
			t.Errorf("no upcoming work orders after the scenario end")
		}
		byType := map[string]int{}
		for _, r := range events {
			byType[txStr(r, "event_type")]++
		}
		t.Logf("statuses %v (cancelled %.1f %%, %d completed late, %d scheduled after the end); types %v", count, 100*share, late, scheduledAfterEnd, byType)
	})

	t.Run("audit log", func(t *testing.T) {
		actions := map[string]int{}
		for _, r := range audit {
			actions[txStr(r, "action")]++
			ts := txTime(r, "ts")
			if !ts.Before(end) {
				t.Errorf("audit entry at %s after the end", ts)
			}
			if u := f.UserByID[txID(r, "user_id")]; r["user_id"] != nil && (u == nil || u.CreatedAt.After(ts)) {
				t.Errorf("audit entry at %s by a user without an account then", ts)
			}
			ip := txStr(r, "ip_address")
			if !strings.HasPrefix(ip, "10.") && !strings.HasPrefix(ip, "192.168.") {
				t.Errorf("ip %q is not private", ip)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(txStr(r, "details_json")), &m); err != nil {
				t.Errorf("details_json %q: %v", txStr(r, "details_json"), err)
			}
		}
		for _, a := range []string{"login", "logout", "alert_acknowledge", "config_change", "work_order_update", "report_export", "maintenance_update"} {
			if actions[a] == 0 {
				t.Errorf("no %s entries", a)
			}
		}
		days := end.Sub(f.Sites[0].CommissionedDate).Hours() / 24
		t.Logf("%d entries over %.0f days (%.1f per site-day): %v", len(audit), days, float64(len(audit))/days, actions)
	})

	t.Run("rows sorted as the registry says", func(t *testing.T) {
		for _, tbl := range []*schema.Table{evT, ctT, imT, auT} {
			filepath.WalkDir(filepath.Join(dir, tbl.Dir()), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
					return err
				}
				rows := readParquetRows(t, p, tbl)
				for i := 1; i < len(rows); i++ {
					if compareRows(rows[i-1], rows[i], tbl.SortBy) > 0 {
						t.Errorf("%s: rows %d and %d out of order", p, i-1, i)
						break
					}
				}
				for _, r := range rows {
					if m := lake.Month(txTime(r, tbl.Partition.MonthOf)); !strings.Contains(p, "month="+m) {
						t.Errorf("%s holds a row of month %s", p, m)
						break
					}
				}
				return nil
			})
		}
	})

	// Re-running reproduces every file byte for byte: the second run writes
	// to the same path after the first lake was moved aside, with the Env
	// rebuilt from scratch.
	t.Run("rerun is byte-identical", func(t *testing.T) {
		first := treeHashes(t, dir)
		moved := dir + ".first"
		if err := os.Rename(dir, moved); err != nil {
			t.Fatal(err)
		}
		e2 := txTestEnv(t)
		txRun(t, e2, dir, "master", "transactions")
		second := treeHashes(t, dir)
		if len(first) != len(second) || len(first) < 100 {
			t.Fatalf("file sets differ: %d vs %d", len(first), len(second))
		}
		for k, v := range first {
			if second[k] != v {
				t.Errorf("%s differs between runs", k)
			}
		}
		// Re-running one month alone (its partitions deleted) rewrites
		// the same bytes.
		month := lake.Month(tests[len(tests)/2]["test_date"].(time.Time))
		for _, tbl := range []*schema.Table{evT, ctT, imT, auT} {
			os.RemoveAll(filepath.Join(dir, tbl.Dir(), "month="+month))
		}
		os.RemoveAll(filepath.Join(dir, lake.BlobArea, ctT.Name, "month="+month))
		sum := txRun(t, txTestEnv(t), dir, "transactions")
		if tot := sum.Totals(); tot.Partitions != 4 {
			t.Errorf("re-run of month %s wrote %d partitions, want 4", month, tot.Partitions)
		}
		third := treeHashes(t, dir)
		checked := 0
		for k, v := range first {
			if strings.Contains(k, "month="+month) {
				checked++
				if third[k] != v {
					t.Errorf("%s differs after re-running month %s", k, month)
				}
			}
		}
		t.Logf("%d files identical across two runs; %d files of month %s identical after re-running it alone", len(first), checked, month)
	})
}

func compareRows(a, b txRow, cols []string) int {
	for _, c := range cols {
		x, y := a[c], b[c]
		var d int
		switch xv := x.(type) {
		case time.Time:
			d = xv.Compare(y.(time.Time))
		case uuid.UUID:
			yv := y.(uuid.UUID)
			d = strings.Compare(string(xv[:]), string(yv[:]))
		case string:
			d = strings.Compare(xv, y.(string))
		default:
			panic(fmt.Sprintf("compare %T", x))
		}
		if d != 0 {
			return d
		}
	}
	return 0
}

// checkCurve reads a test's capacity_test_curve blob: every jar of the
// string from 0 s to the test duration, the weakest jar ending at the
// 10.5 V cutoff and every other jar above it.
func checkCurve(t *testing.T, lakeDir string, r txRow, cvT *schema.Table, s *fleet.String, ct CapacityTest, batteries map[uuid.UUID]bool) {
	t.Helper()
	// URL columns hold lake-relative keys (see lake.Output.BlobKey).
	url := txStr(r, "raw_data_url")
	if !strings.HasPrefix(url, "_blobs/capacity_test_raw/month=") || strings.Contains(url, "://") {
		t.Errorf("raw_data_url %q is not a lake-relative blob key", url)
		return
	}
	path := filepath.Join(lakeDir, filepath.FromSlash(url))
	rows := readParquetRows(t, path, cvT)
	last := map[uuid.UUID]txRow{}
	for _, x := range rows {
		if txID(x, "test_id") != txID(r, "test_id") || !batteries[txID(x, "battery_id")] {
			t.Errorf("curve %s: row of test %s battery %s", path, txID(x, "test_id"), txID(x, "battery_id"))
			return
		}
		if p, ok := last[txID(x, "battery_id")]; !ok || x["elapsed_s"].(int) > p["elapsed_s"].(int) {
			last[txID(x, "battery_id")] = x
		}
	}
	if len(last) != s.BatteriesCount {
		t.Errorf("curve %s: %d jars", path, len(last))
	}
	total := int(ct.Duration / time.Second)
	weak := last[ct.Weakest.ID]
	if weak == nil {
		t.Errorf("curve %s: weakest jar %s missing", path, ct.Weakest.Code)
		return
	}
	// The logger's channels: ±5 mV offset and 5 mV noise (1 σ).
	if v := txNum(weak, "voltage_v"); math.Abs(v-CutoffV) > 0.03 {
		t.Errorf("test %s/%d: weakest jar ends at %.3f V, want ~%.1f V", s.Code, ct.Seq, v, CutoffV)
	}
	// Shape: the immediate I·R drop at the start (the first point sits
	// below the jar's open-circuit voltage by at least most of I·R0 of its
	// commissioning resistance) and the steep knee at the end (the weakest
	// jar falls at least three times faster over the last 5 % of the run
	// than over the 50 % before).
	series := map[int]float64{}
	for _, x := range rows {
		if txID(x, "battery_id") == ct.Weakest.ID {
			series[x["elapsed_s"].(int)] = txNum(x, "voltage_v")
		}
	}
	at := func(frac float64) float64 { // the point nearest a fraction of the run
		best, bd := 0.0, math.Inf(1)
		for el, v := range series {
			if d := math.Abs(float64(el) - frac*float64(total)); d < bd {
				best, bd = v, d
			}
		}
		return best
	}
	irDrop := ct.CurrentA * ct.Weakest.InitialResistanceMOhm / 1000
	if v0 := series[0]; v0 > physics.OCV(ct.StartSOC, ct.AmbientC)-0.6*irDrop {
		t.Errorf("test %s/%d: first point %.3f V, open circuit %.3f V, I·R0 %.3f V: no I·R drop", s.Code, ct.Seq, v0, physics.OCV(ct.StartSOC, ct.AmbientC), irDrop)
	}
	if total > 1800 {
		if mid, knee := (at(0.45)-at(0.95))/0.5, (at(0.95)-series[total])/0.05; knee < 3*mid {
			t.Errorf("test %s/%d: falls %.3f V per run in the last 5 %%, %.3f V per run before: no end knee", s.Code, ct.Seq, knee, mid)
		}
	}
	for bid, x := range last {
		if x["elapsed_s"].(int) != total {
			t.Errorf("test %s/%d: curve of %s ends at %d s, test lasted %d s", s.Code, ct.Seq, bid, x["elapsed_s"], total)
		}
		if bid != ct.Weakest.ID && txNum(x, "voltage_v") < CutoffV-0.03 {
			t.Errorf("test %s/%d: jar %s ends at %.3f V, below cutoff", s.Code, ct.Seq, bid, txNum(x, "voltage_v"))
		}
	}
}

// The fleet simulates capacity tests with the streams the telemetry uses
// (room model, string operation, jar simulation): its label seeds must be
// the jobs' own.
func TestFleetLabelSeedsMatchEnv(t *testing.T) {
	e := &Env{RootSeed: 42}
	for _, l := range [][]string{{"site", "DC-BKK-01"}, {"string", "DC-BKK-UPS-07-S1"}, {"jar", "DC-BKK-UPS-07-S1-J3-R1"}} {
		if a, b := e.Seed(l...), fleet.LabelSeed(42, l...); a != b {
			t.Errorf("seed %v: Env %x, fleet %x", l, a, b)
		}
	}
}
