package derive

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/battlake/battlake/jobs/calc"
	"github.com/battlake/battlake/jobs/twin"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Stage twin (phase 6): digital_twin_state, the twin's estimated model of
// every battery (seed section 5.6; numerics in package twin).
//
//   - Calibration: every event window (telemetry_event_window and its
//     event_window_sample blob) whose first current step is a discharge
//     identifies each jar's circuit from the free response (R0 from the
//     step, R1/C1 by variable projection; R2/C2 only from responses of
//     30 min or more, so NULL for the 80 s transfer and 15 min test
//     windows the lake holds). A window calibrates a jar when its
//     discharge step moves the jar by minStepV or more; R1/C1 are kept
//     only when the fit's RMSE is below calibMaxRMSE (the RMSE is written
//     either way). Later rows carry the latest calibration of the last
//     calibLookBack days (last_calibrated_at = that window's start).
//   - Rows: one per battery in service per day at 23:59:59 UTC
//     (captured_at: the end of the day, inside its day segment and month),
//     and one per jar after each event window of its string (captured_at =
//     window end). A jar removed from service (battery.replaced_date, the
//     raw master data) has no daily row from that day on.
//   - soc_pct: an EKF (twin.EKF) over the day's jar voltage decimated to
//     1 min (the minute's last reading) with the string's mean current
//     per minute, on the latest calibration (priors where NULL) and the
//     capacity rated × SOH, resumed from the jar's state at the end of the
//     day before (SOC, the pairs' voltages and their covariance); on the
//     first day of a month, or of a jar's telemetry, it starts from the
//     day's first reading (a day that opens in a recharge starts full).
//     The chain restarts monthly so month tasks stay independent (see
//     stateAfter). On a window row, over the window's samples.
//   - State files: each day's segment is committed with every jar's
//     end-of-day filter state (lake.StateArea, twinstate.go), bit-exact,
//     with the code version and the chain digest it was computed from. A
//     day derived without its predecessor in the run (a daily run, a
//     rerun) resumes that state when the digest is what the month's inputs
//     give now, else rebuilds the chain (a debug line says why): one day
//     of filtering instead of the month so far, and the same bytes.
//   - soh_pct and capacity_fade_pct: the latest capacity test of the
//     jar's string known by captured_at and run after the jar was
//     installed (capacity_test_calc joined to capacity_test_raw):
//     capacity_pct_of_rated, and (1 - measured / initial_capacity_ah) × 100.
//   - power_fade_pct: (1 - R0_initial / R0_now) × 100 with the calibrated
//     R0 corrected to 25 °C (calc.DefaultResistanceTemp) against the
//     battery's initial_resistance_mohm.
//   - ocv_params_json: twin.FitOCV over the calibrations' fitted OCV
//     offsets, points at their window's start SOC, taken only from fits
//     that identified τ1 (else the float overpotential and the offset are
//     one unknown). Windows start on float (SOC ≈ 1), so the SOC spread
//     is nil and the fit keeps the literature slope through the jar's own
//     offset ("source": "offset"); with no point, the literature curve
//     ("source": "prior").
//   - In practice on this lake: transfers (200 A, 30 s) give R0 within a
//     few % of the BMS ohmic readings, but the circuit leaves ~57 mV RMSE
//     (the coup de fouet and the float overpotential are not in it), so
//     R1/C1 stay NULL; surges are mostly below minStepV. Hence R1/C1,
//     R2/C2 NULL and the prior OCV curve on every row so far.
//   - c1_f, c2_f: the seed's DECIMAL(10,4) holds < 10^6 F; a 30 min pair
//     of a 2 mΩ block is ~10^6 F and would be written NULL, not wrapped
//     (every value that does not fit its DECIMAL is NULL).
//   - sei_thickness_nm stays NULL: the solid-electrolyte interphase is a
//     lithium-ion anode film; a lead-acid block has no SEI (its ageing is
//     grid corrosion, sulphation and dry-out), so there is nothing to
//     estimate.
//
// Lineage of day d: the jar and string raw segments of d, one digest of
// the event-window segments and blobs of [d - calibLookBack, d], one of the
// capacity tests known by the end of d, the master rows of d, the removals
// known by d, and a digest of the same inputs of the month's earlier days
// (the filter chain d resumes, chainThrough(d-1): what d-1's state file
// records). The
// window fits are computed once per run (a shared cache, evicted behind
// the look-back), only when a stale day asks for them: a rerun with
// nothing stale reads no blob.

// Calibration settings.
const (
	calibLookBack = 30    // days a calibration stays current (and a daily append reads back)
	calibMaxRMSE  = 0.030 // V: pairs from a fit worse than this are not kept
	decimateS     = 1.0   // s: identification samples (edges kept at full rate)
	ekfStepS      = 60    // s: the daily filter's step
	// maxResponseS caps the response identified: 4 × the longest prior τ1
	// (60 s); longer windows (15 min capacity tests) add cost, not
	// information, as τ2 needs 30 min anyway.
	maxResponseS = 240.0
	minStepA     = 5.0 // A: a current step (float currents are < 1 A)
	// minStepV: a calibration's voltage step must be ≥ 20 steps of a 5 mV
	// BMS resolution, so R0 is within ~5 % (a 12 A surge moves a jar by
	// ~50 mV: too little; a 200 A transfer by ~0.8 V).
	minStepV = 0.1
	chargeA  = 0.5 // A: a response ends when the string charges again
)

// TwinJobs are the jobs of stage twin over lake l (debug lines to
// slog.Default()).
func TwinJobs(l *lake.Lake) []pipeline.Job { return TwinJobsLog(l, nil) }

// TwinJobsLog is TwinJobs logging to log (nil: slog.Default()): a day that
// cannot resume its predecessor's persisted filter state says why at debug
// level.
func TwinJobsLog(l *lake.Lake, log *slog.Logger) []pipeline.Job {
	if log == nil {
		log = slog.Default()
	}
	t := schema.MustLookup("digital_twin_state")
	return []pipeline.Job{&pipeline.FuncJob{JobName: t.Name, StageName: "twin", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		src, err := loadTwinSources(ctx, l)
		if err != nil || src == nil {
			return nil, err
		}
		src.table, src.log = t, log
		months, byMonth := DaySegmentsByMonth(src.jar.Days(), src.lineage)
		var tasks []pipeline.Task
		for _, m := range months {
			tasks = append(tasks, pipeline.Task{Partition: lake.MustPartition(t, m, -1), Meta: Meta(t.Name), Segments: byMonth[m],
				Weight: int64(len(byMonth[m])) * 50_000, Run: func(ctx context.Context, o *lake.Output) error { return src.writeDay(ctx, o, t) }})
		}
		return tasks, nil
	}}}
}

// twinWindow is one event window of telemetry_event_window with its blob.
type twinWindow struct {
	id, stringID uuid.UUID
	start, end   time.Time
	blob         lake.SegmentFile // the event_window_sample object
	day          time.Time        // the window table's day segment
}

// capTest is one capacity test result with what the join needs.
type capTest struct {
	stringID   uuid.UUID
	testDate   int64 // µs
	knownAt    int64 // µs: test_date + duration
	measuredAh float64
	pct        float64
}

type twinSources struct {
	l          *lake.Lake
	master     *Master
	jar, str   *Index
	winIx      *Index
	windows    []twinWindow // by (end, id)
	winDigest  map[time.Time]string
	tests      []capTest           // by knownAt
	testsBy    map[uuid.UUID][]int // string → indexes into tests, by knownAt
	testInputs []lake.Input

	mu   sync.Mutex
	fits map[uuid.UUID]*windowFit // by window id

	// removed is when each jar left service (battery.replaced_date):
	// no daily row from that day on.
	removed map[uuid.UUID]time.Time

	table *schema.Table // digital_twin_state: where the persisted states are
	log   *slog.Logger

	memo lineageMemo

	// The daily filters' end states, by day (see stateAfter), and each
	// day's own lineage digest (the chain's links).
	chainMu sync.Mutex
	ends    map[time.Time]*dayEnd
	own     map[time.Time]string
}

// dayEnd is every jar's filter state at the end of one day.
type dayEnd struct {
	once   sync.Once
	err    error
	states map[uuid.UUID]twin.EKFState
}

func loadTwinSources(ctx context.Context, l *lake.Lake) (*twinSources, error) {
	jar, err := Load(ctx, l, schema.MustLookup("telemetry_jar_raw"))
	if err != nil || len(jar.Parts) == 0 {
		return nil, err
	}
	src := &twinSources{l: l, jar: jar, fits: map[uuid.UUID]*windowFit{}, winDigest: map[time.Time]string{},
		ends: map[time.Time]*dayEnd{}, own: map[time.Time]string{}}
	if src.str, err = Load(ctx, l, schema.MustLookup("telemetry_string_raw")); err != nil {
		return nil, err
	}
	if src.master, err = LoadMaster(ctx, l); err != nil {
		return nil, err
	}
	if src.removed, err = loadReplaced(ctx, l); err != nil {
		return nil, err
	}
	if err := src.loadWindows(ctx); err != nil {
		return nil, err
	}
	if err := src.loadTests(ctx); err != nil {
		return nil, err
	}
	return src, nil
}

// loadWindows lists the event windows and their blobs (through the
// manifest: a blob is read only as the manifest recorded it).
func (s *twinSources) loadWindows(ctx context.Context) error {
	wt, st := schema.MustLookup("telemetry_event_window"), schema.MustLookup("event_window_sample")
	ix, err := Load(ctx, s.l, wt)
	if err != nil {
		return err
	}
	s.winIx = ix
	for _, c := range ix.Parts {
		blobs := map[string]lake.FileEntry{}
		for _, f := range c.Manifest.Files {
			if f.Role == "blob" {
				blobs[f.Key] = f
			}
		}
		daySHA := map[time.Time][]any{}
		for _, f := range c.SegmentsOverlapping(time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) {
			day := f.Segment.From
			daySHA[day] = append(daySHA[day], f.Data.SHA256)
			if err := eachWindowRow(ctx, s.l, f, func(w twinWindow, url string) error {
				if url == "" {
					// Historian days keep the window's row without its
					// high-rate samples: nothing to identify from.
					return nil
				}
				b, ok := blobs[url]
				if !ok {
					return fmt.Errorf("window %s: blob %s not in the manifest", w.id, url)
				}
				w.blob = lake.SegmentFile{Partition: lake.Partition{Table: st, Month: c.Partition.Month, Bucket: -1}, Segment: f.Segment, Data: b}
				w.day = day
				daySHA[day] = append(daySHA[day], b.SHA256)
				s.windows = append(s.windows, w)
				return nil
			}); err != nil {
				return err
			}
		}
		for d, parts := range daySHA {
			s.winDigest[d] = Digest(parts...)
		}
	}
	sort.Slice(s.windows, func(i, j int) bool {
		a, b := &s.windows[i], &s.windows[j]
		if !a.end.Equal(b.end) {
			return a.end.Before(b.end)
		}
		return lessUUID(a.id, b.id)
	})
	return nil
}

// eachWindowRow reads telemetry_event_window through Arrow (the URL is a
// string).
func eachWindowRow(ctx context.Context, l *lake.Lake, f lake.SegmentFile, fn func(twinWindow, string) error) error {
	return EachRecord(ctx, l, f, []string{"window_id", "string_id", "start_ts", "end_ts", "data_blob_url"}, func(rec arrow.RecordBatch) error {
		from, to := rec.Column(2).(*array.Timestamp), rec.Column(3).(*array.Timestamp)
		for i := 0; i < int(rec.NumRows()); i++ {
			id, _ := uuidAt(rec.Column(0), i)
			sid, _ := uuidAt(rec.Column(1), i)
			w := twinWindow{id: id, stringID: sid, start: time.UnixMicro(int64(from.Value(i))).UTC(), end: time.UnixMicro(int64(to.Value(i))).UTC()}
			if err := fn(w, str(rec.Column(4), i)); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadTests joins capacity_test_calc (results) to capacity_test_raw
// (string, date, duration).
func (s *twinSources) loadTests(ctx context.Context) error {
	raw, err := Load(ctx, s.l, schema.MustLookup("capacity_test_raw"))
	if err != nil {
		return err
	}
	cal, err := Load(ctx, s.l, schema.MustLookup("capacity_test_calc"))
	if err != nil {
		return err
	}
	type res struct{ ah, pct float64 }
	results := map[uuid.UUID]res{}
	for _, f := range cal.All() {
		if err := EachSlice(ctx, s.l, f, parquetio.ReadOptions{Columns: []string{"test_id", "measured_capacity_ah", "capacity_pct_of_rated"}}, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			for i := 0; i < b.Rows; i++ {
				if ah, pct := i32(&c[1], i), i32(&c[2], i); ah != calc.Null32 && pct != calc.Null32 {
					results[c[0].UUID[i]] = res{float64(ah) / 100, float64(pct) / 100}
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for _, f := range raw.All() {
		if err := eachCapacityTest(ctx, s.l, f, func(t calc.CapacityTestRaw) error {
			r, ok := results[t.TestID]
			if !ok {
				return nil
			}
			known := t.TestDate
			if t.DurationDeciMin != calc.Null32 {
				known += int64(t.DurationDeciMin) * 6_000_000 // 0.1 min in µs
			}
			s.tests = append(s.tests, capTest{stringID: t.StringID, testDate: t.TestDate, knownAt: known, measuredAh: r.ah, pct: r.pct})
			return nil
		}); err != nil {
			return err
		}
	}
	sort.Slice(s.tests, func(i, j int) bool {
		a, b := &s.tests[i], &s.tests[j]
		if a.knownAt != b.knownAt {
			return a.knownAt < b.knownAt
		}
		return lessUUID(a.stringID, b.stringID)
	})
	s.testsBy = map[uuid.UUID][]int{}
	for i := range s.tests {
		s.testsBy[s.tests[i].stringID] = append(s.testsBy[s.tests[i].stringID], i)
	}
	return nil
}

// lineage of day d: its own inputs, the removals known by its end, and
// the chain of the month's earlier days (the filter state it starts from).
func (s *twinSources) lineage(d time.Time) []lake.Input {
	in := slices.Clone(s.ownLineage(d))
	in = append(in, lake.Input{Table: "master_removals", Segment: d.Format(time.DateOnly), SHA256: s.removalsDigest(d)})
	chain := Digest() // a month's first day starts cold
	if p := d.AddDate(0, 0, -1); !p.Before(chainStart(d)) {
		chain = s.chainThrough(p)
	}
	// Not a table name: a digest only this job recomputes (validate
	// does not look for a partition behind it).
	return append(in, lake.Input{Table: "twin_filter_chain", Segment: d.Format(time.DateOnly), SHA256: chain})
}

// chainThrough digests the filter chain that ends on day p: the own
// inputs of every day of p's month up to p. It is what p's end state is a
// function of (with the code), so the next day's lineage records it and
// p's state file carries it.
func (s *twinSources) chainThrough(p time.Time) string {
	var chain []any
	for e := chainStart(p); !e.After(p); e = e.AddDate(0, 0, 1) {
		chain = append(chain, e.Format(time.DateOnly), s.ownDigest(e))
	}
	return Digest(chain...)
}

// chainStart is the first day of d's month: the daily filters chain within
// a month and start cold on its first day (see stateAfter).
func chainStart(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ownDigest is the digest of day d's own inputs, once per run.
func (s *twinSources) ownDigest(d time.Time) string {
	s.chainMu.Lock()
	dg, ok := s.own[d]
	s.chainMu.Unlock()
	if ok {
		return dg
	}
	var parts []any
	for _, in := range s.ownLineage(d) {
		parts = append(parts, in.Table, in.Segment, in.SHA256)
	}
	dg = Digest(parts...)
	s.chainMu.Lock()
	s.own[d] = dg
	s.chainMu.Unlock()
	return dg
}

// ownLineage is what day d's rows read themselves: the jar and string raw
// segments of d, the event windows of its look-back, the capacity tests
// known by its end and the master rows of d.
func (s *twinSources) ownLineage(d time.Time) []lake.Input {
	s.memo.mu.Lock()
	in, ok := s.memo.own[d]
	s.memo.mu.Unlock()
	if ok {
		return in
	}
	in = s.ownLineageOnce(d)
	s.memo.mu.Lock()
	if s.memo.own == nil {
		s.memo.own = map[time.Time][]lake.Input{}
	}
	s.memo.own[d] = in
	s.memo.mu.Unlock()
	return in
}

// lineageMemo holds what the lineage of a year of days shares: each
// day's own lineage (the plan and the filter chain both ask for it), and
// the digests of the sets that grow with the day (tests known, removals
// known, jars installed) by their size. A day's lineage digested every
// test, removal and installed jar again: ~10^6 formatted values and
// ~10^9 hashed bytes to plan the fleet's 15-month history.
type lineageMemo struct {
	mu        sync.Mutex
	own       map[time.Time][]lake.Input
	testKeys  []string       // RowKey of each test, by s.tests
	tests     map[int]string // digest of the first k tests
	rmKeys    []string       // RowKey(id, removed) by master battery, "" if in service
	rmAt      []time.Time    // removal day by master battery
	removals  map[int]string // digest of the removals known, by their count
	installed map[int]string // master DayInput digest, by the jars installed
}

// testsDigest is the digest of the tests known before end: s.tests is by
// knownAt, so they are its first k.
func (s *twinSources) testsDigest(end int64) string {
	k := sort.Search(len(s.tests), func(i int) bool { return s.tests[i].knownAt >= end })
	m := &s.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.testKeys == nil {
		m.testKeys, m.tests = make([]string, len(s.tests)), map[int]string{}
		for i, t := range s.tests {
			m.testKeys[i] = RowKey(t.stringID, t.testDate, t.knownAt, t.measuredAh, t.pct)
		}
	}
	if dg, ok := m.tests[k]; ok {
		return dg
	}
	dg := digestKeys(m.testKeys[:k], nil)
	m.tests[k] = dg
	return dg
}

// removalsDigest is the digest of (battery, replaced_date) of the jars
// removed by d, in master order: a set that only grows with d, so its size
// names it.
func (s *twinSources) removalsDigest(d time.Time) string {
	m := &s.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rmKeys == nil {
		m.rmKeys, m.rmAt, m.removals = make([]string, len(s.master.Batteries)), make([]time.Time, len(s.master.Batteries)), map[int]string{}
		for i := range s.master.Batteries {
			b := &s.master.Batteries[i]
			if r, ok := s.removed[b.ID]; ok {
				m.rmKeys[i], m.rmAt[i] = RowKey(b.ID, r), r
			}
		}
	}
	n := 0
	for i, k := range m.rmKeys {
		if k != "" && !m.rmAt[i].After(d) {
			n++
		}
	}
	if dg, ok := m.removals[n]; ok {
		return dg
	}
	dg := digestKeys(m.rmKeys, func(i int) bool { return m.rmKeys[i] != "" && !m.rmAt[i].After(d) })
	m.removals[n] = dg
	return dg
}

// masterDay is s.master.DayInput(d, nil): the jars installed by the end of
// d, a set that only grows with d.
func (s *twinSources) masterDay(d time.Time) lake.Input {
	end := d.AddDate(0, 0, 1)
	n := 0
	for i := range s.master.Batteries {
		if b := &s.master.Batteries[i]; b.Installed.IsZero() || b.Installed.Before(end) {
			n++
		}
	}
	m := &s.memo
	m.mu.Lock()
	dg, ok := m.installed[n]
	m.mu.Unlock()
	if ok {
		return lake.Input{Table: "master", Segment: d.Format(time.DateOnly), SHA256: dg}
	}
	in := s.master.DayInput(d, nil)
	m.mu.Lock()
	if m.installed == nil {
		m.installed = map[int]string{}
	}
	m.installed[n] = in.SHA256
	m.mu.Unlock()
	return in
}

// digestKeys is Digest of the parts whose RowKeys are keys (those i with
// keep(i), all when keep is nil).
func digestKeys(keys []string, keep func(int) bool) string {
	h := sha256.New()
	for i, k := range keys {
		if keep == nil || keep(i) {
			h.Write([]byte(k))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *twinSources) ownLineageOnce(d time.Time) []lake.Input {
	in := append(Inputs(s.jar.dayFiles(d, -1)), Inputs(s.str.dayFiles(d, -1))...)
	var parts []any
	for k := calibLookBack; k >= 0; k-- {
		day := d.AddDate(0, 0, -k)
		if dg, ok := s.winDigest[day]; ok {
			parts = append(parts, day.Format(time.DateOnly), dg)
		}
	}
	in = append(in, lake.Input{Table: "telemetry_event_window+event_window_sample", Segment: d.Format(time.DateOnly), SHA256: Digest(parts...)})
	in = append(in, lake.Input{Table: "capacity_test_raw+capacity_test_calc", Segment: d.Format(time.DateOnly), SHA256: s.testsDigest(d.AddDate(0, 0, 1).UnixMicro())})
	return append(in, s.masterDay(d))
}

// --- calibration ------------------------------------------------------------

// jarFit is one jar's identification on one window.
type jarFit struct {
	fit   twin.Fit
	ok    bool    // a calibration (R0 identified from a large enough step)
	tempC float64 // mean jar temperature over the response
	soc   float64 // EKF SOC at the window's end
	soc0  float64 // SOC at the window's start (the OCV point's SOC)
}

type windowFit struct {
	once sync.Once
	err  error
	jars map[uuid.UUID]*jarFit
}

// fitsOf returns the fits of w, computing them once per run.
func (s *twinSources) fitsOf(ctx context.Context, w *twinWindow) (map[uuid.UUID]*jarFit, error) {
	s.mu.Lock()
	wf, ok := s.fits[w.id]
	if !ok {
		wf = &windowFit{}
		s.fits[w.id] = wf
	}
	s.mu.Unlock()
	wf.once.Do(func() { wf.jars, wf.err = s.fitWindow(ctx, w) })
	return wf.jars, wf.err
}

// evictSlack (days) keeps fits a month behind a day's look-back: month
// tasks run two at a time, a month apart at most, so the other task
// rarely needs a fit this one dropped (if it does, it recomputes it, with
// the same result).
const evictSlack = 31

// evict drops the fits of windows that started before from: days derive
// in order within a month task, so a fit older than the day's look-back
// is not needed by it again, and the cache holds a look-back and two
// months of windows, not the run's date range.
func (s *twinSources) evict(from time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.windows {
		w := &s.windows[i]
		if w.start.Before(from) {
			delete(s.fits, w.id)
		}
	}
}

// fitWindow reads a window's blob (sorted by battery, then time) and
// identifies every jar in it.
func (s *twinSources) fitWindow(ctx context.Context, w *twinWindow) (map[uuid.UUID]*jarFit, error) {
	out := map[uuid.UUID]*jarFit{}
	var (
		cur  uuid.UUID
		win  twin.Window
		temp []float64
		t0   = w.start.UnixMicro()
	)
	flush := func() {
		if len(win.T) > 0 {
			out[cur] = s.fitJar(cur, win, temp)
		}
		// The next jar reuses the buffers (fitJar keeps none of them).
		win.T, win.I, win.V, temp = win.T[:0], win.I[:0], win.V[:0], temp[:0]
	}
	err := EachSlice(ctx, s.l, w.blob, parquetio.ReadOptions{Columns: []string{"battery_id", "ts", "voltage_v", "current_a", "temperature_c"}}, func(b *parquetio.SliceBatch) error {
		c := b.Cols
		for i := 0; i < b.Rows; i++ {
			id := uuid.UUID(c[0].UUID[i])
			if id != cur {
				flush()
				cur = id
			}
			v, a, tc := i32(&c[2], i), i32(&c[3], i), i32(&c[4], i)
			if v == calc.Null32 || a == calc.Null32 {
				continue // a reading the identification cannot use
			}
			win.T = append(win.T, float64(c[1].Int64[i]-t0)/1e6)
			win.V = append(win.V, float64(v)/1000)
			win.I = append(win.I, float64(a)/1000)
			temp = append(temp, nullTemp(tc))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

func nullTemp(v int32) float64 {
	if v == calc.Null32 {
		return math.NaN()
	}
	return float64(v) / 10
}

// fitJar identifies one jar on its window samples and runs the filter
// over them.
func (s *twinSources) fitJar(id uuid.UUID, w twin.Window, temp []float64) *jarFit {
	jf := &jarFit{soc: math.NaN(), soc0: math.NaN(), tempC: meanFinite(temp)}
	capAh := 100.0
	if b, ok := s.master.Battery(id); ok {
		if md, err := s.master.ModelOf(b); err == nil && md.CapacityAh > 0 {
			capAh = md.CapacityAh
		}
	}
	jf.soc0 = startSOC(w.V[0], w.I[0], jf.tempC)
	// Only a discharge step of minStepV or more is worth identifying.
	if from, to, ok := twin.DischargeResponse(w.I, minStepA, chargeA); ok && math.Abs(w.V[from+1]-w.V[from]) >= minStepV {
		for to > from+1 && w.T[to-1]-w.T[from] > maxResponseS {
			to--
		}
		resp := twin.Window{T: w.T[from:to], I: w.I[from:to], V: w.V[from:to]}
		if f, err := twin.Identify(twin.Decimate(resp, decimateS, chargeA), twin.DefaultIdent); err == nil {
			// R0 stands on the step alone; the pairs only when the
			// circuit explains the response (a transfer's coup de fouet
			// and float overpotential can leave 50+ mV it does not).
			if f.RMSEV >= calibMaxRMSE {
				f.Tau1OK, f.Tau2OK = false, false
				f.ECM.R1, f.ECM.C1, f.ECM.R2, f.ECM.C2 = math.NaN(), math.NaN(), math.NaN(), math.NaN()
			}
			jf.fit, jf.ok = f, true
		}
	}
	e := twin.ECM{R0: math.NaN(), R1: math.NaN(), C1: math.NaN(), R2: math.NaN(), C2: math.NaN()}
	if jf.ok {
		e = jf.fit.ECM
	} else if b, ok := s.master.Battery(id); ok && b.InitialResistanceMOhm > 0 {
		e.R0 = b.InitialResistanceMOhm / 1000
	} else {
		return jf
	}
	f := twin.NewEKF(twin.DefaultEKF(capAh, e, twin.PriorOCV), jf.soc0)
	d := twin.Decimate(w, decimateS, chargeA)
	for k := range d.T {
		f.Step(d.T[k], d.I[k], d.V[k], jf.tempC)
	}
	jf.soc = f.SOC()
	return jf
}

// startSOC is the filter's starting point: a block whose voltage is above
// the top of the OCV curve is on charge or float (full); otherwise the
// curve's inverse (the filter's large initial variance corrects it).
func startSOC(v, i, tempC float64) float64 {
	if math.IsNaN(tempC) {
		tempC = 25
	}
	if i >= 0 && v > twin.PriorOCV.At(1, tempC) {
		return 1
	}
	return twin.PriorOCV.SOCAt(v, tempC)
}

func meanFinite(x []float64) float64 {
	var s float64
	n := 0
	for _, v := range x {
		if !math.IsNaN(v) {
			s += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// --- rows -------------------------------------------------------------------

// calibration is a jar's current calibration.
type calibration struct {
	fit     twin.Fit
	tempC   float64
	at      time.Time // the window's start
	ocvPts  [3][]float64
	hasCal  bool
	ocvJSON []byte // cached encoding of the OCV fit of ocvPts
}

// twinRow is one digital_twin_state row before writing.
type twinRow struct {
	id       uuid.UUID // state_id
	battery  uuid.UUID
	at       time.Time
	window   uuid.UUID // zero on daily rows
	soc      float64
	cal      *calibration
	testDone *capTest
	b        *Battery
}

func (s *twinSources) writeDay(ctx context.Context, o *lake.Output, t *schema.Table) error {
	d := o.Segment().From
	end := d.AddDate(0, 0, 1)
	cals, rows, err := s.calibrations(ctx, d, true)
	if err != nil {
		return err
	}
	states, err := s.stateAfter(ctx, d)
	if err != nil {
		return err
	}
	// The day's end state, for the next day derived alone.
	if err := o.WriteState(func(w io.Writer) error {
		_, err := w.Write(encodeTwinState(d, s.chainThrough(d), states))
		return err
	}); err != nil {
		return err
	}
	at := end.Add(-time.Second)
	for i := range s.master.Batteries {
		b := &s.master.Batteries[i]
		if !b.Installed.IsZero() && !b.Installed.Before(end) {
			continue
		}
		// A jar removed from service (replaced_date on or before d) has
		// no state any more.
		if r, ok := s.removed[b.ID]; ok && !r.After(d) {
			continue
		}
		soc := math.NaN()
		if st, ok := states[b.ID]; ok {
			soc = st.X[0]
		}
		rows = append(rows, twinRow{battery: b.ID, at: at, soc: soc, cal: cals[b.ID], b: b})
	}
	for i := range rows {
		r := &rows[i]
		r.testDone, r.id = s.latestTest(r.b, r.at), stateID(r)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if a.battery != b.battery {
			return lessUUID(a.battery, b.battery)
		}
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return lessUUID(a.id, b.id)
	})
	// The row builder, not a typed writer: parquet-go v0.32 writes an
	// optional JSON field of a typed row as NULL (*string) or panics in its
	// level histograms (string, []byte).
	return writeRows(o, t, len(rows), func(i int, rb *parquetio.RowBuilder) { s.setRow(rb, &rows[i]) })
}

// calibrations are the jars' calibrations current at the end of day d
// (windows of the look-back, in window-end order) and, when rows, the
// window rows of d.
func (s *twinSources) calibrations(ctx context.Context, d time.Time, withRows bool) (map[uuid.UUID]*calibration, []twinRow, error) {
	end := d.AddDate(0, 0, 1)
	from := d.AddDate(0, 0, -calibLookBack)
	cals := map[uuid.UUID]*calibration{}
	var rows []twinRow
	for i := range s.windows {
		w := &s.windows[i]
		if w.start.Before(from) || !w.end.Before(end) {
			continue
		}
		fits, err := s.fitsOf(ctx, w)
		if err != nil {
			return nil, nil, err
		}
		ids := make([]uuid.UUID, 0, len(fits))
		for id := range fits {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return lessUUID(ids[i], ids[j]) })
		for _, id := range ids {
			jf := fits[id]
			c := cals[id]
			if c == nil {
				c = &calibration{}
				cals[id] = c
			}
			if jf.ok {
				c.fit, c.tempC, c.at, c.hasCal, c.ocvJSON = jf.fit, jf.tempC, w.start, true, nil
				// The fitted OCV offset is an OCV point only when the fast
				// pair's initial voltage (the float overpotential) decayed
				// within the response: else the two are one unknown.
				if jf.fit.Tau1OK {
					c.ocvPts[0] = append(c.ocvPts[0], jf.soc0)
					c.ocvPts[1] = append(c.ocvPts[1], jf.tempC)
					c.ocvPts[2] = append(c.ocvPts[2], jf.fit.OCV0)
				}
			}
			if withRows && !w.end.Before(d) {
				b, ok := s.master.Battery(id)
				if !ok {
					continue // a jar the register does not know
				}
				cp := *c
				rows = append(rows, twinRow{battery: id, at: w.end, window: w.id, soc: jf.soc, cal: &cp, b: b})
			}
		}
	}
	s.evict(from.AddDate(0, 0, -evictSlack))
	return cals, rows, nil
}

// stateAfter is every jar's filter state at the end of day d: the day's
// filter resumed from the state at the end of d-1 (SOC, the pairs'
// voltages and their covariance, clock shifted by a day), or started cold
// from the day's first reading on the first day of a month or of the jar.
// Months stay independent tasks (they run in parallel; a stale day
// recomputes at most its month): the chain restarts on each month's first
// day. Within a month, days derive in order and each end state is kept
// until the next day used it. A day derived alone (a daily run, a rerun)
// resumes d-1's state as persisted by the run that wrote d-1 (see
// prevState), and rebuilds the chain only when that state is missing or
// was computed from other inputs: the same result either way.
func (s *twinSources) stateAfter(ctx context.Context, d time.Time) (map[uuid.UUID]twin.EKFState, error) {
	s.chainMu.Lock()
	e, ok := s.ends[d]
	if !ok {
		e = &dayEnd{}
		s.ends[d] = e
	}
	s.chainMu.Unlock()
	e.once.Do(func() {
		var prev map[uuid.UUID]twin.EKFState
		if p := d.AddDate(0, 0, -1); !p.Before(chainStart(d)) && len(s.jar.dayFiles(p, -1)) > 0 {
			if prev, e.err = s.prevState(ctx, p); e.err != nil {
				return
			}
		}
		var cals map[uuid.UUID]*calibration
		if cals, _, e.err = s.calibrations(ctx, d, false); e.err != nil {
			return
		}
		e.states, e.err = s.dailySOC(ctx, d, cals, prev)
		// The previous day's states are not needed again, nor a month's
		// last day's (the next month starts cold).
		s.chainMu.Lock()
		delete(s.ends, d.AddDate(0, 0, -1))
		if d.AddDate(0, 0, 1).Day() == 1 {
			delete(s.ends, d)
		}
		s.chainMu.Unlock()
	})
	if e.err != nil {
		// Not kept: a retried task (a transient read error) computes the
		// day again instead of returning the saved error.
		s.chainMu.Lock()
		if s.ends[d] == e {
			delete(s.ends, d)
		}
		s.chainMu.Unlock()
	}
	return e.states, e.err
}

// prevState is the end state of day p for the next day: this run's when
// it computed p, else p's state file when it was computed from the chain
// the month's inputs give now (chainThrough(p)) by this code, else p
// recomputed (whose own predecessor is looked up the same way). A state
// file is a cache: any doubt about one costs a rebuild, never other bytes.
func (s *twinSources) prevState(ctx context.Context, p time.Time) (map[uuid.UUID]twin.EKFState, error) {
	s.chainMu.Lock()
	_, inRun := s.ends[p]
	s.chainMu.Unlock()
	if inRun {
		return s.stateAfter(ctx, p)
	}
	part := lake.MustPartition(s.table, lake.Month(p), -1)
	b, e, err := s.l.ReadState(ctx, part, p.Format(time.DateOnly))
	var st map[uuid.UUID]twin.EKFState
	if err == nil {
		st, err = decodeTwinState(e.State.Key, b, p, s.chainThrough(p))
	}
	if err == nil {
		s.log.Debug("twin: resumed the persisted filter state", "day", p.AddDate(0, 0, 1).Format(time.DateOnly), "state", e.State.Key)
		return st, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	s.log.Debug("twin: rebuilding the filter chain", "day", p.AddDate(0, 0, 1).Format(time.DateOnly), "state_of", p.Format(time.DateOnly), "reason", err)
	return s.stateAfter(ctx, p)
}

// stateID is a uuid (version 5 layout) from a hash of the battery, the
// capture time and the window (zero on daily rows): reruns write the same
// ids.
func stateID(r *twinRow) uuid.UUID {
	var key [40]byte
	copy(key[:16], r.battery[:])
	binary.BigEndian.PutUint64(key[16:24], uint64(r.at.UnixMicro()))
	copy(key[24:], r.window[:])
	return uuid.NewSHA1(twinNS, key[:])
}

var twinNS = uuid.MustParse("6f1d3c52-5a0e-4c35-9d7e-0b8f7d2a9e61") // digital_twin_state ids

// latestTest is the latest capacity test of b's string known by at and
// run after b was installed.
func (s *twinSources) latestTest(b *Battery, at time.Time) *capTest {
	lim := at.UnixMicro()
	idx := s.testsBy[b.StringID]
	// The last test known by at, then back to one run after installation.
	k := sort.Search(len(idx), func(i int) bool { return s.tests[idx[i]].knownAt > lim }) - 1
	for ; k >= 0; k-- {
		if x := &s.tests[idx[k]]; b.Installed.IsZero() || x.testDate >= b.Installed.UnixMicro() {
			return x
		}
	}
	return nil
}

func (s *twinSources) setRow(rb *parquetio.RowBuilder, r *twinRow) {
	rb.Set("state_id", r.id).Set("battery_id", r.battery).Set("captured_at", r.at)
	// A value that is NaN or does not fit its DECIMAL is NULL.
	setDec := func(col string, v, lim float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) <= lim {
			rb.Set(col, v)
		}
	}
	setDec("soc_pct", 100*r.soc, 100)
	if x := r.testDone; x != nil {
		setDec("soh_pct", x.pct, 999.99)
		if init := r.b.InitialCapacityAh; init > 0 {
			setDec("capacity_fade_pct", twin.CapacityFadePct(x.measuredAh, init), 999.99)
		}
	}
	c := r.cal
	if c == nil || !c.hasCal {
		rb.Set("ocv_params_json", priorOCVJSON)
		return
	}
	e := c.fit.ECM
	setDec("r0_mohm", 1000*e.R0, 99999.999)
	setDec("r1_mohm", 1000*e.R1, 99999.999)
	setDec("c1_f", e.C1, 999999.9999)
	setDec("r2_mohm", 1000*e.R2, 99999.999)
	setDec("c2_f", e.C2, 999999.9999)
	setDec("calibration_rmse_v", c.fit.RMSEV, 99.9999)
	rb.Set("last_calibrated_at", c.at)
	if r.b.InitialResistanceMOhm > 0 && !math.IsNaN(c.tempC) {
		r25 := calc.DefaultResistanceTemp.To25(1000*e.R0, c.tempC)
		setDec("power_fade_pct", twin.PowerFadePct(r.b.InitialResistanceMOhm, r25), 999.99)
	}
	rb.Set("ocv_params_json", c.ocv())
}

// ocv is c's OCV fit as JSON, computed once per calibration state, not
// per row.
func (c *calibration) ocv() []byte {
	if c.ocvJSON == nil {
		c.ocvJSON = priorOCVJSON
		if ocv, err := twin.FitOCV(c.ocvPts[0], c.ocvPts[1], c.ocvPts[2]); err == nil {
			c.ocvJSON = ocvJSON(ocv)
		}
	}
	return c.ocvJSON
}

var priorOCVJSON = ocvJSON(twin.OCVFit{OCVParams: twin.PriorOCV, Source: "prior"})

// ocvJSON encodes an OCV fit (keys sorted, numbers rounded to 1 µV:
// stable bytes, and no reflection: it runs once per jar and day).
func ocvJSON(f twin.OCVFit) []byte {
	r := func(b []byte, x float64) []byte {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, math.Round(x*1e6)/1e6, 'f', -1, 64)
	}
	b := append(make([]byte, 0, 160), `{"e0_v":`...)
	b = r(b, f.E0)
	b = append(b, `,"e1_v":`...)
	b = r(b, f.E1)
	b = append(b, `,"kt_v_per_c":`...)
	b = r(b, f.KT)
	b = append(b, `,"model":"e0 + e1*soc + kt*(t_c - 25)","n":`...)
	b = strconv.AppendInt(b, int64(f.N), 10)
	b = append(b, `,"rmse_v":`...)
	b = r(b, f.RMSEV)
	b = append(b, `,"source":`...)
	b = strconv.AppendQuote(b, f.Source)
	return append(b, '}')
}

// --- daily filter -----------------------------------------------------------

// dailySOC runs the EKF of every jar over day d at 1 min steps: voltage
// and temperature the minute's last reading, current the string's mean
// over the minute (series string: every jar carries it).
func (s *twinSources) dailySOC(ctx context.Context, d time.Time, cals map[uuid.UUID]*calibration, prev map[uuid.UUID]twin.EKFState) (map[uuid.UUID]twin.EKFState, error) {
	const mins = 1440
	d0 := d.UnixMicro()
	minute := func(ts int64) int { return int((ts - d0) / (ekfStepS * 1e6)) }
	cur := map[uuid.UUID]*minuteCurrent{}
	for _, f := range s.str.dayFiles(d, -1) {
		if err := EachSlice(ctx, s.l, f, parquetio.ReadOptions{Columns: []string{"string_id", "ts", "current_a"}}, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			for i := 0; i < b.Rows; i++ {
				m, a := minute(c[1].Int64[i]), i32(&c[2], i)
				if m < 0 || m >= mins || a == calc.Null32 {
					continue
				}
				x := cur[c[0].UUID[i]]
				if x == nil {
					x = &minuteCurrent{}
					cur[c[0].UUID[i]] = x
				}
				x.sum[m] += float64(a) / 1000
				x.n[m]++
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	// One filter pass per bucket file, on the worker slots no other task
	// holds (the string currents and calibrations are read-only by now;
	// outputs merge in file order).
	files := s.jar.dayFiles(d, -1)
	outs := make([]map[uuid.UUID]twin.EKFState, len(files))
	if err := pipeline.Spread(ctx, len(files), func(k int) error {
		var err error
		outs[k], err = s.filterFile(ctx, files[k], d0, cur, cals, prev)
		return err
	}); err != nil {
		return nil, err
	}
	out := map[uuid.UUID]twin.EKFState{}
	for k := range files {
		for id, soc := range outs[k] {
			out[id] = soc
		}
	}
	return out, nil
}

// minuteCurrent is a string's current summed per minute of a day.
type minuteCurrent struct {
	sum [1440]float64
	n   [1440]int32
}

// filterFile runs the daily filter of every jar of one jar raw file
// (sorted by battery, then time): per minute, the last reading.
func (s *twinSources) filterFile(ctx context.Context, file lake.SegmentFile, d0 int64, cur map[uuid.UUID]*minuteCurrent, cals map[uuid.UUID]*calibration, prev map[uuid.UUID]twin.EKFState) (map[uuid.UUID]twin.EKFState, error) {
	const mins = 1440
	minute := func(ts int64) int { return int((ts - d0) / (ekfStepS * 1e6)) }
	out := map[uuid.UUID]twin.EKFState{}
	var (
		id      uuid.UUID
		lastM   = -1
		v, temp float64
		f       *twin.EKF
		str     *minuteCurrent
	)
	step := func() {
		if f == nil || lastM < 0 {
			return
		}
		i := 0.0
		if str != nil && str.n[lastM] > 0 {
			i = str.sum[lastM] / float64(str.n[lastM])
		}
		f.Step(float64(lastM+1)*ekfStepS, i, v, temp)
	}
	finish := func() {
		step()
		if f != nil {
			out[id] = f.State()
		}
		f, lastM = nil, -1
	}
	// Temperature is not read: it moves the OCV by 1.5 mV/°C, a tenth of
	// the filter's 20 mV measurement σ, and its column is a quarter of the
	// decode; the filter takes the calibration window's (else 25 °C).
	if err := EachSlice(ctx, s.l, file, parquetio.ReadOptions{Columns: []string{"battery_id", "ts", "voltage_v"}}, func(b *parquetio.SliceBatch) error {
		c := b.Cols
		for i := 0; i < b.Rows; i++ {
			bid := uuid.UUID(c[0].UUID[i])
			if bid != id || f == nil {
				if bid != id {
					finish()
				}
				id = bid
				jar, ok := s.master.Battery(bid)
				if !ok {
					continue
				}
				st, carried := prev[bid]
				f, str = s.newDayFilter(jar, cals[bid], c, i, st, carried), cur[jar.StringID]
				temp = 25
				if cl := cals[bid]; cl != nil && cl.hasCal && !math.IsNaN(cl.tempC) {
					temp = cl.tempC
				}
			}
			m := minute(c[1].Int64[i])
			if m < 0 || m >= mins {
				continue
			}
			if m != lastM {
				step()
				lastM = m
			}
			// The minute's last reading; a NULL voltage predicts only.
			v = math.NaN()
			if x := i32(&c[2], i); x != calc.Null32 && x > 0 {
				v = float64(x) / 1000
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	finish()
	return out, nil
}

// newDayFilter starts a jar's daily filter on its calibration (priors
// where NULL; R0 from the register's baseline before any calibration):
// from the previous day's end state when carried, else from the first
// reading of the day.
func (s *twinSources) newDayFilter(b *Battery, c *calibration, cols []parquetio.ColumnSlice, i int, prev twin.EKFState, carried bool) *twin.EKF {
	e := twin.ECM{R0: b.InitialResistanceMOhm / 1000, R1: math.NaN(), C1: math.NaN(), R2: math.NaN(), C2: math.NaN()}
	if c != nil && c.hasCal {
		e = c.fit.ECM
	}
	if !(e.R0 > 0) {
		e.R0 = 0.004 // 4 mΩ: a 100 Ah class block (no baseline, no calibration)
	}
	capAh := 100.0
	if md, err := s.master.ModelOf(b); err == nil && md.CapacityAh > 0 {
		capAh = md.CapacityAh
	}
	if x := s.latestTest(b, time.UnixMicro(cols[1].Int64[i])); x != nil && x.pct > 0 {
		capAh *= x.pct / 100
	}
	v, temp := math.NaN(), 25.0
	if x := i32(&cols[2], i); x != calc.Null32 {
		v = float64(x) / 1000
	}
	if c != nil && c.hasCal && !math.IsNaN(c.tempC) {
		temp = c.tempC
	}
	cfg := twin.DefaultEKF(capAh, e, twin.PriorOCV)
	if carried {
		return twin.Resume(cfg, prev.Shift(86400)) // the day before's clock
	}
	soc0 := 1.0
	if !math.IsNaN(v) {
		soc0 = startSOC(v, 0, temp)
	}
	return twin.NewEKF(cfg, soc0)
}
