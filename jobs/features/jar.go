package features

import (
	"fmt"
	"math"
	"sort"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// batState is one battery's carried state.
type batState struct {
	id         uuid.UUID
	str        int32
	fmin, fmax int32 // float band, mV
	baseline   float64
	firstR     int32
	lastTS     int64
	emitted    int64 // last feature_ts hour emitted (or skipped)
	lastHour   int64 // last hour with a row
	claimed    atomic.Int64
	ring       []jarHour // ≥ maxW+1 hours (a power of two), indexed by hour & (len-1), stamped
}

// jarHour is the partial of one battery-hour. Voltage sums are exact
// integers of the voltage minus ref (the hour's first voltage).
type jarHour struct {
	hour         int64
	rows         int32
	n            int32
	ref          int32
	vmin, vmax   int32
	s1, s2       int64
	tn, dn, bn   int32
	tmax         int32
	tsum, dsum   int64
	bal          float64
	rlast        int32
	below, above int64 // µs
}

// JarBatch is a batch of telemetry_jar_raw sorted by (battery_id, ts):
// Voltage is voltage_v ×1e3, Temp temperature_c ×10, Resistance
// resistance_mohm ×1e3. The pre-pass reads only BatteryID, TS and Voltage.
type JarBatch struct {
	BatteryID  []uuid.UUID
	TS         []int64
	Voltage    []int32
	Temp       []int32
	Resistance []int32
}

func (b *JarBatch) runs(f func(id uuid.UUID, i, j int) error) error {
	n := len(b.TS)
	for i := 0; i < n; {
		j := i + 1
		for j < n && b.BatteryID[j] == b.BatteryID[i] {
			j++
		}
		if err := f(b.BatteryID[i], i, j); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (e *Engine) battery(id uuid.UUID) (int32, error) {
	bi, ok := e.batIdx[id]
	if !ok {
		return 0, fmt.Errorf("telemetry_jar_raw: battery %s not in the master data", id)
	}
	return bi, nil
}

// AddJarVoltages feeds the string-mean pre-pass with the chunk's jar rows
// (BatteryID, TS, Voltage), from every bucket, before any JarPass. It is
// NewPrePass().Add for a single goroutine.
func (e *Engine) AddJarVoltages(b *JarBatch) error {
	p, err := e.NewPrePass()
	if err != nil {
		return err
	}
	return p.Add(b)
}

// AddJarVoltageRun is AddJarVoltages for one battery's consecutive rows.
func (e *Engine) AddJarVoltageRun(id uuid.UUID, ts []int64, v []int32) error {
	p, err := e.NewPrePass()
	if err != nil {
		return err
	}
	return p.AddRun(id, ts, v)
}

// PrePass feeds the string-mean pre-pass. Several may run concurrently
// (for example one per bucket file): a string's sums are locked per run.
type PrePass struct{ e *Engine }

// NewPrePass starts (or continues) the chunk's pre-pass. Call it from the
// feeding goroutine, then hand the passes to workers.
func (e *Engine) NewPrePass() (*PrePass, error) {
	if err := e.enter(phasePre, "telemetry_jar_raw pre-pass"); err != nil {
		return nil, err
	}
	return &PrePass{e}, nil
}

// Add feeds jar rows (BatteryID, TS, Voltage) sorted by (battery_id, ts).
func (p *PrePass) Add(b *JarBatch) error {
	if len(b.BatteryID) != len(b.TS) || len(b.Voltage) != len(b.TS) {
		return fmt.Errorf("telemetry_jar_raw pre-pass batch: columns of unequal length (%d rows)", len(b.TS))
	}
	return b.runs(func(id uuid.UUID, i, j int) error {
		return p.AddRun(id, b.TS[i:j], b.Voltage[i:j])
	})
}

// AddRun feeds consecutive rows of one battery, sorted by ts.
func (p *PrePass) AddRun(id uuid.UUID, ts []int64, v []int32) error {
	if len(ts) == 0 {
		return nil
	}
	if len(v) != len(ts) {
		return fmt.Errorf("telemetry_jar_raw pre-pass: battery %s: %d timestamps, %d voltages", id, len(ts), len(v))
	}
	bi, err := p.e.battery(id)
	if err != nil {
		return err
	}
	st := &p.e.strs[p.e.bats[bi].str]
	st.mu.Lock()
	st.slots.add(ts, v)
	st.mu.Unlock()
	return nil
}

// JarPass is one goroutine's main pass over jar rows. Several may run at
// once on disjoint batteries.
type JarPass struct {
	e      *Engine
	sink   Sink
	cur    int32 // battery of the open run, -1 if none
	row    Row
	closed bool
}

// NewJarPass ends the pre-pass (on the first call of the chunk) and
// returns a main pass emitting to sink. Call it from one goroutine, then
// hand the passes to workers.
func (e *Engine) NewJarPass(sink Sink) (*JarPass, error) {
	if err := e.enter(phaseMain, "telemetry_jar_raw"); err != nil {
		return nil, err
	}
	if e.phase == phaseMain && !e.finalized {
		for i := range e.strs {
			e.strs[i].slots.finalize()
		}
		e.finalized = true
	}
	e.open.Add(1)
	return &JarPass{e: e, sink: sink, cur: -1}, nil
}

// Add feeds jar rows; a battery's rows may span batches but must be
// consecutive within the chunk.
func (p *JarPass) Add(b *JarBatch) error {
	n := len(b.TS)
	if len(b.BatteryID) != n || len(b.Voltage) != n || len(b.Temp) != n || len(b.Resistance) != n {
		return fmt.Errorf("telemetry_jar_raw batch: columns of unequal length (%d rows)", n)
	}
	return b.runs(func(id uuid.UUID, i, j int) error {
		return p.AddRun(id, b.TS[i:j], b.Voltage[i:j], b.Temp[i:j], b.Resistance[i:j])
	})
}

// AddRun feeds consecutive rows of one battery, sorted by ts.
func (p *JarPass) AddRun(id uuid.UUID, ts []int64, v, tc, r []int32) error {
	if len(ts) == 0 {
		return nil
	}
	if len(v) != len(ts) || len(tc) != len(ts) || len(r) != len(ts) {
		return fmt.Errorf("telemetry_jar_raw: battery %s: columns of unequal length (%d rows)", id, len(ts))
	}
	e := p.e
	bi, err := e.battery(id)
	if err != nil {
		return err
	}
	if p.closed {
		return fmt.Errorf("telemetry_jar_raw: battery %s: jar pass already closed", id)
	}
	if bi != p.cur {
		if err := p.finish(); err != nil {
			return err
		}
		if e.bats[bi].claimed.Swap(int64(e.chunk)) == int64(e.chunk) {
			return fmt.Errorf("telemetry_jar_raw: battery %s: rows not consecutive within the chunk (fed twice)", id)
		}
		p.cur = bi
	}
	return p.run(&e.bats[bi], ts, v, tc, r)
}

// Close ends the pass, emitting the open battery's rows up to the chunk
// end. Every pass must be closed before EndChunk.
func (p *JarPass) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	p.e.open.Add(-1)
	return p.finish()
}

// finish ends the open battery run.
func (p *JarPass) finish() error {
	if p.cur < 0 {
		return nil
	}
	b := &p.e.bats[p.cur]
	p.cur = -1
	return p.emitUpTo(b, p.e.to/hourUS)
}

// EndChunk emits, for the batteries no JarPass saw in this chunk, the
// windows that still hold earlier data. Close every JarPass first.
func (e *Engine) EndChunk(sink Sink) error {
	if !e.started {
		return fmt.Errorf("end chunk: no chunk begun")
	}
	if n := e.open.Load(); n != 0 {
		return fmt.Errorf("end chunk: %d jar passes not closed", n)
	}
	p := &JarPass{e: e, sink: sink, cur: -1}
	for i := range e.bats {
		b := &e.bats[i]
		if b.claimed.Load() == int64(e.chunk) {
			continue
		}
		b.claimed.Store(int64(e.chunk))
		if err := p.emitUpTo(b, e.to/hourUS); err != nil {
			return err
		}
	}
	e.phase = phaseSeries
	e.finalized = false
	return nil
}

func (p *JarPass) run(b *batState, ts []int64, V, T, R []int32) error {
	e := p.e
	if b.ring == nil {
		// Allocated on a battery's first row: a month's engine held a
		// 26 KB ring for each of the register's jars, half of them out of
		// service, 100 MB per feature task at the fleet's size.
		b.ring = make([]jarHour, pow2(e.maxW+1))
		for k := range b.ring {
			b.ring[k].hour = none
		}
	}
	if ts[0] <= b.lastTS || ts[0] < e.from || ts[len(ts)-1] >= e.to {
		return fmt.Errorf("telemetry_jar_raw: battery %s ts %s: out of order, duplicated or outside the chunk", b.id, time.UnixMicro(ts[0]).UTC())
	}
	st := &e.strs[b.str]
	sts, smean := st.slots.ts, st.slots.mean
	ns := len(sts)
	smean = smean[:ns]
	c := sort.Search(ns, func(i int) bool { return sts[i] >= ts[0] })
	var ets []int64
	var ev []int32
	k := -1
	if st.env >= 0 {
		s := &e.env[st.env]
		ets, ev = s.ts, s.val
		k = s.asOf(ts[0])
	}
	ne := len(ets)
	ev = ev[:ne]
	// envAt is the ambient as-of row k and the time it is superseded.
	envAt := func(k int) (int32, int64) {
		a, next := Null, int64(math.MaxInt64)
		if k >= 0 {
			a = ev[k]
		}
		if k+1 < ne {
			next = ets[k+1]
		}
		return a, next
	}
	amb, envNext := envAt(k)
	maxGap, fmin, fmax := e.maxGap, b.fmin, b.fmax
	last := b.lastTS
	if last == none {
		last = ts[0]
	}
	if b.firstR == Null {
		for _, x := range R {
			if x != Null {
				b.firstR = x
				break
			}
		}
	}
	n := len(ts)
	for i := 0; i < n; {
		h := ts[i] / hourUS
		if h != b.lastHour {
			if b.emitted == none {
				b.emitted = h
			}
			if err := p.emitUpTo(b, h); err != nil {
				return err
			}
			b.lastHour = h
		}
		q := &b.ring[h&int64(len(b.ring)-1)]
		if q.hour != h {
			*q = jarHour{hour: h, vmin: Null, vmax: Null, tmax: Null, rlast: Null}
		}
		hourEnd := (h + 1) * hourUS
		j := i
		prev := b.lastTS
		if i > 0 {
			prev = ts[i-1]
		}
		for j < n && ts[j] < hourEnd {
			if ts[j] <= prev {
				return fmt.Errorf("telemetry_jar_raw: battery %s ts %s: rows not sorted by ts or duplicated", b.id, time.UnixMicro(ts[j]).UTC())
			}
			prev = ts[j]
			j++
		}
		// Hot loop over the rows of one battery-hour, in locals, on
		// slices of equal length (no bounds checks).
		tsS := ts[i:j]
		vS, tS, rS := V[i:j], T[i:j], R[i:j]
		vS, tS, rS = vS[:len(tsS)], tS[:len(tsS)], rS[:len(tsS)]
		vn, tn, dn, bn := q.n, q.tn, q.dn, q.bn
		ref, vmin, vmax, tmax, rlast := q.ref, q.vmin, q.vmax, q.tmax, q.rlast
		if vn == 0 {
			for _, v := range vS {
				if v != Null {
					ref, vmin, vmax = v, v, v
					break
				}
			}
		}
		if tn == 0 {
			for _, tv := range tS {
				if tv != Null {
					tmax = tv
					break
				}
			}
		}
		s1, s2, tsum, dsum, bal, below, above := q.s1, q.s2, q.tsum, q.dsum, q.bal, q.below, q.above
		for x, t := range tsS {
			dt := min(t-last, maxGap)
			last = t
			if v := vS[x]; v != Null {
				d := int64(v - ref)
				vn++
				s1 += d
				s2 += d * d
				vmin = min(vmin, v)
				vmax = max(vmax, v)
				if v < fmin {
					below += dt
				} else if v > fmax {
					above += dt
				}
				// The string-mean slot: usually the next one.
				if c < ns && sts[c] == t {
					bal += math.Abs(float64(v) - smean[c])
					bn++
					c++
				} else {
					for c < ns && sts[c] < t {
						c++
					}
					if c < ns && sts[c] == t {
						bal += math.Abs(float64(v) - smean[c])
						bn++
						c++
					}
				}
			}
			if tv := tS[x]; tv != Null {
				tn++
				tsum += int64(tv)
				tmax = max(tmax, tv)
				if t >= envNext { // the as-of ambient moves on
					for k+1 < ne && ets[k+1] <= t {
						k++
					}
					amb, envNext = envAt(k)
				}
				if amb != Null {
					dsum += int64(tv - amb)
					dn++
				}
			}
			if rv := rS[x]; rv != Null {
				rlast = rv
			}
		}
		q.rows += int32(j - i)
		q.n, q.tn, q.dn, q.bn = vn, tn, dn, bn
		q.ref, q.vmin, q.vmax, q.tmax, q.rlast = ref, vmin, vmax, tmax, rlast
		q.s1, q.s2, q.tsum, q.dsum, q.bal, q.below, q.above = s1, s2, tsum, dsum, bal, below, above
		i = j
	}
	b.lastTS = last
	return nil
}
