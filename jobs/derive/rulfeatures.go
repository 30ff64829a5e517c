package derive

import (
	"context"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/battlake/battlake/jobs/calc"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Point-in-time RUL features: what an operator's lake knows about a jar at
// the end of an as-of day, from raw and calculated data only. The labelled
// training set (package rul, which joins the hidden truth's labels) and the
// predictions (stage rul, here) compute them with this one function, so a
// model sees the same features in training and in production.
//
// Every feature is known by the end of its as-of day: capacity tests count
// once they ended, readings once taken, feature-store and twin rows are the
// day's own. Features absent on a day (no test yet, no telemetry before
// the historian's start) are NaN, and the models treat them as missing.

// RULFeatureNames are the feature columns, in matrix order. They are
// DOUBLE in rul_training_set: pandas turns DECIMAL into Python objects.
var RULFeatureNames = append([]string{
	"age_days", "rated_capacity_ah", "expected_life_years", "position_in_string",
	// capacity tests: per-jar estimates from the discharge curves
	"captest_count", "captest_last_pct", "captest_days_since", "captest_slope_pct_per_year",
	"captest_days_to_80", "captest_string_pct", "captest_ambient_mean_c", "captest_rank_in_string",
	// ohmic readings (temperature-corrected, impedance calc)
	"ohmic_count", "ohmic_last_mohm", "ohmic_baseline_pct", "ohmic_slope_pct_per_year", "ohmic_peer_ratio", "ohmic_days_since",
	// feature store, 168 h window ending with the day
	"fs_v_mean", "fs_v_std", "fs_v_balance_mean", "fs_t_mean", "fs_t_delta_ambient", "fs_r_baseline_pct",
	"fs_discharge_cycles", "fs_ah_throughput", "fs_time_above_float_min", "fs_time_below_float_min", "fs_ripple_rms", "fs_thd",
	// digital twin, the day's state
	"twin_r0_mohm", "twin_soh_pct", "twin_capacity_fade_pct", "twin_power_fade_pct",
	// telemetry resistance trend over weeks to a year (rultrend.go)
}, trendNames()...)

// RULFeatureIndex maps a feature name to its column.
func RULFeatureIndex(name string) int {
	for i, n := range RULFeatureNames {
		if n == name {
			return i
		}
	}
	return -1
}

// RULRow identifies one row of a feature frame.
type RULRow struct {
	AsOf                             time.Time // the day (00:00 UTC); features as of its end
	Battery, String, Location, Model uuid.UUID
}

// RULFrame is a row-major feature matrix (NaN = missing).
type RULFrame struct {
	Rows []RULRow
	X    []float64 // len(Rows) × len(RULFeatureNames)
}

// Row returns row i's features.
func (f *RULFrame) Row(i int) []float64 {
	n := len(RULFeatureNames)
	return f.X[i*n : (i+1)*n]
}

// RULSources are the inputs of the features, loaded once.
type RULSources struct {
	l        *lake.Lake
	in       *calcInputs
	Master   *Master
	replaced map[uuid.UUID]time.Time // battery → replaced_date (master data)
	jarTests map[uuid.UUID][]jarTest // battery → tests in time order
	strTests map[uuid.UUID][]calc.CapacityTestCalc
	ambient  map[uuid.UUID][]float64 // string → ambient of each test, in strTests order
	ohmic    map[uuid.UUID][]calc.ImpedanceCalcRow
	fs, twin *Index
	dailyR   map[uuid.UUID]*dailyR // battery → daily telemetry resistance
	// Horizon is the last day with jar telemetry: the data horizon.
	Horizon   time.Time
	Telemetry time.Time // first day with jar telemetry
	Lineage   []lake.Input
}

// jarTest is one jar's estimated capacity in one string test.
type jarTest struct {
	knownAt    int64   // µs: the test's end
	pct        float64 // estimated % of rated capacity
	stringPct  float64
	rank       float64 // 0 = weakest jar of the string in this test, 1 = strongest
	ambientDeg float64
}

// cutoffPerJarV is the per-jar end-of-discharge voltage (1.75 V/cell).
const cutoffPerJarV = 10.5

// LoadRULSources reads master data, capacity tests with their discharge
// curves, ohmic readings and the indexes of feature_store and
// digital_twin_state. It returns nil when the lake has no jar telemetry.
func LoadRULSources(ctx context.Context, l *lake.Lake) (*RULSources, error) {
	jar, err := Load(ctx, l, schema.MustLookup("telemetry_jar_raw"))
	if err != nil {
		return nil, err
	}
	days := jar.Days()
	if len(days) == 0 {
		return nil, nil
	}
	in := &calcInputs{l: l}
	if err := in.load(ctx); err != nil {
		return nil, err
	}
	s := &RULSources{l: l, in: in, Master: in.master, Telemetry: days[0], Horizon: days[len(days)-1],
		jarTests: map[uuid.UUID][]jarTest{}, strTests: map[uuid.UUID][]calc.CapacityTestCalc{},
		ambient: map[uuid.UUID][]float64{}, ohmic: map[uuid.UUID][]calc.ImpedanceCalcRow{}}
	if s.replaced, err = loadReplaced(ctx, l); err != nil {
		return nil, err
	}
	for _, r := range in.imp {
		if r.CorrectedMicroOhm != calc.Null32 {
			s.ohmic[r.BatteryID] = append(s.ohmic[r.BatteryID], r)
		}
	}
	if err := s.loadJarTests(ctx); err != nil {
		return nil, err
	}
	if s.fs, err = Load(ctx, l, schema.MustLookup("feature_store")); err != nil {
		return nil, err
	}
	if s.twin, err = Load(ctx, l, schema.MustLookup("digital_twin_state")); err != nil {
		return nil, err
	}
	if err := s.loadDailyR(ctx); err != nil {
		return nil, err
	}
	s.Lineage = append(Inputs(in.testFiles), Inputs(in.impFiles)...)
	s.Lineage = append(s.Lineage, in.master.DayInput(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), nil))
	// Replacement dates decide which jars are in service on each as-of
	// day: a digest of them, not of the battery file (its daily as-of
	// rewrite changes status columns the features do not read).
	var repl []any
	for _, b := range s.Master.Batteries {
		if r, ok := s.replaced[b.ID]; ok {
			repl = append(repl, b.ID, r)
		}
	}
	s.Lineage = append(s.Lineage, lake.Input{Table: "master", Segment: "replaced_date", SHA256: Digest(repl...)},
		lake.Input{Table: "telemetry_days", Segment: "span", SHA256: Digest(days[0], days[len(days)-1])})
	return s, nil
}

// DayLineage is what the features of day d read from the feature store and
// the twin (their segments overlapping the day), and one digest of the
// feature store's segments of the trend windows before it (a year of day
// segments listed one by one would swell every manifest).
func (s *RULSources) DayLineage(d time.Time) []lake.Input {
	end := d.AddDate(0, 0, 1).Add(time.Microsecond)
	out := append(Inputs(s.fs.Overlapping(d, end)), Inputs(s.twin.Overlapping(d, end))...)
	var long []any
	for _, in := range Inputs(s.fs.Overlapping(d.AddDate(0, 0, -slices.Max(ResistanceTrendWindows)), d)) {
		long = append(long, in.String())
	}
	return append(out, lake.Input{Table: "feature_store", Partition: lake.AllPartitions, Segment: "trend_windows_" + d.Format(time.DateOnly), SHA256: Digest(long...)})
}

func loadReplaced(ctx context.Context, l *lake.Lake) (map[uuid.UUID]time.Time, error) {
	out := map[uuid.UUID]time.Time{}
	err := eachMasterSlice(ctx, l, "battery", []string{"battery_id", "replaced_date"}, func(b *parquetio.SliceBatch) error {
		for i := 0; i < b.Rows; i++ {
			if t := date(&b.Cols[1], i); !t.IsZero() {
				out[b.Cols[0].UUID[i]] = t
			}
		}
		return nil
	})
	return out, err
}

// Active reports whether b is in service at the end of day d.
func (s *RULSources) Active(b *Battery, d time.Time) bool {
	if b.Installed.IsZero() || b.Installed.After(d) {
		return false
	}
	r, ok := s.replaced[b.ID]
	return !ok || r.After(d)
}

// loadJarTests turns each string capacity test into per-jar estimates from
// its discharge curves: the test ends when the string reaches its cutoff,
// so the weakest jar is near 10.5 V and the others end above it. A jar's
// time to 10.5 V is where its curve crosses it, or beyond the end, by the
// slope of its last tenth (the knee makes this an underestimate for strong
// jars: conservative). Its capacity is the string's measured % scaled by
// that time over the test's duration.
func (s *RULSources) loadJarTests(ctx context.Context) error {
	byID := map[uuid.UUID]calc.CapacityTestCalc{}
	for _, t := range s.in.tests {
		if t.PctCenti == calc.Null32 {
			continue
		}
		byID[t.TestID] = t
	}
	ambient := s.in.ambient // read with the tests, once
	curve := schema.MustLookup("capacity_test_curve")
	parts, err := s.l.Partitions(ctx, schema.MustLookup("capacity_test_raw"))
	if err != nil {
		return err
	}
	manifests := map[string]lake.Committed{}
	for _, c := range parts {
		manifests[c.Partition.HivePath()] = c
	}
	type acc struct {
		v, t   []float64
		crossT float64
		id     uuid.UUID
	}
	for _, f := range s.in.testFiles {
		c, ok := manifests[f.Partition.HivePath()]
		if !ok {
			return fmt.Errorf("partition %s of capacity_test_raw: no manifest: %w", f.Partition.HivePath(), ErrInputChanged)
		}
		for _, fe := range c.Manifest.Files {
			if fe.Role != "blob" {
				continue
			}
			id, err := uuid.Parse(strings.TrimSuffix(path.Base(fe.Key), ".parquet"))
			if err != nil {
				return fmt.Errorf("capacity curve %s: name is not a test id: %w", fe.Key, err)
			}
			test, ok := byID[id]
			if !ok {
				continue
			}
			jars := map[uuid.UUID]*acc{}
			var order []uuid.UUID
			sf := lake.SegmentFile{Partition: f.Partition, Segment: f.Segment, Data: fe}
			sf.Partition.Table = curve
			if err := EachSlice(ctx, s.l, sf, parquetio.ReadOptions{Columns: []string{"battery_id", "elapsed_s", "voltage_v"}}, func(b *parquetio.SliceBatch) error {
				for i := 0; i < b.Rows; i++ {
					if b.Cols[2].Valid != nil && !b.Cols[2].Valid[i] {
						continue
					}
					bid := uuid.UUID(b.Cols[0].UUID[i])
					a := jars[bid]
					if a == nil {
						a = &acc{crossT: math.NaN(), id: bid}
						jars[bid] = a
						order = append(order, bid)
					}
					v := float64(b.Cols[2].Int32[i]) / 1000
					t := float64(b.Cols[1].Int32[i])
					if math.IsNaN(a.crossT) && v <= cutoffPerJarV && t > 0 {
						a.crossT = t
					}
					a.v = append(a.v, v)
					a.t = append(a.t, t)
				}
				return nil
			}); err != nil {
				return err
			}
			est := make([]float64, len(order))
			var tEnd float64
			for _, bid := range order {
				a := jars[bid]
				tEnd = math.Max(tEnd, a.t[len(a.t)-1])
			}
			if tEnd <= 0 {
				continue
			}
			for k, bid := range order {
				a := jars[bid]
				tj := a.crossT
				if math.IsNaN(tj) {
					n := len(a.v)
					j0 := n - max(2, n/10)
					slope := (a.v[j0] - a.v[n-1]) / math.Max(a.t[n-1]-a.t[j0], 1) // V/s, falling
					tj = tEnd * 3
					if slope > 1e-7 {
						tj = math.Min(tj, a.t[n-1]+(a.v[n-1]-cutoffPerJarV)/slope)
					}
				}
				est[k] = test.Pct * tj / tEnd
			}
			ranks := rankOf(est)
			for k, bid := range order {
				s.jarTests[bid] = append(s.jarTests[bid], jarTest{knownAt: test.KnownAt, pct: est[k], stringPct: test.Pct, rank: ranks[k], ambientDeg: ambient[id]})
			}
			s.strTests[test.StringID] = append(s.strTests[test.StringID], test)
			s.ambient[test.StringID] = append(s.ambient[test.StringID], ambient[id])
		}
	}
	for _, ts := range s.jarTests {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].knownAt < ts[j].knownAt })
	}
	return nil
}

// rankOf maps values to [0, 1] by rank (0 = smallest); ties by order.
func rankOf(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	out := make([]float64, len(x))
	for r, i := range idx {
		if len(x) > 1 {
			out[i] = float64(r) / float64(len(x)-1)
		}
	}
	return out
}

// MonthEnds lists the last day of every month from from to the horizon,
// and the horizon itself; before dense, only quarter ends.
func (s *RULSources) MonthEnds(from, dense time.Time) []time.Time {
	var out []time.Time
	m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	for {
		end := m.AddDate(0, 1, -1)
		if end.After(s.Horizon) {
			break
		}
		if !end.Before(dense) || end.Month()%3 == 0 {
			out = append(out, end)
		}
		m = m.AddDate(0, 1, 0)
	}
	if len(out) == 0 || !out[len(out)-1].Equal(s.Horizon) {
		out = append(out, s.Horizon)
	}
	return out
}

// FirstInstall is the earliest installation date in the master data.
func (s *RULSources) FirstInstall() time.Time {
	var first time.Time
	for _, b := range s.Master.Batteries {
		if !b.Installed.IsZero() && (first.IsZero() || b.Installed.Before(first)) {
			first = b.Installed
		}
	}
	return first
}

// Frame computes the features of every battery active at the end of each
// of days (sorted ascending).
func (s *RULSources) Frame(ctx context.Context, days []time.Time, keep func(*Battery) bool) (*RULFrame, error) {
	nf := len(RULFeatureNames)
	f := &RULFrame{}
	for _, d := range days {
		fs, err := s.dayStore(ctx, d)
		if err != nil {
			return nil, err
		}
		tw, err := s.dayTwin(ctx, d)
		if err != nil {
			return nil, err
		}
		dayEnd := d.AddDate(0, 0, 1)
		known := dayEnd.UnixMicro()
		// Ohmic peers: the median of the string's latest corrected
		// readings known by the day.
		latest := map[uuid.UUID]float64{}
		peers := map[uuid.UUID][]float64{}
		for i := range s.Master.Batteries {
			b := &s.Master.Batteries[i]
			if !s.Active(b, d) {
				continue
			}
			rs := s.ohmic[b.ID]
			k := sort.Search(len(rs), func(j int) bool { return rs[j].MeasuredAt >= known })
			if k > 0 {
				latest[b.ID] = rs[k-1].CorrectedMOhm
				peers[b.StringID] = append(peers[b.StringID], rs[k-1].CorrectedMOhm)
			}
		}
		med := map[uuid.UUID]float64{}
		for sid, v := range peers {
			med[sid] = median(v)
		}
		for i := range s.Master.Batteries {
			b := &s.Master.Batteries[i]
			if !s.Active(b, d) || (keep != nil && !keep(b)) {
				continue
			}
			md := s.Master.Models[b.ModelID]
			str := s.Master.Strings[b.StringID]
			var loc uuid.UUID
			if str != nil {
				if sys := s.Master.Systems[str.SystemID]; sys != nil {
					loc = sys.LocationID
				}
			}
			f.Rows = append(f.Rows, RULRow{AsOf: d, Battery: b.ID, String: b.StringID, Location: loc, Model: b.ModelID})
			row := make([]float64, nf)
			for j := range row {
				row[j] = math.NaN()
			}
			set := func(name string, v float64) { row[RULFeatureIndex(name)] = v }
			set("age_days", dayEnd.Sub(b.Installed).Hours()/24)
			set("position_in_string", float64(b.Position))
			if md != nil {
				set("rated_capacity_ah", md.CapacityAh)
				set("expected_life_years", md.ExpectedLifeYears)
			}
			s.testFeatures(b, known, d, set)
			s.ohmicFeatures(b, known, d, latest, med, set)
			if v, ok := fs[b.ID]; ok {
				for j, name := range fsNames {
					set(name, v[j])
				}
			}
			if v, ok := tw[b.ID]; ok {
				for j, name := range twinNames {
					set(name, v[j])
				}
			}
			trendFeatures(s.dailyR[b.ID], unixDay(d), set)
			f.X = append(f.X, row...)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (s *RULSources) testFeatures(b *Battery, known int64, d time.Time, set func(string, float64)) {
	ts := s.jarTests[b.ID]
	k := sort.Search(len(ts), func(j int) bool { return ts[j].knownAt >= known })
	ts = ts[:k]
	// Tests before this jar's installation belong to its predecessor.
	inst := b.Installed.UnixMicro()
	for len(ts) > 0 && ts[0].knownAt < inst {
		ts = ts[1:]
	}
	set("captest_count", float64(len(ts)))
	if len(ts) == 0 {
		return
	}
	last := ts[len(ts)-1]
	set("captest_last_pct", last.pct)
	set("captest_string_pct", last.stringPct)
	set("captest_rank_in_string", last.rank)
	set("captest_days_since", float64(known-last.knownAt)/86400e6)
	var amb float64
	for _, t := range ts {
		amb += t.ambientDeg
	}
	set("captest_ambient_mean_c", amb/float64(len(ts)))
	// The jar starts at 100 % of its acceptance capacity: its first point.
	xs := []float64{float64(inst) / 86400e6 / 365.25}
	ys := []float64{math.Max(100, ts[0].pct)}
	for _, t := range ts {
		xs = append(xs, float64(t.knownAt)/86400e6/365.25)
		ys = append(ys, t.pct)
	}
	slope, icpt := ols(xs, ys)
	set("captest_slope_pct_per_year", slope)
	now := float64(known) / 86400e6 / 365.25
	set("captest_days_to_80", DaysTo80(slope, icpt, now, last.pct))
}

// DaysTo80 extrapolates a fitted capacity line (% per year) to 80 %: 0 once
// below, NaN when the fit does not fall.
func DaysTo80(slope, icpt, nowYears, lastPct float64) float64 {
	if lastPct < 80 {
		return 0
	}
	if !(slope < -1e-6) {
		return math.NaN()
	}
	tEnd := (80 - icpt) / slope
	return math.Max(0, (tEnd-nowYears)*365.25)
}

func (s *RULSources) ohmicFeatures(b *Battery, known int64, d time.Time, latest, med map[uuid.UUID]float64, set func(string, float64)) {
	rs := s.ohmic[b.ID]
	k := sort.Search(len(rs), func(j int) bool { return rs[j].MeasuredAt >= known })
	rs = rs[:k]
	set("ohmic_count", float64(len(rs)))
	if len(rs) == 0 {
		return
	}
	last := rs[len(rs)-1]
	set("ohmic_last_mohm", last.CorrectedMOhm)
	if last.BaselineCentiPct != calc.Null32 {
		set("ohmic_baseline_pct", float64(last.BaselineCentiPct)/100)
	}
	set("ohmic_days_since", float64(known-last.MeasuredAt)/86400e6)
	if m := med[b.StringID]; m > 0 {
		set("ohmic_peer_ratio", latest[b.ID]/m)
	}
	// Trend over the last two years of readings, in % of the first.
	from := known - int64(2*365.25*86400e6)
	var xs, ys []float64
	for _, r := range rs {
		if r.MeasuredAt >= from {
			xs = append(xs, float64(r.MeasuredAt)/86400e6/365.25)
			ys = append(ys, r.CorrectedMOhm)
		}
	}
	if len(xs) >= 2 && ys[0] > 0 {
		slope, _ := ols(xs, ys)
		set("ohmic_slope_pct_per_year", slope/ys[0]*100)
	}
}

var fsNames = []string{"fs_v_mean", "fs_v_std", "fs_v_balance_mean", "fs_t_mean", "fs_t_delta_ambient", "fs_r_baseline_pct",
	"fs_discharge_cycles", "fs_ah_throughput", "fs_time_above_float_min", "fs_time_below_float_min", "fs_ripple_rms", "fs_thd"}

var fsColumns = []string{"v_mean", "v_std", "v_balance_mean", "t_mean", "t_delta_ambient_mean", "r_internal_baseline_pct",
	"discharge_cycles_count", "ah_throughput", "time_above_float_min", "time_below_float_min", "ripple_rms_mean", "thd_mean"}

var twinNames = []string{"twin_r0_mohm", "twin_soh_pct", "twin_capacity_fade_pct", "twin_power_fade_pct"}
var twinColumns = []string{"r0_mohm", "soh_pct", "capacity_fade_pct", "power_fade_pct"}

// dayStore reads the latest 168 h feature row of day d per battery.
func (s *RULSources) dayStore(ctx context.Context, d time.Time) (map[uuid.UUID][]float64, error) {
	return s.latestRows(ctx, s.fs, d, "feature_ts", fsColumns, &intEq{"feature_window_hours", 168})
}

// dayTwin reads the twin's latest state of day d per battery.
func (s *RULSources) dayTwin(ctx context.Context, d time.Time) (map[uuid.UUID][]float64, error) {
	return s.latestRows(ctx, s.twin, d, "captured_at", twinColumns, nil)
}

// intEq keeps the rows whose INT column equals a value.
type intEq struct {
	col string
	val int32
}

// latestRows reads, per battery, cols of its latest row with tsCol in
// [d, d+1 day] (and where, if set), as floats.
func (s *RULSources) latestRows(ctx context.Context, ix *Index, d time.Time, tsCol string, cols []string, where *intEq) (map[uuid.UUID][]float64, error) {
	out := map[uuid.UUID][]float64{}
	if ix == nil || len(ix.Parts) == 0 {
		return out, nil
	}
	from, to := d, d.AddDate(0, 0, 1)
	lo, hi := from.UnixMicro(), to.UnixMicro()
	at := map[uuid.UUID]int64{}
	// Projection order fixes each column's place in a batch.
	read := []string{"battery_id", tsCol}
	if where != nil {
		read = append(read, where.col)
	}
	first := len(read)
	read = append(read, cols...)
	scales := make([]int, len(cols))
	for j, c := range cols {
		col := ix.Table.Column(c)
		if col == nil {
			return nil, fmt.Errorf("%s: no column %s", ix.Table.Name, c)
		}
		scales[j] = col.Type.Scale
	}
	for _, f := range ix.Overlapping(from, to.Add(time.Microsecond)) {
		err := EachSlice(ctx, s.l, f, parquetio.ReadOptions{Columns: read, From: from, To: to.Add(time.Microsecond)}, func(b *parquetio.SliceBatch) error {
			ids, ts := &b.Cols[0], &b.Cols[1]
			for i := 0; i < b.Rows; i++ {
				t := ts.Int64[i]
				if t < lo || t > hi || (where != nil && b.Cols[2].Int32[i] != where.val) {
					continue
				}
				id := uuid.UUID(ids.UUID[i])
				if prev, ok := at[id]; ok && prev > t {
					continue
				}
				at[id] = t
				v := make([]float64, len(cols))
				for j := range cols {
					v[j] = numeric(&b.Cols[first+j], i, scales[j])
				}
				out[id] = v
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// numeric reads a decimal or integer slice value as a float (NaN if NULL).
func numeric(c *parquetio.ColumnSlice, i, scale int) float64 {
	if c.Valid != nil && !c.Valid[i] {
		return math.NaN()
	}
	switch {
	case c.Int32 != nil:
		return float64(c.Int32[i]) / math.Pow10(scale)
	case c.Int64 != nil:
		return float64(c.Int64[i]) / math.Pow10(scale)
	case c.Float64 != nil:
		return c.Float64[i]
	}
	return math.NaN()
}

func median(v []float64) float64 {
	x := append([]float64(nil), v...)
	sort.Float64s(x)
	n := len(x)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

// ols fits y = slope·x + icpt.
func ols(x, y []float64) (slope, icpt float64) {
	var s olsSums
	for i := range x {
		s.add(x[i], y[i])
	}
	return s.fit()
}

// olsSums accumulates a least-squares line's sums point by point, so a
// caller need not collect its points.
type olsSums struct{ n, sx, sy, sxx, sxy float64 }

func (s *olsSums) add(x, y float64) {
	s.n++
	s.sx += x
	s.sy += y
	s.sxx += x * x
	s.sxy += x * y
}

// fit is the line's slope and intercept (NaN for fewer than two distinct x).
func (s *olsSums) fit() (slope, icpt float64) {
	den := s.n*s.sxx - s.sx*s.sx
	if s.n < 2 || den == 0 {
		return math.NaN(), math.NaN()
	}
	slope = (s.n*s.sxy - s.sx*s.sy) / den
	return slope, (s.sy - slope*s.sx) / s.n
}
