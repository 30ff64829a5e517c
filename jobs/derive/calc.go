package derive

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/battlake/battlake/jobs/calc"
	"github.com/battlake/battlake/jobs/features"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Stage calc (phase 4): the calculated tables, each from raw data only.
//
//   - telemetry_jar_calc and telemetry_string_calc mirror their raw
//     tables' partitions and day segments: day d of a bucket is derived
//     from that day's raw segment plus the day before (SOC warm-up, THD
//     as-of the latest capture), so a daily run derives one day, and a
//     changed raw day re-derives that day and the next.
//   - capacity_test_calc and impedance_measurement_calc are small: one
//     file each, rederived when any upstream segment changes.
//
// The methods are documented on the kernels (package calc).

// CalcJobs are the jobs of stage calc over lake l.
func CalcJobs(l *lake.Lake) []pipeline.Job {
	in := &calcInputs{l: l}
	return []pipeline.Job{in.capacityJob(), in.impedanceJob(), in.stringJob(), in.jarJob()}
}

// calcInputs are the small inputs every calc task shares, loaded once per
// run: master data, capacity tests and impedance readings (computed from
// raw here, so jar calc does not depend on another job of its stage).
type calcInputs struct {
	l    *lake.Lake
	once sync.Once
	err  error

	master     *Master
	testFiles  []lake.SegmentFile
	impFiles   []lake.SegmentFile
	tests      []calc.CapacityTestCalc // by test_id
	ambient    map[uuid.UUID]float64   // test_id → ambient_temp_c (the RUL features' climate)
	imp        []calc.ImpedanceCalcRow // by (battery_id, measured_at)
	jarBattery []calc.JarBattery
	kernel     *calc.JarCalc // static part of the jar kernel
	// lineage keys of tests and imp, and the chains by bucket
	testKeys, impKeys []string
	chainMu           sync.Mutex
	chains            map[int]bucketChains
	known             map[string]func(time.Time) lake.Input // knownInputs by string set (knownBy)
	smallStrings      stringFileCache
}

// smallStringFile: string raw day files of at most this many rows (a
// historian day of a bucket: ~1,000) are read once and shared. Every jar
// calc day reads the string currents of its day and the day before from
// every string bucket, so a year of 1 h days opened ~50,000 tiny files.
const smallStringFile = 50_000

// stringFileCache keeps the (ts, string_id, current_a) of small string
// raw files, FIFO-bounded (at most smallStringCacheFiles files of at most
// smallStringFile rows), shared by the jar calc tasks of a run.
type stringFileCache struct {
	mu   sync.Mutex
	m    map[string]*stringFileEntry
	fifo []string
}

type stringFileEntry struct {
	once sync.Once
	b    calc.StringBatch
	err  error
}

const smallStringCacheFiles = 64

func (c *stringFileCache) get(ctx context.Context, l *lake.Lake, f lake.SegmentFile) (*calc.StringBatch, error) {
	key := f.Data.Key + "@" + f.Data.SHA256
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*stringFileEntry{}
	}
	x := c.m[key]
	if x == nil {
		x = &stringFileEntry{}
		if len(c.fifo) >= smallStringCacheFiles {
			delete(c.m, c.fifo[0])
			c.fifo = c.fifo[1:]
		}
		c.m[key] = x
		c.fifo = append(c.fifo, key)
	}
	c.mu.Unlock()
	x.once.Do(func() {
		x.err = EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"ts", "string_id", "current_a"}}, func(b *parquetio.SliceBatch) error {
			x.b.TS = append(x.b.TS, b.Cols[0].Int64...)
			x.b.StringID = append(x.b.StringID, b.Cols[1].UUID...)
			x.b.CurrentMA = nullable32(x.b.CurrentMA, &b.Cols[2])
			return nil
		})
	})
	if x.err != nil {
		c.mu.Lock()
		if c.m[key] == x {
			delete(c.m, key) // a canceled read is not cached
		}
		c.mu.Unlock()
		return nil, x.err
	}
	return &x.b, nil
}

// bucketChains are the day lineages of one jar calc bucket.
type bucketChains struct {
	master, known func(time.Time) lake.Input
}

// fixedSegment is the one segment of a derived table that is not split by
// time: fresh exactly when its lineage is unchanged.
func fixedSegment(lineage []lake.Input) lake.Segment {
	s := lake.AsOfSegment(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	s.Lineage = lineage
	return s
}

func (in *calcInputs) load(ctx context.Context) error {
	in.once.Do(func() { in.err = in.loadOnce(ctx) })
	return in.err
}

func (in *calcInputs) loadOnce(ctx context.Context) error {
	m, err := LoadMaster(ctx, in.l)
	if err != nil {
		return err
	}
	in.master = m
	for _, b := range m.Batteries {
		md, err := m.ModelOf(&b)
		if err != nil {
			return err
		}
		in.jarBattery = append(in.jarBattery, calc.JarBattery{BatteryID: b.ID, StringID: b.StringID, InitialResistanceMOhm: b.InitialResistanceMOhm,
			Model: calc.BatteryModel{NominalVoltageV: md.NominalV, CapacityAh: md.CapacityAh, FloatVoltageMinV: md.FloatMinV}})
	}
	raw, err := Load(ctx, in.l, schema.MustLookup("capacity_test_raw"))
	if err != nil {
		return err
	}
	in.testFiles = raw.All()
	rated := map[uuid.UUID]float64{} // string → rated Ah of its model
	for _, b := range m.Batteries {
		if md := m.Models[b.ModelID]; md != nil {
			rated[b.StringID] = md.CapacityAh
		}
	}
	in.ambient = map[uuid.UUID]float64{}
	for _, f := range in.testFiles {
		if err := eachCapacityTest(ctx, in.l, f, func(t calc.CapacityTestRaw) error {
			if t.AmbientDeciC != calc.Null32 {
				in.ambient[t.TestID] = float64(t.AmbientDeciC) / 10
			}
			c, err := calc.DefaultCapacityParams.Compute(t, rated[t.StringID])
			if err != nil {
				return fmt.Errorf("%s: %w", f.Data.Key, err)
			}
			in.tests = append(in.tests, c)
			return nil
		}); err != nil {
			return err
		}
	}
	sort.Slice(in.tests, func(i, j int) bool { return lessUUID(in.tests[i].TestID, in.tests[j].TestID) })
	imp, err := Load(ctx, in.l, schema.MustLookup("impedance_measurement_raw"))
	if err != nil {
		return err
	}
	in.impFiles = imp.All()
	var rows []calc.ImpedanceRaw
	for _, f := range in.impFiles {
		if err := EachSlice(ctx, in.l, f, parquetio.ReadOptions{Columns: []string{"measurement_id", "battery_id", "measured_at", "resistance_mohm", "temperature_c"}}, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			for i := 0; i < b.Rows; i++ {
				rows = append(rows, calc.ImpedanceRaw{MeasurementID: c[0].UUID[i], BatteryID: uuidOr(&c[1], i), MeasuredAt: c[2].Int64[i],
					ResistanceMicroOhm: i32(&c[3], i), TemperatureDeciC: i32(&c[4], i)})
			}
			return nil
		}); err != nil {
			return err
		}
	}
	// The baseline is each jar's first reading: the kernel wants a jar's
	// readings in time order.
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.BatteryID != b.BatteryID {
			return lessUUID(a.BatteryID, b.BatteryID)
		}
		if a.MeasuredAt != b.MeasuredAt {
			return a.MeasuredAt < b.MeasuredAt
		}
		return lessUUID(a.MeasurementID, b.MeasurementID)
	})
	if in.imp, err = calc.NewImpedanceCalc(calc.DefaultResistanceTemp).Run(rows, nil); err != nil {
		return err
	}
	// The jar kernel's master data, tests and impedance history, built once
	// (calc.JarCalc.With makes each day's kernel from it).
	in.kernel, err = calc.NewJarCalc(calc.DefaultJarParams, in.jarBattery, nil, in.tests, in.imp)
	if err != nil {
		return err
	}
	// Lineage keys of tests and readings, formatted once.
	in.testKeys, in.impKeys = make([]string, len(in.tests)), make([]string, len(in.imp))
	for i, x := range in.tests {
		in.testKeys[i] = RowKey("test", x.TestID, x.KnownAt, x.PctCenti)
	}
	for i, x := range in.imp {
		in.impKeys[i] = RowKey("imp", x.MeasurementID, x.CorrectedMicroOhm)
	}
	return nil
}

// eachCapacityTest reads capacity_test_raw through Arrow (test_type is an
// enum).
func eachCapacityTest(ctx context.Context, l *lake.Lake, f lake.SegmentFile, fn func(calc.CapacityTestRaw) error) error {
	cols := []string{"test_id", "string_id", "test_date", "test_type", "discharge_rate_a", "discharge_duration_min", "ambient_temp_c"}
	return EachRecord(ctx, l, f, cols, func(rec arrow.RecordBatch) error {
		ts := rec.Column(2).(*array.Timestamp)
		for i := 0; i < int(rec.NumRows()); i++ {
			id, _ := uuidAt(rec.Column(0), i)
			sid, _ := uuidAt(rec.Column(1), i)
			t := calc.CapacityTestRaw{TestID: id, StringID: sid, TestDate: int64(ts.Value(i)), TestType: str(rec.Column(3), i),
				DischargeRateCentiA: dec128(rec.Column(4), i), DurationDeciMin: dec128(rec.Column(5), i), AmbientDeciC: dec128(rec.Column(6), i)}
			if err := fn(t); err != nil {
				return err
			}
		}
		return nil
	})
}

// dec128 is an Arrow decimal's unscaled value, calc.Null32 when NULL.
func dec128(a arrowArray, i int) int32 {
	d, ok := a.(*array.Decimal128)
	if !ok || d.IsNull(i) {
		return calc.Null32
	}
	return int32(d.Value(i).LowBits())
}

func i32(c *parquetio.ColumnSlice, i int) int32 {
	if c.Valid != nil && !c.Valid[i] {
		return calc.Null32
	}
	return c.Int32[i]
}

func uuidOr(c *parquetio.ColumnSlice, i int) [16]byte {
	if c.Valid != nil && !c.Valid[i] {
		return [16]byte{}
	}
	return c.UUID[i]
}

// ptr32 maps a kernel value to a typed writer's optional field (nil is
// NULL; pointers keep a true zero), pointing into a per-batch arena so rows
// cost no allocation.
func ptr32(arena []int32, i int, v int32) *int32 {
	if v == calc.Null32 {
		return nil
	}
	arena[i] = v
	return &arena[i]
}

// --- capacity_test_calc -----------------------------------------------------

func (in *calcInputs) capacityJob() pipeline.Job {
	t := schema.MustLookup("capacity_test_calc")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "calc", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		if err := in.load(ctx); err != nil {
			return nil, err
		}
		if len(in.testFiles) == 0 {
			return nil, nil
		}
		lin := append(Inputs(in.testFiles), in.master.DayInput(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), nil))
		p := lake.MustPartition(t, "", -1)
		return []pipeline.Task{{Partition: p, Meta: Meta(t.Name), Segments: []lake.Segment{fixedSegment(lin)}, Weight: int64(len(in.tests)),
			Run: func(ctx context.Context, o *lake.Output) error {
				return writeRows(o, t, len(in.tests), func(i int, b *parquetio.RowBuilder) {
					x := in.tests[i]
					b.Set("test_id", x.TestID)
					if x.MeasuredCentiAh != calc.Null32 {
						b.Set("measured_capacity_ah", float64(x.MeasuredCentiAh)/100)
					}
					if x.PctCenti != calc.Null32 {
						b.Set("capacity_pct_of_rated", float64(x.PctCenti)/100)
					}
					if x.PassFail != "" {
						b.Set("pass_fail", x.PassFail)
					}
				})
			}}}, nil
	}}
}

// writeRows writes n rows of a small table through the checked builder
// (the RowSink sizes the writer's buffers to a file it holds whole).
func writeRows(o *lake.Output, t *schema.Table, n int, set func(i int, b *parquetio.RowBuilder)) error {
	w, err := parquetio.NewRowWriter(o.Data(), t)
	if err != nil {
		return err
	}
	sink := parquetio.NewRowSink(w, t)
	for i := 0; i < n; i++ {
		if err := sink.Add(func(b *parquetio.RowBuilder) { set(i, b) }); err != nil {
			return err
		}
	}
	rows, err := sink.Close()
	o.SetRows(rows)
	return err
}

// --- impedance_measurement_calc ---------------------------------------------

func (in *calcInputs) impedanceJob() pipeline.Job {
	t := schema.MustLookup("impedance_measurement_calc")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "calc", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		if err := in.load(ctx); err != nil {
			return nil, err
		}
		if len(in.impFiles) == 0 {
			return nil, nil
		}
		p := lake.MustPartition(t, "", -1)
		return []pipeline.Task{{Partition: p, Meta: Meta(t.Name), Segments: []lake.Segment{fixedSegment(Inputs(in.impFiles))}, Weight: int64(len(in.imp)),
			Run: func(ctx context.Context, o *lake.Output) error {
				rows := slices.Clone(in.imp)
				sort.Slice(rows, func(i, j int) bool { return lessUUID(rows[i].MeasurementID, rows[j].MeasurementID) })
				return writeRows(o, t, len(rows), func(i int, b *parquetio.RowBuilder) {
					x := rows[i]
					b.Set("measurement_id", x.MeasurementID)
					if x.CorrectedMicroOhm != calc.Null32 {
						b.Set("temp_corrected_resistance_mohm", float64(x.CorrectedMicroOhm)/1000)
					}
					if x.BaselineCentiPct != calc.Null32 {
						b.Set("baseline_pct", float64(x.BaselineCentiPct)/100)
					}
				})
			}}}, nil
	}}
}

// --- telemetry_string_calc --------------------------------------------------

type stringCalcRow struct {
	TS       int64    `parquet:"ts,timestamp(microsecond)"`
	StringID [16]byte `parquet:"string_id,uuid"`
	PowerW   *int64   `parquet:"power_w,decimal(2:10),optional"`
	THDPct   *int32   `parquet:"thd_pct,decimal(2:5),optional"`
}

// dayTask pairs each committed day segment of a raw table with the
// matching output partition: derived time series mirror their raw
// partitions and days.
type dayTask struct {
	out  lake.Partition
	days []lake.SegmentFile // the raw partition's day segments
}

func mirrorDays(ix *Index, out *schema.Table) []dayTask {
	var tasks []dayTask
	for _, c := range ix.Parts {
		var days []lake.SegmentFile
		for _, f := range c.SegmentsOverlapping(time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) {
			if f.Segment.Name != lake.AsOfName {
				days = append(days, f)
			}
		}
		if len(days) > 0 {
			tasks = append(tasks, dayTask{out: lake.MustPartition(out, c.Partition.Month, c.Partition.Bucket), days: days})
		}
	}
	return tasks
}

// daySegment is the derived day segment of raw day f with lineage.
func daySegment(f lake.SegmentFile, lineage []lake.Input) lake.Segment {
	s := lake.DaySegment(f.Segment.From)
	s.Lineage = lineage
	return s
}

// dayFiles lists ix's day segments of day d in bucket (or every bucket
// for -1), in partition order. The index by day is built on first use (a
// year of days made the scan over every partition quadratic).
func (ix *Index) dayFiles(d time.Time, bucket int) []lake.SegmentFile {
	ix.byDayOnce.Do(func() {
		ix.byDay = map[int64][]lake.SegmentFile{}
		for _, f := range ix.All() {
			if f.Segment.Name != lake.AsOfName {
				k := f.Segment.From.Unix()
				ix.byDay[k] = append(ix.byDay[k], f)
			}
		}
	})
	var out []lake.SegmentFile
	for _, f := range ix.byDay[d.Unix()] {
		if bucket < 0 || f.Partition.Bucket == bucket {
			out = append(out, f)
		}
	}
	return out
}

func (in *calcInputs) stringJob() pipeline.Job {
	t := schema.MustLookup("telemetry_string_calc")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "calc", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		raw, err := Load(ctx, in.l, schema.MustLookup("telemetry_string_raw"))
		if err != nil {
			return nil, err
		}
		ripple, err := Load(ctx, in.l, schema.MustLookup("ripple_capture"))
		if err != nil {
			return nil, err
		}
		var tasks []pipeline.Task
		for _, dt := range mirrorDays(raw, t) {
			var segs []lake.Segment
			inputs := map[string][]lake.SegmentFile{}
			for _, f := range dt.days {
				d := f.Segment.From
				rip := append(ripple.dayFiles(d.AddDate(0, 0, -1), f.Partition.Bucket), ripple.dayFiles(d, f.Partition.Bucket)...)
				s := daySegment(f, append(Inputs([]lake.SegmentFile{f}), Inputs(rip)...))
				segs = append(segs, s)
				inputs[s.Name] = append([]lake.SegmentFile{f}, rip...)
			}
			tasks = append(tasks, pipeline.Task{Partition: dt.out, Meta: Meta(t.Name), Segments: segs, Weight: int64(len(segs)) * 700_000,
				Run: func(ctx context.Context, o *lake.Output) error {
					files := inputs[o.Segment().Name]
					return writeStringCalc(ctx, in.l, o, t, files[0], files[1:])
				}})
		}
		return tasks, nil
	}}
}

func writeStringCalc(ctx context.Context, l *lake.Lake, o *lake.Output, t *schema.Table, raw lake.SegmentFile, ripple []lake.SegmentFile) error {
	thd := calc.NewRippleTHD(nil)
	var rb calc.RippleBatch
	for _, f := range ripple {
		if err := EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"capture_ts", "string_id", "sample_idx", "sample_rate_hz", "ripple_voltage_v"}}, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			rb.CaptureTS, rb.StringID, rb.SampleIdx, rb.SampleRateHz = c[0].Int64, c[1].UUID, c[2].Int32, c[3].Int32
			rb.RippleTenthMV = nullable32(rb.RippleTenthMV[:0], &c[4])
			return thd.Add(&rb)
		}); err != nil {
			return err
		}
	}
	if err := thd.Flush(); err != nil {
		return err
	}
	k := calc.NewStringCalc(thd)
	w, err := parquetio.NewTypedWriter[stringCalcRow](o.Data(), t, parquetio.SizedFor(t, raw.Data.Rows))
	if err != nil {
		return err
	}
	var (
		sb   calc.StringBatch
		out  calc.StringCalcOut
		rows []stringCalcRow
		p64  []int64
		p32  []int32
	)
	if err := EachSlice(ctx, l, raw, parquetio.ReadOptions{Columns: []string{"ts", "string_id", "voltage_v", "current_a"}}, func(b *parquetio.SliceBatch) error {
		c := b.Cols
		sb.TS, sb.StringID = c[0].Int64, c[1].UUID
		sb.VoltageCentiV = nullable32(sb.VoltageCentiV[:0], &c[2])
		sb.CurrentMA = nullable32(sb.CurrentMA[:0], &c[3])
		if err := k.Run(&sb, &out); err != nil {
			return err
		}
		n := b.Rows
		rows, p64, p32 = slices.Grow(rows[:0], n)[:n], slices.Grow(p64[:0], n)[:n], slices.Grow(p32[:0], n)[:n]
		for i := 0; i < n; i++ {
			r := &rows[i]
			r.TS, r.StringID, r.PowerW, r.THDPct = sb.TS[i], sb.StringID[i], nil, ptr32(p32, i, out.THDCentiPct[i])
			if v := out.PowerCentiW[i]; v != calc.Null64 {
				p64[i] = v
				r.PowerW = &p64[i]
			}
		}
		return w.Write(rows)
	}); err != nil {
		return err
	}
	o.SetRows(w.Rows())
	return w.Close()
}

// nullable32 copies an INT32 column, NULLs as the kernels' sentinel
// (calc.Null32, which is also features.Null: checked below).
var _ = [1]struct{}{}[calc.Null32-features.Null] // the two kernels share one NULL

func nullable32(dst []int32, c *parquetio.ColumnSlice) []int32 {
	if c.Valid == nil {
		return append(dst, c.Int32...)
	}
	// One growth to the batch's size, not one per doubling: this append
	// was a tenth of the historian's allocation time.
	dst = slices.Grow(dst, len(c.Int32))
	for i, v := range c.Int32 {
		if !c.Valid[i] {
			v = calc.Null32
		}
		dst = append(dst, v)
	}
	return dst
}

// --- telemetry_jar_calc -----------------------------------------------------

// jarCalcRow takes the typed writer's fast path: an optional int32 whose
// zero is NULL (with pointer fields the calc stage over 7 fleet-days took
// 56 s instead of 41 s, measured with `battlake run --stages calc`). A true
// 0.00 % is written as 0.01 %, one unit of the last decimal, as the raw
// telemetry writes a dead jar's 0 V.
type jarCalcRow = parquetio.JarCalcRow

// fastOptional maps a kernel value to a zero-is-NULL field.
func fastOptional(v int32) int32 {
	switch v {
	case calc.Null32:
		return 0
	case 0:
		return 1
	}
	return v
}

func (in *calcInputs) jarJob() pipeline.Job {
	t := schema.MustLookup("telemetry_jar_calc")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "calc", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		if err := in.load(ctx); err != nil {
			return nil, err
		}
		raw, err := Load(ctx, in.l, schema.MustLookup("telemetry_jar_raw"))
		if err != nil {
			return nil, err
		}
		strRaw, err := Load(ctx, in.l, schema.MustLookup("telemetry_string_raw"))
		if err != nil {
			return nil, err
		}
		var tasks []pipeline.Task
		for _, dt := range mirrorDays(raw, t) {
			// A string test lands on the string's weakest jar, whichever
			// bucket it is in: the lineage of a bucket covers every jar of
			// the strings it holds, not only its own jars.
			bucket := dt.out.Bucket
			strs := map[uuid.UUID]bool{}
			for i := range in.master.Batteries {
				if b := &in.master.Batteries[i]; BucketOf(t, b.ID) == bucket {
					strs[b.StringID] = true
				}
			}
			inBucket := func(b *Battery) bool { return strs[b.StringID] }
			in.chainMu.Lock()
			if in.chains == nil {
				in.chains = map[int]bucketChains{}
			}
			bc, ok := in.chains[bucket]
			if !ok { // the same for every month of the bucket
				bc = bucketChains{in.master.DayInputs(inBucket), in.knownBy(strs, inBucket)}
				in.chains[bucket] = bc
			}
			in.chainMu.Unlock()
			masterIn, knownIn := bc.master, bc.known
			type dayIn struct{ jar, str []lake.SegmentFile }
			inputs := map[string]dayIn{}
			var segs []lake.Segment
			for _, f := range dt.days {
				d := f.Segment.From
				// SOC needs a starting point: the kernel runs over the day
				// before (if held) and writes only the day, so a day
				// depends on that day and the one before only.
				prev := raw.dayFiles(d.AddDate(0, 0, -1), bucket)
				x := dayIn{jar: append(prev, f), str: append(strRaw.dayFiles(d.AddDate(0, 0, -1), -1), strRaw.dayFiles(d, -1)...)}
				lin := append(Inputs(x.jar), Inputs(x.str)...)
				lin = append(lin, masterIn(d), knownIn(d))
				s := daySegment(f, lin)
				segs = append(segs, s)
				inputs[s.Name] = x
			}
			jt := &jarCalcTask{in: in, t: t}
			tasks = append(tasks, pipeline.Task{Partition: dt.out, Meta: Meta(t.Name), Segments: segs, Weight: int64(len(segs)) * 4_000_000,
				Run: func(ctx context.Context, o *lake.Output) error {
					x := inputs[o.Segment().Name]
					d := o.Segment().From
					return jt.write(ctx, o, x.jar, x.str, holdFor(strRaw, d))
				}})
		}
		return tasks, nil
	}}
}

// knownBy is knownInputs(keep) for the jars of the strings strs, shared
// by the buckets that hold the same strings (every bucket holds a jar of
// almost every string, so the fleet's 8 chains were one chain 8 times).
// Call it under chainMu.
func (in *calcInputs) knownBy(strs map[uuid.UUID]bool, keep func(*Battery) bool) func(time.Time) lake.Input {
	ids := make([]uuid.UUID, 0, len(strs))
	for id := range strs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return lessUUID(ids[i], ids[j]) })
	var k strings.Builder
	for _, id := range ids {
		k.Write(id[:])
	}
	if f, ok := in.known[k.String()]; ok {
		return f
	}
	if in.known == nil {
		in.known = map[string]func(time.Time) lake.Input{}
	}
	f := in.knownInputs(keep)
	in.known[k.String()] = f
	return f
}

// knownInputs is the lineage of the capacity tests and impedance readings
// known by the end of each day for the jars in keep (whole strings): a
// test or reading added later does not make earlier days stale. One chain
// serves every day of the plan (DayChain).
func (in *calcInputs) knownInputs(keep func(*Battery) bool) func(d time.Time) lake.Input {
	strs := map[uuid.UUID]bool{}
	jars := map[uuid.UUID]bool{}
	for i := range in.master.Batteries {
		if b := &in.master.Batteries[i]; keep(b) {
			strs[b.StringID], jars[b.ID] = true, true
		}
	}
	var rows []ChainRow
	for i, x := range in.tests {
		if strs[x.StringID] {
			rows = append(rows, ChainRow{At: x.KnownAt, Key: in.testKeys[i]})
		}
	}
	for i, x := range in.imp {
		if jars[x.BatteryID] {
			rows = append(rows, ChainRow{At: x.MeasuredAt, Key: in.impKeys[i]})
		}
	}
	c := NewDayChain("capacity_test_raw+impedance_measurement_raw", rows)
	return func(d time.Time) lake.Input { return c.Input(d, d.AddDate(0, 0, 1)) }
}

// holdFor is the kernel's MaxHold for day d: the default (5 min), or the
// string telemetry's sample interval of d or the day before when longer. A
// historian's sample stands for its whole interval (zero-order hold, the
// usual reading of interval logs), so a day at 1 h integrates each current
// for an hour instead of dropping it as unknown; a discharge shorter than
// the interval is then missed or stretched, the price of the historian.
func holdFor(strRaw *Index, d time.Time) int64 {
	hold := calc.DefaultJarParams.MaxHold
	for _, x := range []time.Time{d.AddDate(0, 0, -1), d} {
		hold = max(hold, strRaw.Interval(x).Microseconds())
	}
	return hold
}

// jarCalcTask derives the days of one jar calc partition in order. The
// last small raw file it decoded outlives a day: day d+1 warms up on day
// d's raw file, which day d read, and a historian day's file (hundreds to
// thousands of rows) costs more to open and decode than to compute.
type jarCalcTask struct {
	in   *calcInputs
	t    *schema.Table
	last smallJarFile // the last small raw file decoded (a retry starts afresh)
	read smallJarFile // the one being read
}

// smallJarFile is a decoded raw jar file of at most smallRawFile rows.
type smallJarFile struct {
	key string // data key @ SHA-256: the manifest's version of the file
	b   calc.JarBatch
}

// smallRawFile: raw files of at most this many rows (a historian day of a
// bucket) are decoded whole and kept for the next day's warm-up; they fit
// one row group and one page of every column.
const smallRawFile = 50_000

// write runs the SOC/SOH kernel over jar (the day before, if held, then
// the day) with the string currents of str, and writes the day.
func (jt *jarCalcTask) write(ctx context.Context, o *lake.Output, jar, str []lake.SegmentFile, maxHold int64) (err error) {
	defer func() {
		if err != nil { // a file cut short is not reused
			jt.last.key, jt.read.key = "", ""
		}
	}()
	in := jt.in
	cur := calc.NewStringCurrents()
	var sb calc.StringBatch
	for _, f := range str {
		if f.Data.Rows <= smallStringFile {
			b, err := in.smallStrings.get(ctx, in.l, f)
			if err != nil {
				return err
			}
			if err := cur.Add(b); err != nil {
				return fmt.Errorf("read %s: %w", f.Data.Key, err)
			}
			continue
		}
		if err := EachSlice(ctx, in.l, f, parquetio.ReadOptions{Columns: []string{"ts", "string_id", "current_a"}}, func(b *parquetio.SliceBatch) error {
			sb.TS, sb.StringID = b.Cols[0].Int64, b.Cols[1].UUID
			sb.CurrentMA = nullable32(sb.CurrentMA[:0], &b.Cols[2])
			return cur.Add(&sb)
		}); err != nil {
			return err
		}
	}
	k := in.kernel.With(maxHold, cur)
	w, err := parquetio.NewTypedWriter[jarCalcRow](o.Data(), jt.t) // the column writer sizes its own buffers
	if err != nil {
		return err
	}
	day := o.Segment()
	var (
		jb   calc.JarBatch
		out  calc.JarCalcOut
		rows []jarCalcRow
	)
	run := func(jb *calc.JarBatch, write bool) error {
		if err := k.Run(jb, &out); err != nil {
			return err
		}
		if !write {
			return nil // warm-up
		}
		n := jb.Len()
		rows = slices.Grow(rows[:0], n)[:n]
		for i := 0; i < n; i++ {
			rows[i] = jarCalcRow{TS: jb.TS[i], BatteryID: jb.BatteryID[i], SOCPct: fastOptional(out.SOCCentiPct[i]), SOHPct: fastOptional(out.SOHCentiPct[i])}
		}
		return w.Write(rows)
	}
	cols := parquetio.ReadOptions{Columns: []string{"ts", "battery_id", "voltage_v", "temperature_c", "resistance_mohm"}}
	for _, f := range jar {
		write := f.Segment.From.Equal(day.From)
		if f.Data.Rows <= smallRawFile {
			b, err := jt.small(ctx, f, cols)
			if err != nil {
				return err
			}
			if err := run(b, write); err != nil {
				return fmt.Errorf("read %s: %w", f.Data.Key, err)
			}
			continue
		}
		if err := EachSlice(ctx, in.l, f, cols, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			jb.TS, jb.BatteryID = c[0].Int64, c[1].UUID
			jb.VoltageMV = nullable32(jb.VoltageMV[:0], &c[2])
			jb.TemperatureDeciC = nullable32(jb.TemperatureDeciC[:0], &c[3])
			jb.ResistanceMicroOhm = nullable32(jb.ResistanceMicroOhm[:0], &c[4])
			return run(&jb, write)
		}); err != nil {
			return err
		}
	}
	o.SetRows(w.Rows())
	return w.Close()
}

// small is small raw file f decoded whole: the last one decoded when it
// is f (the day before of the next day), else read into the spare buffer,
// which then becomes the last. The kernel over the whole file equals the
// kernel over its row groups: it carries each jar's state across calls.
func (jt *jarCalcTask) small(ctx context.Context, f lake.SegmentFile, o parquetio.ReadOptions) (*calc.JarBatch, error) {
	key := f.Data.Key + "@" + f.Data.SHA256
	if jt.last.key == key {
		return &jt.last.b, nil
	}
	r := &jt.read
	r.key = ""
	b := &r.b
	b.TS, b.BatteryID, b.VoltageMV, b.TemperatureDeciC, b.ResistanceMicroOhm = b.TS[:0], b.BatteryID[:0], b.VoltageMV[:0], b.TemperatureDeciC[:0], b.ResistanceMicroOhm[:0]
	if err := EachSlice(ctx, jt.in.l, f, o, func(sb *parquetio.SliceBatch) error {
		c := sb.Cols
		b.TS, b.BatteryID = append(b.TS, c[0].Int64...), append(b.BatteryID, c[1].UUID...)
		b.VoltageMV = nullable32(b.VoltageMV, &c[2])
		b.TemperatureDeciC = nullable32(b.TemperatureDeciC, &c[3])
		b.ResistanceMicroOhm = nullable32(b.ResistanceMicroOhm, &c[4])
		return nil
	}); err != nil {
		return nil, err
	}
	r.key = key
	jt.last, jt.read = jt.read, jt.last
	return &jt.last.b, nil
}
