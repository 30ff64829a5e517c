package features

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Null is the NULL sentinel of every unscaled decimal input column.
const Null int32 = math.MinInt32

const hourUS = int64(time.Hour / time.Microsecond)

// none marks "no timestamp yet".
const none = math.MinInt64

// Config tunes the engine; zero fields take the documented defaults.
type Config struct {
	// Windows are the window lengths in hours (default 1, 24, 168).
	Windows []int
	// MaxGap caps the dt of one sample (default 10 min); it must exceed the
	// sample interval of the data.
	MaxGap time.Duration
	// DischargeA and SurgeA are the discharge-current thresholds of a
	// discharge cycle and a surge, in amperes (defaults 1 and 20).
	DischargeA, SurgeA float64
	// EpisodeGap separates two episodes (default 5 min, at most 1 h).
	EpisodeGap time.Duration
	// EmitFrom and EmitTo bound the emitted feature_ts to [EmitFrom,
	// EmitTo); zero values are unbounded. Both must be on the hour.
	EmitFrom, EmitTo time.Time
	// MaxChunk is the longest chunk accepted (default 32 days).
	MaxChunk time.Duration
	// EmitHour, if set, is the cadence: the shortest window emitted at
	// feature_ts hour h (hours since the Unix epoch). Shorter windows are
	// skipped there, and a value above every window emits nothing at h.
	// nil emits every window every hour. It must be a pure function of h.
	EmitHour func(h int64) int64
}

func (c *Config) defaults() error {
	if len(c.Windows) == 0 {
		c.Windows = []int{1, 24, 168}
	}
	c.Windows = slices.Clone(c.Windows)
	slices.Sort(c.Windows)
	c.Windows = slices.Compact(c.Windows)
	if c.Windows[0] < 1 {
		return fmt.Errorf("window %d h: must be at least 1 h", c.Windows[0])
	}
	if c.MaxGap == 0 {
		c.MaxGap = 10 * time.Minute
	}
	if c.DischargeA == 0 {
		c.DischargeA = 1
	}
	if c.SurgeA == 0 {
		c.SurgeA = 20
	}
	if c.EpisodeGap == 0 {
		c.EpisodeGap = 5 * time.Minute
	}
	if c.MaxChunk == 0 {
		c.MaxChunk = 32 * 24 * time.Hour
	}
	switch {
	case c.MaxGap < 0 || c.EpisodeGap < 0 || c.EpisodeGap > time.Hour:
		return fmt.Errorf("max gap %s, episode gap %s: must be positive, episode gap at most 1h", c.MaxGap, c.EpisodeGap)
	case c.DischargeA < 0 || c.SurgeA < 0:
		return fmt.Errorf("thresholds %g A, %g A: must be positive", c.DischargeA, c.SurgeA)
	case c.MaxChunk%time.Hour != 0 || c.MaxChunk <= 0:
		return fmt.Errorf("max chunk %s: must be whole hours", c.MaxChunk)
	}
	for _, t := range []time.Time{c.EmitFrom, c.EmitTo} {
		if !t.IsZero() && t.UnixMicro()%hourUS != 0 {
			return fmt.Errorf("emit bound %s: not on the hour", t)
		}
	}
	return nil
}

// Battery is the master data of one jar (battery table).
type Battery struct {
	ID, StringID, ModelID uuid.UUID
	// InitialResistanceMOhm is initial_resistance_mohm; 0 when NULL.
	InitialResistanceMOhm float64
}

// Model is the float band of a battery_model row.
type Model struct {
	ID                   uuid.UUID
	FloatMinV, FloatMaxV float64
}

// Master is the master data the engine needs.
type Master struct {
	Batteries []Battery
	Models    []Model
	// RoomSensor maps string_id to the environmental sensor of the string's
	// battery room (see RoomSensors). A string without one gets NULL
	// t_delta_ambient_mean.
	RoomSensor map[uuid.UUID]uuid.UUID
}

// Sink receives feature rows. The row is reused after the call returns.
type Sink func(*Row) error

// series is an as-of input (env temperature of a sensor, THD of a string):
// sorted timestamps and values, holding the chunk's rows plus the last row
// before the chunk.
type series struct {
	ts  []int64
	val []int32
}

// carry keeps only the last row before from (the as-of value carried into
// the chunk).
func (s *series) carry(from int64) {
	k := sort.Search(len(s.ts), func(i int) bool { return s.ts[i] >= from })
	if k == 0 {
		s.ts, s.val = s.ts[:0], s.val[:0]
		return
	}
	n := copy(s.ts, s.ts[k-1:])
	copy(s.val, s.val[k-1:])
	s.ts, s.val = s.ts[:n], s.val[:n]
}

// asOf returns the index of the last row at or before t, or -1.
func (s *series) asOf(t int64) int {
	return sort.Search(len(s.ts), func(i int) bool { return s.ts[i] > t }) - 1
}

// Engine computes feature_store rows. See the package documentation for
// the feeding protocol.
type Engine struct {
	cfg                  Config
	windows              []int64 // hours, ascending
	maxW                 int64
	maxGap, episodeGap   int64 // µs
	dischargeMA, surgeMA int32
	emitFrom, emitTo     int64 // hour numbers, [from, to)

	bats    []batState
	batIdx  map[uuid.UUID]int32
	strs    []strState
	strIdx  map[uuid.UUID]int32
	strRing int64

	env    []series
	envIdx map[uuid.UUID]int32
	thd    []series
	thdIdx map[uuid.UUID]int32

	// chunk
	from, to  int64 // µs
	chunk     int   // chunk sequence number, from 1
	phase     int
	started   bool
	finalized bool
	open      atomic.Int32 // jar passes not closed
}

const (
	phaseSeries = iota
	phaseString
	phasePre
	phaseMain
)

// New validates the configuration and master data.
func New(cfg Config, m Master) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("features config: %w", err)
	}
	e := &Engine{
		cfg:         cfg,
		maxGap:      cfg.MaxGap.Microseconds(),
		episodeGap:  cfg.EpisodeGap.Microseconds(),
		dischargeMA: int32(math.Round(cfg.DischargeA * 1e3)),
		surgeMA:     int32(math.Round(cfg.SurgeA * 1e3)),
		emitFrom:    math.MinInt64,
		emitTo:      math.MaxInt64,
		batIdx:      make(map[uuid.UUID]int32, len(m.Batteries)),
		strIdx:      map[uuid.UUID]int32{},
		envIdx:      map[uuid.UUID]int32{},
		thdIdx:      map[uuid.UUID]int32{},
	}
	for _, w := range cfg.Windows {
		e.windows = append(e.windows, int64(w))
	}
	e.maxW = e.windows[len(e.windows)-1]
	if !cfg.EmitFrom.IsZero() {
		e.emitFrom = cfg.EmitFrom.UnixMicro() / hourUS
	}
	if !cfg.EmitTo.IsZero() {
		e.emitTo = cfg.EmitTo.UnixMicro() / hourUS
	}
	e.strRing = pow2(e.maxW + int64(cfg.MaxChunk/time.Hour) + 1)
	models := make(map[uuid.UUID]Model, len(m.Models))
	for _, md := range m.Models {
		models[md.ID] = md
	}
	bats := slices.Clone(m.Batteries)
	slices.SortFunc(bats, func(a, b Battery) int { return compareUUID(a.ID, b.ID) })
	e.bats = make([]batState, len(bats))
	for i, b := range bats {
		if _, dup := e.batIdx[b.ID]; dup {
			return nil, fmt.Errorf("features master: battery %s listed twice", b.ID)
		}
		md, ok := models[b.ModelID]
		if !ok {
			return nil, fmt.Errorf("features master: battery %s: model %s not in battery_model", b.ID, b.ModelID)
		}
		si, ok := e.strIdx[b.StringID]
		if !ok {
			si = int32(len(e.strs))
			e.strIdx[b.StringID] = si
			st := strState{id: b.StringID, lastTS: none, lastDis: none, lastSur: none, ring: make([]strHour, e.strRing), thd: -1, env: -1, mu: new(sync.Mutex)}
			for k := range st.ring {
				st.ring[k].hour = none
			}
			if sn, ok := m.RoomSensor[b.StringID]; ok {
				st.env = e.envSeries(sn)
			}
			e.strs = append(e.strs, st)
		}
		e.batIdx[b.ID] = int32(i)
		bs := &e.bats[i]
		*bs = batState{
			id: b.ID, str: si, baseline: b.InitialResistanceMOhm,
			fmin: int32(math.Round(md.FloatMinV * 1e3)), fmax: int32(math.Round(md.FloatMaxV * 1e3)),
			lastTS: none, firstR: Null, emitted: none, lastHour: none,
		}
	}
	return e, nil
}

// LookBack is how much raw data before the first emitted feature_ts the
// caller must feed: the largest window plus one hour.
func (e *Engine) LookBack() time.Duration { return time.Duration(e.maxW+1) * time.Hour }

// Windows returns the configured windows in hours, ascending.
func (e *Engine) Windows() []int { return slices.Clone(e.cfg.Windows) }

func (e *Engine) envSeries(id uuid.UUID) int32 {
	k, ok := e.envIdx[id]
	if !ok {
		k = int32(len(e.env))
		e.envIdx[id] = k
		e.env = append(e.env, series{})
	}
	return k
}

// BeginChunk starts the chunk [from, to): hour-aligned, no longer than
// Config.MaxChunk, starting where the previous chunk ended.
func (e *Engine) BeginChunk(from, to time.Time) error {
	f, t := from.UnixMicro(), to.UnixMicro()
	switch {
	case f%hourUS != 0 || t%hourUS != 0 || t <= f:
		return fmt.Errorf("chunk %s..%s: must be a non-empty range of whole hours", from, to)
	case t-f > e.cfg.MaxChunk.Microseconds():
		return fmt.Errorf("chunk %s..%s: longer than max chunk %s", from, to, e.cfg.MaxChunk)
	case e.started && f != e.to:
		return fmt.Errorf("chunk %s..%s: does not start where the previous chunk ended (%s)", from, to, time.UnixMicro(e.to).UTC())
	case e.phase != phaseSeries && e.started:
		return errors.New("chunk begun before the previous chunk ended")
	}
	e.from, e.to = f, t
	e.maxGap = e.cfg.MaxGap.Microseconds()
	e.chunk++
	e.started = true
	e.phase = phaseSeries
	for i := range e.env {
		e.env[i].carry(f)
	}
	for i := range e.thd {
		e.thd[i].carry(f)
	}
	for i := range e.strs {
		e.strs[i].slots.reset()
	}
	return nil
}

// SetMaxGap overrides Config.MaxGap for the current chunk's samples (data
// whose sample interval exceeds the default, e.g. a historian's 1 h): call
// it after BeginChunk, before the chunk's rows. The next BeginChunk
// restores Config.MaxGap.
func (e *Engine) SetMaxGap(d time.Duration) error {
	if !e.started || e.phase != phaseSeries {
		return errors.New("set max gap: only at the start of a chunk")
	}
	if d <= 0 {
		return fmt.Errorf("max gap %s: must be positive", d)
	}
	e.maxGap = d.Microseconds()
	return nil
}

func (e *Engine) enter(p int, what string) error {
	if !e.started {
		return fmt.Errorf("%s: no chunk begun", what)
	}
	if e.phase > p {
		return fmt.Errorf("%s: fed after a later input of the chunk (order: env and thd, string, jar pre-pass, jar pass)", what)
	}
	e.phase = p
	return nil
}

// SeriesBatch is a batch of an as-of series: telemetry_env (ID sensor_id,
// Value temperature_c ×10) or telemetry_string_calc (ID string_id, Value
// thd_pct ×100), sorted by (ID, TS).
type SeriesBatch struct {
	ID    []uuid.UUID
	TS    []int64
	Value []int32
}

// AddEnv feeds telemetry_env rows of the chunk. Rows of sensors no string
// maps to, NULL temperatures and rows at or after the chunk end are
// ignored.
func (e *Engine) AddEnv(b *SeriesBatch) error {
	if err := e.enter(phaseSeries, "telemetry_env"); err != nil {
		return err
	}
	return e.addSeries(b, e.env, e.envIdx, nil, "telemetry_env")
}

// AddTHD feeds telemetry_string_calc thd_pct rows of the chunk.
func (e *Engine) AddTHD(b *SeriesBatch) error {
	if err := e.enter(phaseSeries, "telemetry_string_calc"); err != nil {
		return err
	}
	return e.addSeries(b, nil, e.thdIdx, e, "telemetry_string_calc")
}

func (e *Engine) addSeries(b *SeriesBatch, ss []series, idx map[uuid.UUID]int32, thd *Engine, table string) error {
	n := len(b.TS)
	if len(b.ID) != n || len(b.Value) != n {
		return fmt.Errorf("%s batch: columns of %d, %d and %d rows", table, len(b.ID), n, len(b.Value))
	}
	var cur *series
	var curID uuid.UUID
	for i := 0; i < n; i++ {
		if i == 0 || b.ID[i] != curID {
			curID = b.ID[i]
			cur = nil
			if thd != nil {
				if _, known := e.strIdx[curID]; known {
					k, ok := idx[curID]
					if !ok {
						k = int32(len(e.thd))
						idx[curID] = k
						e.thd = append(e.thd, series{})
						e.strs[e.strIdx[curID]].thd = k
					}
					cur = &e.thd[k]
				}
			} else if k, ok := idx[curID]; ok {
				cur = &ss[k]
			}
		}
		if cur == nil || b.Value[i] == Null || b.TS[i] >= e.to {
			continue
		}
		if l := len(cur.ts); l > 0 && b.TS[i] <= cur.ts[l-1] {
			return fmt.Errorf("%s: id %s ts %s: rows not sorted by (id, ts) or duplicated", table, curID, time.UnixMicro(b.TS[i]).UTC())
		}
		cur.ts = append(cur.ts, b.TS[i])
		cur.val = append(cur.val, b.Value[i])
	}
	return nil
}

func compareUUID(a, b uuid.UUID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// pow2 rounds n up to a power of two: rings are indexed by hour & (len-1).
func pow2(n int64) int64 {
	p := int64(1)
	for p < n {
		p *= 2
	}
	return p
}
