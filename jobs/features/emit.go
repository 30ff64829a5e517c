package features

import (
	"fmt"
	"math"
	"time"

	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Col is a feature column of feature_store, in registry order.
type Col int

// The 17 feature columns.
const (
	VMean Col = iota
	VStd
	VMin
	VMax
	VBalanceMean
	TMean
	TMax
	TDeltaAmbientMean
	RInternalLatest
	RInternalBaselinePct
	DischargeCyclesCount
	AhThroughput
	TimeBelowFloatMin
	TimeAboveFloatMin
	SurgeEventsCount
	RippleRMSMean
	THDMean
	NumCols
)

// ColSpec is a feature column's registry type: DECIMAL(Precision, Scale),
// or INT when IsInt.
type ColSpec struct {
	Name             string
	Precision, Scale int
	IsInt            bool
	pow              float64 // 10^Scale
	limit            float64 // exclusive bound of the unscaled value
}

var colNames = [NumCols]string{
	"v_mean", "v_std", "v_min", "v_max", "v_balance_mean", "t_mean", "t_max", "t_delta_ambient_mean",
	"r_internal_latest", "r_internal_baseline_pct", "discharge_cycles_count", "ah_throughput",
	"time_below_float_min", "time_above_float_min", "surge_events_count", "ripple_rms_mean", "thd_mean",
}

// Specs are the column types, read from the schema registry.
var Specs = func() [NumCols]ColSpec {
	t := schema.MustLookup("feature_store")
	var out [NumCols]ColSpec
	for c, name := range colNames {
		col := t.Column(name)
		if col == nil {
			panic("features: feature_store has no column " + name)
		}
		s := ColSpec{Name: name}
		switch col.Type.Kind {
		case schema.KindDecimal:
			s.Precision, s.Scale = col.Type.Precision, col.Type.Scale
			s.pow = math.Pow10(s.Scale)
			s.limit = math.Pow10(s.Precision)
		case schema.KindInt:
			s.IsInt, s.pow, s.limit = true, 1, math.MaxInt32+1.0
		default:
			panic("features: feature_store column " + name + " is neither DECIMAL nor INT")
		}
		out[c] = s
	}
	return out
}()

// Row is one feature_store row. Val holds each feature as the unscaled
// decimal at its column's scale (v_mean 13.621 is 13621) or the INT value;
// bit c of Valid is set when column c is not NULL.
type Row struct {
	FeatureTS   int64 // µs, on the hour
	BatteryID   uuid.UUID
	WindowHours int32
	Val         [NumCols]int64
	Valid       uint32
}

// IsValid reports whether column c is not NULL.
func (r *Row) IsValid(c Col) bool { return r.Valid&(1<<c) != 0 }

// Float returns column c as a number (NaN when NULL).
func (r *Row) Float(c Col) float64 {
	if !r.IsValid(c) {
		return math.NaN()
	}
	return float64(r.Val[c]) / Specs[c].pow
}

// set rounds x, given in units of 10^-inScale, to column c.
func (r *Row) set(c Col, x float64, inScale int) error {
	s := &Specs[c]
	q := math.Round(x * s.pow / math.Pow10(inScale))
	if !(math.Abs(q) < s.limit) {
		if s.IsInt {
			return fmt.Errorf("column %s: value %g does not fit INT", s.Name, x)
		}
		return fmt.Errorf("column %s: value %g does not fit DECIMAL(%d,%d)", s.Name, x/math.Pow10(inScale), s.Precision, s.Scale)
	}
	r.Val[c] = int64(q)
	r.Valid |= 1 << c
	return nil
}

// acc is a window's merged partials.
type acc struct {
	rows, n          int64
	mean, m2         float64 // mV, mV²
	vmin, vmax, tmax int32
	rlast            int32
	tn, dn, bn       int64
	tsum, dsum       int64
	bal              float64
	below, above     int64
	sn, dis, sur     int64
	rn, thn          int64
	rsum, thsum      int64
	ah               float64
}

func (a *acc) reset() {
	*a = acc{vmin: Null, vmax: Null, tmax: Null, rlast: Null}
}

// addJar merges an earlier hour (hours are merged newest first).
func (a *acc) addJar(q *jarHour) {
	a.rows += int64(q.rows)
	if q.n > 0 {
		hn := float64(q.n)
		hm := float64(q.ref) + float64(q.s1)/hn
		hm2 := float64(q.s2) - float64(q.s1)*float64(q.s1)/hn
		if a.n == 0 {
			a.mean, a.m2, a.vmin, a.vmax = hm, hm2, q.vmin, q.vmax
		} else {
			// Chan et al.: merge (n, mean, M2) pairs.
			n := float64(a.n)
			d := hm - a.mean
			tot := n + hn
			a.mean += d * hn / tot
			a.m2 += hm2 + d*d*n*hn/tot
			a.vmin, a.vmax = min(a.vmin, q.vmin), max(a.vmax, q.vmax)
		}
		a.n += int64(q.n)
	}
	if q.tn > 0 {
		if a.tn == 0 {
			a.tmax = q.tmax
		} else {
			a.tmax = max(a.tmax, q.tmax)
		}
		a.tn += int64(q.tn)
		a.tsum += q.tsum
	}
	a.dn += int64(q.dn)
	a.dsum += q.dsum
	a.bn += int64(q.bn)
	a.bal += q.bal
	if a.rlast == Null {
		a.rlast = q.rlast
	}
	a.below += q.below
	a.above += q.above
}

func (a *acc) addString(p *strHour) {
	a.sn += int64(p.n)
	a.dis += int64(p.dis)
	a.sur += int64(p.sur)
	a.rn += int64(p.rn)
	a.rsum += p.rsum
	a.thn += int64(p.tn)
	a.thsum += p.tsum
	a.ah += p.ah
}

// emitUpTo emits the rows of b for feature_ts hours in (b.emitted, limit].
func (p *JarPass) emitUpTo(b *batState, limit int64) error {
	e := p.e
	if b.lastHour == none || limit <= b.emitted {
		return nil
	}
	from := max(b.emitted+1, e.emitFrom)
	to := min(limit, e.emitTo-1, b.lastHour+e.maxW)
	b.emitted = limit
	st := &e.strs[b.str]
	var a acc
	for t := from; t <= to; t++ {
		minW := int64(0)
		if e.cfg.EmitHour != nil {
			if minW = e.cfg.EmitHour(t); minW > e.maxW {
				continue
			}
		}
		a.reset()
		wi := 0
		for j := int64(1); j <= e.maxW; j++ {
			h := t - j
			if q := &b.ring[h&int64(len(b.ring)-1)]; q.hour == h {
				a.addJar(q)
			}
			if sp := st.at(h); sp != nil {
				a.addString(sp)
			}
			if j == e.windows[wi] {
				if a.rows > 0 && j >= minW {
					if err := p.emit(b, t, j, &a); err != nil {
						return err
					}
				}
				wi++
			}
		}
	}
	return nil
}

func (p *JarPass) emit(b *batState, hour, w int64, a *acc) error {
	r := &p.row
	*r = Row{FeatureTS: hour * hourUS, BatteryID: b.id, WindowHours: int32(w)}
	err := p.fill(r, b, a)
	if err != nil {
		return fmt.Errorf("feature_store battery %s feature_ts %s window %d h: %w", b.id, time.UnixMicro(r.FeatureTS).UTC().Format(time.RFC3339), w, err)
	}
	return p.sink(r)
}

func (p *JarPass) fill(r *Row, b *batState, a *acc) error {
	set := func(c Col, x float64, inScale int) error { return r.set(c, x, inScale) }
	var errs [NumCols]error
	if a.n > 0 {
		errs[VMean] = set(VMean, a.mean, 3)
		errs[VMin] = set(VMin, float64(a.vmin), 3)
		errs[VMax] = set(VMax, float64(a.vmax), 3)
		if a.n > 1 {
			errs[VStd] = set(VStd, math.Sqrt(max(a.m2, 0)/float64(a.n-1)), 3)
		}
	}
	if a.bn > 0 {
		errs[VBalanceMean] = set(VBalanceMean, a.bal/float64(a.bn), 3)
	}
	if a.tn > 0 {
		errs[TMean] = set(TMean, float64(a.tsum)/float64(a.tn), 1)
		errs[TMax] = set(TMax, float64(a.tmax), 1)
	}
	if a.dn > 0 {
		errs[TDeltaAmbientMean] = set(TDeltaAmbientMean, float64(a.dsum)/float64(a.dn), 1)
	}
	if a.rlast != Null {
		errs[RInternalLatest] = set(RInternalLatest, float64(a.rlast), 3)
		base := b.baseline
		if base <= 0 && b.firstR != Null {
			base = float64(b.firstR) / 1e3
		}
		if base > 0 {
			errs[RInternalBaselinePct] = set(RInternalBaselinePct, float64(a.rlast)/1e3/base*100, 0)
		}
	}
	errs[TimeBelowFloatMin] = set(TimeBelowFloatMin, float64(a.below)/60e6, 0)
	errs[TimeAboveFloatMin] = set(TimeAboveFloatMin, float64(a.above)/60e6, 0)
	if a.sn > 0 {
		errs[DischargeCyclesCount] = set(DischargeCyclesCount, float64(a.dis), 0)
		errs[SurgeEventsCount] = set(SurgeEventsCount, float64(a.sur), 0)
		// mA·µs → Ah: 1 Ah = 1e3 mA × 3.6e9 µs.
		errs[AhThroughput] = set(AhThroughput, a.ah/3.6e12, 0)
		if a.rn > 0 {
			errs[RippleRMSMean] = set(RippleRMSMean, float64(a.rsum)/float64(a.rn), 3)
		}
		if a.thn > 0 {
			errs[THDMean] = set(THDMean, float64(a.thsum)/float64(a.thn), 2)
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
