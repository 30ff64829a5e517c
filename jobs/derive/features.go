package derive

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/battlake/battlake/jobs/features"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Stage features (phase 5): feature_store, every feature of section 5.5
// for windows of 1, 24 and 168 h, every hour for every battery (the method
// of each column is documented on package features).
//
// Cadence follows the raw rate. On a historian day (jar telemetry sampled
// every HistorianCadenceFrom or coarser, per its manifest) an hourly row
// would summarise one sample, so the day gets one row per battery, at its
// first hour (feature_ts = 00:00, windows covering the days before it),
// for the windows of 24 h and more: 2 rows a battery-day instead of 72,
// a daily series for RUL training. The dt cap of integrals (time outside
// the float band, Ah throughput) stretches to the sample interval of the
// chunk's day and the day before, so each historian sample counts for its
// interval. Means (v_mean, t_mean, ...) are over samples, as SQL AVG over
// the rows: a 168 h window that spans the start of the detail days is
// dominated by the detail days' samples.
//
// A month partition holds a file a day (140 K rows for the fleet: small
// enough not to bucket). Day d's rows (feature_ts in [d, d+1)) depend on
// the raw days [d-8, d], the look-back the 168 h window needs, and its
// lineage lists exactly those segments. A task derives its stale days in
// order and carries the engine's hourly partials from one day to the next,
// so a month costs one pass over its raw data plus one look-back, and a
// daily run one day plus its look-back.

// FeatureJobs are the jobs of stage features over lake l; windows (hours)
// default to 1, 24 and 168.
func FeatureJobs(l *lake.Lake, windows ...int) []pipeline.Job {
	t := schema.MustLookup("feature_store")
	if len(windows) == 0 {
		windows = []int{1, 24, 168}
	}
	meta := Meta(t.Name)
	meta.Inputs = append(meta.Inputs, fmt.Sprintf("windows=%v", windows))
	return []pipeline.Job{&pipeline.FuncJob{JobName: t.Name, StageName: "features", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		src, err := loadFeatureSources(ctx, l)
		if err != nil || src == nil {
			return nil, err
		}
		months, byMonth := DaySegmentsByMonth(src.jar.Days(), src.lineage)
		var tasks []pipeline.Task
		for _, m := range months {
			ft := &featureTask{l: l, t: t, src: src, windows: windows}
			var weight int64
			for _, s := range byMonth[m] {
				weight += 140_000 * int64(time.Minute) / int64(max(time.Minute, src.jar.Interval(s.From)))
			}
			tasks = append(tasks, pipeline.Task{Partition: lake.MustPartition(t, m, -1), Meta: meta, Segments: byMonth[m],
				Weight: weight, Run: ft.run})
		}
		return tasks, nil
	}}}
}

// HistorianCadenceFrom is the sample interval from which a day's features
// are emitted daily rather than hourly (see the stage comment).
const HistorianCadenceFrom = time.Hour

// defaultMaxGap is the engine's default dt cap (features.Config.MaxGap).
const defaultMaxGap = 10 * time.Minute

// featureLookBack is how many whole days before a day its features read:
// the 168 h window plus the hour of carried state, rounded up to days.
const featureLookBack = 8

type featureSources struct {
	master               *Master
	jar, str, env, calcs *Index
	fm                   features.Master
	// interval is the jar telemetry's sample interval by day number
	// (days since the epoch), from the manifests.
	interval dayIntervals
	masterIn func(time.Time) lake.Input // master lineage by day
}

// dayIntervals maps day numbers from first to sample intervals (0: no
// data): the engine asks for every hour of every battery.
type dayIntervals struct {
	first int64
	by    []time.Duration
}

func (x *dayIntervals) at(n int64) time.Duration {
	if i := n - x.first; i >= 0 && i < int64(len(x.by)) {
		return x.by[i]
	}
	return 0
}

// emitHour is the engine's cadence (features.Config.EmitHour): hourly on
// detail days; on historian days only 00:00, for windows of 24 h and more.
func (s *featureSources) emitHour(h int64) int64 {
	if s.interval.at(h/24) < HistorianCadenceFrom {
		return 0
	}
	if h%24 != 0 {
		return math.MaxInt64
	}
	return 24
}

// maxGap is the dt cap of chunk day: the engine's default, or the longer
// sample interval of the day or the day before.
func (s *featureSources) maxGap(day time.Time) time.Duration {
	n := day.Unix() / 86400
	return max(defaultMaxGap, s.interval.at(n), s.interval.at(n-1))
}

func loadFeatureSources(ctx context.Context, l *lake.Lake) (*featureSources, error) {
	jar, err := Load(ctx, l, schema.MustLookup("telemetry_jar_raw"))
	if err != nil || len(jar.Parts) == 0 {
		return nil, err
	}
	src := &featureSources{jar: jar}
	days := jar.Days()
	if len(days) > 0 {
		first := days[0].Unix() / 86400
		src.interval = dayIntervals{first: first, by: make([]time.Duration, days[len(days)-1].Unix()/86400-first+1)}
		for _, d := range days {
			src.interval.by[d.Unix()/86400-first] = jar.Interval(d)
		}
	}
	for _, x := range []struct {
		ix   **Index
		name string
	}{{&src.str, "telemetry_string_raw"}, {&src.env, "telemetry_env"}, {&src.calcs, "telemetry_string_calc"}} {
		if *x.ix, err = Load(ctx, l, schema.MustLookup(x.name)); err != nil {
			return nil, err
		}
	}
	if src.master, err = LoadMaster(ctx, l); err != nil {
		return nil, err
	}
	for _, b := range src.master.Batteries {
		src.fm.Batteries = append(src.fm.Batteries, features.Battery{ID: b.ID, StringID: b.StringID, ModelID: b.ModelID, InitialResistanceMOhm: b.InitialResistanceMOhm})
	}
	for _, md := range src.master.Models {
		src.fm.Models = append(src.fm.Models, features.Model{ID: md.ID, FloatMinV: md.FloatMinV, FloatMaxV: md.FloatMaxV})
	}
	sort.Slice(src.fm.Models, func(i, j int) bool { return lessUUID(src.fm.Models[i].ID, src.fm.Models[j].ID) })
	src.fm.RoomSensor = src.master.RoomSensor
	return src, nil
}

// dayInputs are the raw segments feeding chunk day.
func (s *featureSources) dayInputs(day time.Time) (jar, str, env, thd []lake.SegmentFile) {
	return s.jar.dayFiles(day, -1), s.str.dayFiles(day, -1), s.env.dayFiles(day, -1), s.calcs.dayFiles(day, -1)
}

func (s *featureSources) lineage(d time.Time) []lake.Input {
	var in []lake.Input
	for k := featureLookBack; k >= 0; k-- {
		jar, str, env, thd := s.dayInputs(d.AddDate(0, 0, -k))
		in = append(in, Inputs(jar)...)
		in = append(in, Inputs(str)...)
		in = append(in, Inputs(env)...)
		in = append(in, Inputs(thd)...)
	}
	if s.masterIn == nil {
		s.masterIn = s.master.DayInputs(nil)
	}
	return append(in, s.masterIn(d))
}

type featureRow struct {
	FeatureTS            int64    `parquet:"feature_ts,timestamp(microsecond)"`
	BatteryID            [16]byte `parquet:"battery_id,uuid"`
	FeatureWindowHours   int32    `parquet:"feature_window_hours"`
	VMean                *int32   `parquet:"v_mean,decimal(3:5),optional"`
	VStd                 *int32   `parquet:"v_std,decimal(4:5),optional"`
	VMin                 *int32   `parquet:"v_min,decimal(3:5),optional"`
	VMax                 *int32   `parquet:"v_max,decimal(3:5),optional"`
	VBalanceMean         *int32   `parquet:"v_balance_mean,decimal(4:6),optional"`
	TMean                *int32   `parquet:"t_mean,decimal(1:4),optional"`
	TMax                 *int32   `parquet:"t_max,decimal(1:4),optional"`
	TDeltaAmbientMean    *int32   `parquet:"t_delta_ambient_mean,decimal(2:4),optional"`
	RInternalLatest      *int32   `parquet:"r_internal_latest,decimal(3:8),optional"`
	RInternalBaselinePct *int32   `parquet:"r_internal_baseline_pct,decimal(2:8),optional"`
	DischargeCyclesCount *int32   `parquet:"discharge_cycles_count,optional"`
	AhThroughput         *int32   `parquet:"ah_throughput,decimal(2:8),optional"`
	TimeBelowFloatMin    *int32   `parquet:"time_below_float_min,optional"`
	TimeAboveFloatMin    *int32   `parquet:"time_above_float_min,optional"`
	SurgeEventsCount     *int32   `parquet:"surge_events_count,optional"`
	RippleRMSMean        *int32   `parquet:"ripple_rms_mean,decimal(3:5),optional"`
	THDMean              *int32   `parquet:"thd_mean,decimal(2:5),optional"`
}

// featureTask derives the stale days of one month partition in order,
// carrying the engine from one day to the next.
type featureTask struct {
	l       *lake.Lake
	t       *schema.Table
	src     *featureSources
	windows []int

	eng     *features.Engine
	next    time.Time      // the chunk the engine expects next
	pending []features.Row // emitted rows not yet written (feature_ts of later days)
	mu      sync.Mutex     // the sink may be called from several jar passes
	vals    [][features.NumCols]int32
	whole   []features.JarBatch // small jar files of the chunk, read whole, by file
}

func (ft *featureTask) run(ctx context.Context, o *lake.Output) (err error) {
	defer func() {
		if err != nil {
			// The engine may be mid-chunk: a retried day starts a fresh one.
			ft.eng = nil
		}
	}()
	d := o.Segment().From
	if ft.eng == nil || !ft.next.Equal(d) {
		eng, err := features.New(features.Config{Windows: ft.windows, EmitFrom: d, MaxGap: defaultMaxGap, EmitHour: ft.src.emitHour}, ft.src.fm)
		if err != nil {
			return err
		}
		ft.eng, ft.pending = eng, ft.pending[:0]
		for k := featureLookBack; k > 0; k-- {
			if err := ft.chunk(ctx, d.AddDate(0, 0, -k)); err != nil {
				return err
			}
		}
	}
	if err := ft.chunk(ctx, d); err != nil {
		return err
	}
	ft.next = d.AddDate(0, 0, 1)
	// Rows of this day, in the table's sort order; later ones wait.
	end := ft.next.UnixMicro()
	// Move them to the front of pending, in place: a second buffer of a
	// fleet-day's wide rows was 25 MB beside the twin task, and fresh
	// slices every day were 5 s of a 15-month history. Keys are unique,
	// so the order the swaps leave does not matter once sorted.
	k := 0
	for i := range ft.pending {
		if ft.pending[i].FeatureTS < end {
			ft.pending[i], ft.pending[k] = ft.pending[k], ft.pending[i]
			k++
		}
	}
	day := ft.pending[:k]
	sort.Slice(day, func(i, j int) bool {
		a, b := &day[i], &day[j]
		if a.BatteryID != b.BatteryID {
			return lessUUID(a.BatteryID, b.BatteryID)
		}
		if a.WindowHours != b.WindowHours {
			return a.WindowHours < b.WindowHours
		}
		return a.FeatureTS < b.FeatureTS
	})
	if err := ft.write(o, day); err != nil {
		return err
	}
	ft.pending = append(ft.pending[:0], ft.pending[k:]...)
	return nil
}

// chunk feeds one day of raw data to the engine, in the order it wants:
// env and THD, strings, the jar pre-pass, then the jar main pass.
func (ft *featureTask) chunk(ctx context.Context, day time.Time) error {
	e, l := ft.eng, ft.l
	if err := e.BeginChunk(day, day.AddDate(0, 0, 1)); err != nil {
		return err
	}
	if err := e.SetMaxGap(ft.src.maxGap(day)); err != nil {
		return err
	}
	jar, str, env, thd := ft.src.dayInputs(day)
	var sb features.SeriesBatch
	feed := func(files []lake.SegmentFile, cols []string, add func(*features.SeriesBatch) error) error {
		for _, f := range files {
			if err := EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: cols}, func(b *parquetio.SliceBatch) error {
				sb.ID, sb.TS = asUUIDs(b.Cols[0].UUID), b.Cols[1].Int64
				sb.Value = nullable32(sb.Value[:0], &b.Cols[2])
				return add(&sb)
			}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := feed(env, []string{"sensor_id", "ts", "temperature_c"}, e.AddEnv); err != nil {
		return err
	}
	if err := feed(thd, []string{"string_id", "ts", "thd_pct"}, e.AddTHD); err != nil {
		return err
	}
	var stb features.StringBatch
	for _, f := range str {
		if err := EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"string_id", "ts", "current_a", "ripple_voltage_rms_v"}}, func(b *parquetio.SliceBatch) error {
			stb.StringID, stb.TS = asUUIDs(b.Cols[0].UUID), b.Cols[1].Int64
			stb.Current, stb.Ripple = nullable32(stb.Current[:0], &b.Cols[2]), nullable32(stb.Ripple[:0], &b.Cols[3])
			return e.AddString(&stb)
		}); err != nil {
			return err
		}
	}
	// Both jar passes read one bucket file per goroutine, on the worker
	// slots no other task holds (pipeline.Spread): pre-pass sums are
	// integers (order-free) and main passes run on disjoint batteries, whose
	// rows are sorted before they are written, so the order files finish in
	// does not matter.
	pres := make([]*features.PrePass, len(jar))
	var err error
	for i := range jar {
		if pres[i], err = e.NewPrePass(); err != nil {
			return err
		}
	}
	// A small file (a historian day of a bucket) is read once, whole, for
	// both passes: opening and decoding it cost more than its rows.
	if len(ft.whole) < len(jar) {
		ft.whole = append(ft.whole, make([]features.JarBatch, len(jar)-len(ft.whole))...)
	}
	mainCols := parquetio.ReadOptions{Columns: []string{"battery_id", "ts", "voltage_v", "temperature_c", "resistance_mohm"}}
	if err := pipeline.Spread(ctx, len(jar), func(i int) error {
		f := jar[i]
		if f.Data.Rows <= smallRawFile {
			jb := &ft.whole[i]
			jb.BatteryID, jb.TS, jb.Voltage, jb.Temp, jb.Resistance = jb.BatteryID[:0], jb.TS[:0], jb.Voltage[:0], jb.Temp[:0], jb.Resistance[:0]
			if err := EachSlice(ctx, l, f, mainCols, func(b *parquetio.SliceBatch) error {
				c := b.Cols
				jb.BatteryID, jb.TS = append(jb.BatteryID, asUUIDs(c[0].UUID)...), append(jb.TS, c[1].Int64...)
				jb.Voltage, jb.Temp, jb.Resistance = nullable32(jb.Voltage, &c[2]), nullable32(jb.Temp, &c[3]), nullable32(jb.Resistance, &c[4])
				return nil
			}); err != nil {
				return err
			}
			if err := pres[i].Add(jb); err != nil {
				return fmt.Errorf("read %s: %w", f.Data.Key, err)
			}
			return nil
		}
		var jb features.JarBatch
		return EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"battery_id", "ts", "voltage_v"}}, func(b *parquetio.SliceBatch) error {
			jb.BatteryID, jb.TS = asUUIDs(b.Cols[0].UUID), b.Cols[1].Int64
			jb.Voltage = nullable32(jb.Voltage[:0], &b.Cols[2])
			return pres[i].Add(&jb)
		})
	}); err != nil {
		return err
	}
	sink := func(r *features.Row) error {
		ft.mu.Lock()
		ft.pending = append(ft.pending, *r)
		ft.mu.Unlock()
		return nil
	}
	// The engine's shared state is frozen once the first pass exists.
	passes := make([]*features.JarPass, len(jar))
	for i := range jar {
		if passes[i], err = e.NewJarPass(sink); err != nil {
			for _, p := range passes[:i] {
				p.Close()
			}
			return err
		}
	}
	if err := pipeline.Spread(ctx, len(jar), func(i int) error {
		f := jar[i]
		if f.Data.Rows <= smallRawFile {
			err := passes[i].Add(&ft.whole[i])
			if cerr := passes[i].Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", f.Data.Key, err)
			}
			return nil
		}
		var jb features.JarBatch
		err := EachSlice(ctx, l, f, mainCols, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			jb.BatteryID, jb.TS = asUUIDs(c[0].UUID), c[1].Int64
			jb.Voltage, jb.Temp, jb.Resistance = nullable32(jb.Voltage[:0], &c[2]), nullable32(jb.Temp[:0], &c[3]), nullable32(jb.Resistance[:0], &c[4])
			return passes[i].Add(&jb)
		})
		if cerr := passes[i].Close(); err == nil {
			err = cerr
		}
		return err
	}); err != nil {
		for _, p := range passes { // the files Spread did not reach
			p.Close()
		}
		return err
	}
	return e.EndChunk(sink)
}

func (ft *featureTask) write(o *lake.Output, rows []features.Row) error {
	w, err := parquetio.NewTypedWriter[featureRow](o.Data(), ft.t, parquetio.SizedFor(ft.t, int64(len(rows))))
	if err != nil {
		return err
	}
	// Converted in batches: a fleet-day's rows as featureRows (and their
	// values) were 33 MB beside the rows themselves, while the twin task
	// runs alongside. The writer's pages do not depend on the batches.
	const batch = 8192
	out := make([]featureRow, min(batch, len(rows)))
	ft.vals = slices.Grow(ft.vals[:0], len(out))[:len(out)]
	for len(rows) > 0 {
		n := min(batch, len(rows))
		for i := range rows[:n] {
			r, v := &rows[i], &ft.vals[i]
			p := func(c features.Col) *int32 {
				if !r.IsValid(c) {
					return nil
				}
				v[c] = int32(r.Val[c])
				return &v[c]
			}
			out[i] = featureRow{FeatureTS: r.FeatureTS, BatteryID: r.BatteryID, FeatureWindowHours: r.WindowHours,
				VMean: p(features.VMean), VStd: p(features.VStd), VMin: p(features.VMin), VMax: p(features.VMax), VBalanceMean: p(features.VBalanceMean),
				TMean: p(features.TMean), TMax: p(features.TMax), TDeltaAmbientMean: p(features.TDeltaAmbientMean),
				RInternalLatest: p(features.RInternalLatest), RInternalBaselinePct: p(features.RInternalBaselinePct),
				DischargeCyclesCount: p(features.DischargeCyclesCount), AhThroughput: p(features.AhThroughput),
				TimeBelowFloatMin: p(features.TimeBelowFloatMin), TimeAboveFloatMin: p(features.TimeAboveFloatMin),
				SurgeEventsCount: p(features.SurgeEventsCount), RippleRMSMean: p(features.RippleRMSMean), THDMean: p(features.THDMean)}
		}
		if err := w.Write(out[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	o.SetRows(w.Rows())
	return w.Close()
}

// asUUIDs views the reader's ids as uuid.UUIDs (the same 16-byte arrays)
// without copying: a fleet-day is 33.6 M ids.
func asUUIDs(src [][16]byte) []uuid.UUID {
	if len(src) == 0 {
		return nil
	}
	return unsafe.Slice((*uuid.UUID)(unsafe.Pointer(&src[0])), len(src))
}
