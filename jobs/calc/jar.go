package calc

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// BatteryModel is what the SOC/SOH kernel takes from battery_model.
type BatteryModel struct {
	NominalVoltageV  float64 // nominal_voltage_v: 12.00 for a 6-cell block (cells = V/2)
	CapacityAh       float64 // capacity_ah: the C10 rating
	FloatVoltageMinV float64 // float_voltage_min_v: the charger's float band lower bound per block
}

// JarBattery is one battery's master data (battery joined to battery_model).
type JarBattery struct {
	BatteryID, StringID UUID
	Model               BatteryModel
	// InitialResistanceMOhm is battery.initial_resistance_mohm, the
	// resistance baseline of the SOH trend (0 or NaN: unknown; then the
	// jar's first impedance reading serves).
	InitialResistanceMOhm float64
}

// JarParams are the constants of the SOC and SOH methods (see JarCalc).
// Times in microseconds. Defaults in DefaultJarParams.
type JarParams struct {
	// ChargeEfficiency is the coulombic efficiency applied to charging
	// current: part of the charge returned goes into gassing and
	// recombination (VRLA ~0.9-0.97, estimate 0.95).
	ChargeEfficiency float64
	// MaxHold: a string current sample is held (zero-order) until the next
	// one, for at most MaxHold; across a longer telemetry gap nothing is
	// integrated (the current there is unknown). Default 5 min.
	MaxHold int64
	// Rest: |I| ≤ max(RestC·C10, RestMinA) (the string sensor's noise is
	// ~0.05 A) with the jar off the charger (V < float_min − FloatTolV),
	// for at least RestHold: the ECM's slow polarisation (τ2 10-60 min,
	// vrla-physics.md) has then mostly relaxed and the terminal voltage is
	// the OCV. Default 2 h.
	RestC, RestMinA float64
	RestHold        int64
	// RestTau: once at rest, SOC converges to the OCV reading with this
	// time constant rather than jumping, which averages the voltage noise
	// (1 mV is 0.1 % SOC). Default 10 min.
	RestTau int64
	// Float-full: the charger holds the jar at float (V ≥ float_min −
	// FloatTolV) and the charge current has tapered to the float level
	// (−rest ≤ I ≤ max(TailC·C10, RestMinA); chargers switch boost → float
	// around 0.5 % C) for FloatHold: the jar is full, SOC = 100. The
	// terminal voltage on float is NOT an OCV and is never read as one.
	TailC     float64
	FloatTolV float64
	FloatHold int64
	// OCV curve of an AGM block at rest, per cell (nominal_voltage_v/2
	// cells): 11.8 V (0 %) to 12.9 V (100 %) per 12 V block, near-linear
	// (vrla-physics.md), with the thermodynamic +0.25 mV/°C per cell.
	OCVEmptyCellV, OCVFullCellV, OCVTempCellV float64
	// Temp corrects the ohmic values to 25 °C (as impedance_measurement_calc).
	Temp ResistanceTemp
	// RStep: the trend takes at most one corrected reading per RStep (the
	// BMS refreshes its ohmic value every 15 min anyway), so neither its
	// cost nor its smoothing depends on the sampling rate. Default 60 s.
	RStep int64
	// RTau is the time constant of the resistance trend (EMA of the
	// temperature-corrected BMS ohmic value, updated only at float-full).
	RTau int64
	// SOHSlope: points of capacity (percent of rated) lost per point of
	// resistance rise over the baseline. vrla-physics.md: end of life (80 %)
	// comes with about +50 % (the replace level), and +20 % with SOH ~93 %:
	// 0.4 matches both (100 − 0.4·50 = 80, 100 − 0.4·20 = 92). Refitted per
	// string by least squares of the test percentages on the weakest jar's
	// rise, once SlopeMinTests tests spread the rise by a standard
	// deviation of at least SlopeMinRise; bounded to [SlopeMin, SlopeMax].
	// A jar whose string tests cannot be placed (no impedance readings)
	// refits from its own consecutive tests instead. The bounds are narrow
	// on purpose: on a synthesized lake (DC-BKK-01, 2 days, 396 jars,
	// 111 tests) string tests scatter (replacements change the weakest
	// jar) and refits bounded to [0.2, 1.0] gave a mean |SOH error| of
	// 5.4 points against the hidden truth, [0.3, 0.5] 3.7, a fixed 0.4 3.5.
	SOHSlope, SlopeMin, SlopeMax, SlopeMinRise, SlopeMinTests float64
	// AdjMin/AdjMax bound the resistance adjustment of a capacity test
	// (percentage points): a resistance trend refines a test, it does not
	// overrule it. The upper bound leaves room for jars healthier than the
	// string's weakest (the one the test measured). Default −20/+15.
	AdjMin, AdjMax float64
	// RefMaxAge: an impedance reading places a jar on the string's line at
	// a test only if it is at most this old then (quarterly readings, IEEE
	// 1188). Default 200 days.
	RefMaxAge int64
}

// DefaultJarParams are the values documented on JarParams.
var DefaultJarParams = JarParams{
	ChargeEfficiency: 0.95,
	MaxHold:          5 * 60 * microsPerSecond,
	RestC:            0.002, RestMinA: 0.25, RestHold: 2 * 3600 * microsPerSecond,
	RestTau: 10 * 60 * microsPerSecond,
	TailC:   0.005, FloatTolV: 0.3, FloatHold: 30 * 60 * microsPerSecond,
	OCVEmptyCellV: 11.8 / 6, OCVFullCellV: 12.9 / 6, OCVTempCellV: 0.00025,
	Temp: DefaultResistanceTemp,
	RTau: 6 * 3600 * microsPerSecond, RStep: 60 * microsPerSecond,
	SOHSlope: 0.4, SlopeMin: 0.3, SlopeMax: 0.5, SlopeMinRise: 0.05, SlopeMinTests: 3,
	AdjMin: -20, AdjMax: 15, RefMaxAge: 200 * 24 * 3600 * microsPerSecond,
}

// JarBatch is a batch of telemetry_jar_raw rows, sorted by (battery_id, ts)
// as the lake stores them. Null32 is NULL. conductance_s is not read (it
// is 1/resistance).
type JarBatch struct {
	TS                 []int64 // UTC microseconds
	BatteryID          []UUID
	VoltageMV          []int32 // voltage_v DECIMAL(5,3): mV
	TemperatureDeciC   []int32 // temperature_c DECIMAL(4,1): 0.1 °C
	ResistanceMicroOhm []int32 // resistance_mohm DECIMAL(8,3): µΩ
}

// Len is the number of rows.
func (b *JarBatch) Len() int { return len(b.TS) }

// JarCalcOut holds the computed columns of telemetry_jar_calc, row for row
// with the input batch (ts and battery_id are the input's own columns).
type JarCalcOut struct {
	SOCCentiPct []int32 // soc_pct DECIMAL(5,2), Null32 until a first estimate
	SOHCentiPct []int32 // soh_pct DECIMAL(5,2), Null32 without a test or a resistance baseline
}

type testPoint struct {
	knownAt int64
	pct     float64
	// riseRef is the highest resistance rise among the string's jars at the
	// test (impedance readings as-of it): the weakest jar, the one that
	// ended the test. NaN when no jar has a recent enough reading.
	riseRef float64
	slope   float64 // the string's slope after this test
}

type impPoint struct {
	at   int64
	mOhm float64
}

type jarModel struct {
	capAh, restA, tailA, floatMinV float64
	// The same thresholds on the unscaled inputs (mA, mV), for integer
	// comparisons in the row loop.
	restMA, tailMA, floatLimMV int32
	ocv0, ocvSpan, ocvTemp     float64 // per block
	r0                         float64 // resistance baseline, mΩ; NaN unknown
	tests                      []testPoint
	imp                        []impPoint
}

// jarState is everything the kernel remembers about one battery between
// rows and between calls.
type jarState struct {
	m       *jarModel
	started bool
	lastTS  int64

	soc                   float64 // percent; NaN until a first estimate
	restSince, floatSince int64   // -1: condition not holding
	effC                  float64 // 100 / (capacity_ah × SOH): SOC points per Ah
	effSOH                float64 // the SOH effC was computed for

	// SOH
	rTrend              float64 // mΩ at 25 °C; NaN until a float-full reading
	trendAt             int64   // time of the trend's last reading
	nextTest, nextImp   int
	nextEvent           int64   // time of the next test or impedance reading
	invBase             float64 // 1 / resistance baseline; NaN unknown
	testPct, riseAtTest float64 // NaN: none
	prevPct, prevRise   float64
	slope               float64
	soh                 float64 // percent; NaN unknown
	sohQ                int32   // soh_pct unscaled, Null32
}

// JarCalc computes telemetry_jar_calc: SOC and SOH per raw jar sample.
//
// SOC (soc_pct) is coulomb counting on the string current (a series string
// carries one current through every jar), as-of the jar's sample:
//
//	SOC += 100 · ∫ η(I)·I dt / C_eff,  η = ChargeEfficiency on charge, 1 on discharge
//
// with the string current held from each string sample to the next (at
// most MaxHold), C_eff = capacity_ah × SOH (a worn jar empties faster), and
// SOC capped to [0, 100] (charge into a full jar is gassing, not storage).
// Two re-anchors remove the drift of integration:
//   - float-full (see JarParams): SOC = 100; on float the terminal voltage
//     is the charger's, not an OCV, so float means full once the current
//     has tapered;
//   - rest: after RestHold without current and off the charger, SOC
//     converges (RestTau) to the OCV curve's SOC at the jar's voltage,
//     corrected to 25 °C.
//
// A battery's first sample starts it: 100 if float-full conditions hold
// (a jar on float), else the OCV curve at V − I·R (the ohmic drop removed;
// polarisation is not, so a cold start during a discharge reads low until
// the next anchor). Before the first sample with both a voltage and a
// string current, SOC is NULL.
//
// SOH (soh_pct), from what the lake holds at the sample's time:
//   - the resistance rise ρ = R_trend / R_baseline − 1, R_trend an EMA in
//     time (RTau, one reading per RStep) of the BMS ohmic value corrected
//     to 25 °C, updated only at float-full
//     (resistance depends on SOC: like is compared with like), falling back
//     to the latest impedance_measurement_calc reading before the sample;
//     R_baseline is battery.initial_resistance_mohm, else the jar's first
//     impedance reading;
//   - with a capacity test of the jar's string known by then (its end ≤
//     ts): SOH = pct_test − slope·100·(ρ − ρ_test), the adjustment bounded
//     to [AdjMin, AdjMax]. A string test ends when its weakest jar is
//     empty, so the test is the point (ρ_test, pct_test) of the weakest
//     jar: ρ_test is the highest rise among the string's jars at the test
//     (impedance readings as-of it), and every jar of the string reads its
//     SOH off the same line, healthier jars above the test. Without such
//     readings, ρ_test is this jar's own rise when the test became known
//     (the live trend if it saw the test, else its reading as-of it);
//   - without a test: SOH = 100 − slope·100·max(0, ρ), in [0, 100];
//   - slope is SOHSlope, refitted from consecutive tests (see JarParams).
//
// Cost: a row on steady float (the standby state) takes a short loop of
// comparisons; other rows integrate and test every condition; SOH is
// recomputed only when a test or impedance reading becomes known or the
// trend takes its once-a-minute reading. No allocation per row or batch
// (one state per battery).
//
// A JarCalc is not safe for concurrent use; run one per partition group
// (state is per battery, so disjoint battery sets parallelise).
type JarCalc struct {
	p      JarParams
	cur    *StringCurrents
	models map[UUID]*jarModel
	strOf  map[UUID]UUID
	state  map[UUID]*jarState
	// tempF[T+tempLo] is Temp's factor at T deci-°C: the correction
	// without an exp per row.
	tempF  []float64
	lastID UUID
	lastSt *jarState
	// noFastPath disables the steady-float loop (tests compare the two).
	noFastPath bool
}

// NewJarCalc builds the kernel over the batteries' master data, the string
// currents, the capacity test results (capacity_test_calc with their raw
// keys: every test of the strings, any order) and the impedance results
// (impedance_measurement_calc; any order). tests and imp may be nil.
//
// batteries, tests and imp are small tables: pass them whole (every
// battery of the strings, replaced ones included, and their whole
// history), not a partition's share: a string test is placed on the jar
// that was weakest at the time, whichever partition it falls in.
func NewJarCalc(p JarParams, batteries []JarBattery, currents *StringCurrents, tests []CapacityTestCalc, imp []ImpedanceCalcRow) (*JarCalc, error) {
	byString := make(map[UUID][]testPoint)
	for _, t := range tests {
		if !math.IsNaN(t.Pct) {
			byString[t.StringID] = append(byString[t.StringID], testPoint{knownAt: t.KnownAt, pct: t.Pct})
		}
	}
	sortGroups(byString, func(p testPoint) int64 { return p.knownAt })
	byJar := make(map[UUID][]impPoint)
	for _, r := range imp {
		if !math.IsNaN(r.CorrectedMOhm) {
			byJar[r.BatteryID] = append(byJar[r.BatteryID], impPoint{at: r.MeasuredAt, mOhm: r.CorrectedMOhm})
		}
	}
	sortGroups(byJar, func(p impPoint) int64 { return p.at })
	jarsOf := make(map[UUID][]*jarModel)
	c := &JarCalc{p: p, cur: currents, models: make(map[UUID]*jarModel, len(batteries)),
		strOf: make(map[UUID]UUID, len(batteries)), state: make(map[UUID]*jarState, len(batteries))}
	for _, b := range batteries {
		md := b.Model
		if !(md.CapacityAh > 0) || !(md.NominalVoltageV > 0) || !(md.FloatVoltageMinV > 0) {
			return nil, fmt.Errorf("battery %s: model needs a positive capacity_ah, nominal_voltage_v and float_voltage_min_v", idString(b.BatteryID))
		}
		cells := md.NominalVoltageV / 2
		m := &jarModel{capAh: md.CapacityAh, restA: math.Max(p.RestC*md.CapacityAh, p.RestMinA),
			tailA: math.Max(p.TailC*md.CapacityAh, p.RestMinA), floatMinV: md.FloatVoltageMinV,
			ocv0: p.OCVEmptyCellV * cells, ocvSpan: (p.OCVFullCellV - p.OCVEmptyCellV) * cells, ocvTemp: p.OCVTempCellV * cells,
			r0: math.NaN(), tests: byString[b.StringID], imp: byJar[b.BatteryID]}
		m.restMA = int32(math.Floor(m.restA * scaleCurrent))
		m.tailMA = int32(math.Floor(m.tailA * scaleCurrent))
		m.floatLimMV = int32(math.Ceil((m.floatMinV - p.FloatTolV) * scaleJarV))
		if b.InitialResistanceMOhm > 0 {
			m.r0 = b.InitialResistanceMOhm
		}
		c.models[b.BatteryID], c.strOf[b.BatteryID] = m, b.StringID
		jarsOf[b.StringID] = append(jarsOf[b.StringID], m)
	}
	for s, tps := range byString {
		c.placeTests(tps, jarsOf[s])
	}
	c.tempF = make([]float64, tempHi-tempLo)
	for i := range c.tempF {
		c.tempF[i] = p.Temp.To25(1, float64(i+tempLo)/scaleTemp)
	}
	return c, nil
}

// With returns a fresh kernel (no battery state) over other string
// currents and a MaxHold, sharing c's master data, tests and impedance
// history, which only NewJarCalc writes: building those for every day of
// a year of day segments cost more than deriving the days. Kernels made by
// With may run concurrently.
func (c *JarCalc) With(maxHold int64, currents *StringCurrents) *JarCalc {
	p := c.p
	p.MaxHold = maxHold
	return &JarCalc{p: p, cur: currents, models: c.models, strOf: c.strOf, state: make(map[UUID]*jarState, len(c.state)),
		tempF: c.tempF, noFastPath: c.noFastPath}
}

// sortGroups puts every group in time order (stable: equal times keep
// their input order).
func sortGroups[T any](groups map[UUID][]T, at func(T) int64) {
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b T) int { return cmp.Compare(at(a), at(b)) })
	}
}

// placeTests puts each capacity test of a string on the capacity-vs-
// resistance line: a string test ends when its weakest jar reaches cutoff,
// so its percentage belongs to the jar with the highest resistance rise at
// that time (impedance readings as-of the test, at most RefMaxAge old);
// consecutive tests refit the string's slope.
func (c *JarCalc) placeTests(tps []testPoint, jars []*jarModel) {
	p := &c.p
	slope := p.SOHSlope
	// Least squares of pct on rise over the string's tests so far: the
	// weakest jar changes as jars are replaced and a test's percentage has
	// its own scatter, so a pair of consecutive tests is too noisy.
	var n, sx, sy, sxx, sxy float64
	for i := range tps {
		tp := &tps[i]
		tp.riseRef = math.NaN()
		for _, m := range jars {
			j := searchImp(m.imp, tp.knownAt)
			if j < 0 || tp.knownAt-m.imp[j].at > p.RefMaxAge {
				continue // not in the string yet, or gone, or not measured lately
			}
			base := m.r0
			if math.IsNaN(base) {
				base = m.imp[0].mOhm
			}
			if r := m.imp[j].mOhm/base - 1; !(r <= tp.riseRef) {
				tp.riseRef = r
			}
		}
		if x, y := 100*tp.riseRef, tp.pct; !math.IsNaN(x) {
			n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
			if varX := sxx/n - (sx/n)*(sx/n); n >= p.SlopeMinTests && varX >= 100*100*p.SlopeMinRise*p.SlopeMinRise {
				slope = clamp(-(sxy/n-(sx/n)*(sy/n))/varX, p.SlopeMin, p.SlopeMax)
			}
		}
		tp.slope = slope
	}
}

// The temperature table covers −40.0 to +99.9 °C; readings outside it take
// the exp.
const tempLo, tempHi = -400, 1000

func (c *JarCalc) to25(r float64, tDeci int32) float64 {
	if tDeci >= tempLo && tDeci < tempHi {
		return r * c.tempF[tDeci-tempLo]
	}
	return c.p.Temp.To25(r, float64(tDeci)/scaleTemp)
}

// Reset forgets every battery's state (SOC, trends, positions), keeping
// master data and inputs: for rerunning the same rows.
func (c *JarCalc) Reset() {
	clear(c.state)
	c.lastSt = nil
}

func (c *JarCalc) stateOf(id UUID) (*jarState, error) {
	if c.lastSt != nil && id == c.lastID {
		return c.lastSt, nil
	}
	st := c.state[id]
	if st == nil {
		m := c.models[id]
		if m == nil {
			return nil, fmt.Errorf("battery %s: not in the master data", idString(id))
		}
		st = &jarState{m: m, soc: math.NaN(), restSince: -1, floatSince: -1, rTrend: math.NaN(),
			testPct: math.NaN(), riseAtTest: math.NaN(), prevPct: math.NaN(), prevRise: math.NaN(),
			slope: c.p.SOHSlope, soh: math.NaN(), sohQ: Null32, invBase: math.NaN(), effC: 100 / m.capAh, effSOH: math.NaN()}
		c.state[id] = st
	}
	c.lastID, c.lastSt = id, st
	return st, nil
}

// Run fills out (reused; resized to the batch) for one batch of jar rows.
// A battery's rows may span batches and calls; the string currents must
// cover them.
func (c *JarCalc) Run(in *JarBatch, out *JarCalcOut) error {
	n := in.Len()
	out.SOCCentiPct = slices.Grow(out.SOCCentiPct[:0], n)[:n]
	out.SOHCentiPct = slices.Grow(out.SOHCentiPct[:0], n)[:n]
	for i0 := 0; i0 < n; {
		id := in.BatteryID[i0]
		i1 := i0 + 1
		for i1 < n && in.BatteryID[i1] == id {
			i1++
		}
		st, err := c.stateOf(id)
		if err != nil {
			return err
		}
		if err := c.runBattery(st, id, in, out, i0, i1); err != nil {
			return err
		}
		i0 = i1
	}
	return nil
}

// runBattery processes one battery's run of rows [i0, i1). The hot state
// lives in locals for the run (no stores through the state pointer per
// row) and the thresholds compare unscaled integers.
func (c *JarCalc) runBattery(st *jarState, id UUID, in *JarBatch, out *JarCalcOut, i0, i1 int) error {
	p := &c.p
	m := st.m
	var sts []int64
	var sma []int32
	if s := c.cur.m[c.strOf[id]]; s != nil {
		sts, sma = s.ts, s.ma
	}
	// A battery's first row starts at its own time: nothing to integrate
	// before it, dt = 0, so the loop needs no first-row case. k is the
	// string sample as-of the position reached, found by binary search once
	// per run (so TrimBefore between calls is safe), then advanced.
	started, lastTS := st.started, st.lastTS
	if !started {
		lastTS = in.TS[i0]
	}
	soc, restSince, floatSince := st.soc, st.restSince, st.floatSince
	rTrend, trendAt := st.rTrend, st.trendAt
	pos := lastTS
	k := searchAsOf(sts, pos)
	var tk int64 // sts[k]
	if k >= 0 {
		tk = sts[k]
	}
	restMA, floatLimMV := m.restMA, m.floatLimMV
	restSpan, floatSpan := uint32(2*m.restMA), uint32(m.tailMA+m.restMA)
	maxHold, floatHold, restHold, rStep := p.MaxHold, p.FloatHold, p.RestHold, p.RStep
	invRTau, invRestTau := 1/float64(p.RTau), 1/float64(p.RestTau)
	eta := p.ChargeEfficiency
	// effC: SOC points per mA·µs at the current SOH.
	const mAusPerAh = scaleCurrent * 3600 * microsPerSecond
	effC := st.effC / mAusPerAh
	nextEvent, sohQ := st.nextEvent, st.sohQ
	ts, vs, temps, rs := in.TS[i0:i1], in.VoltageMV[i0:i1], in.TemperatureDeciC[i0:i1], in.ResistanceMicroOhm[i0:i1]
	socOut, sohOut := out.SOCCentiPct[i0:i1], out.SOHCentiPct[i0:i1]
	// full: the previous row was float-full (SOC pinned at 100).
	full := !c.noFastPath && started && soc == 100 && floatSince >= 0 && lastTS-floatSince >= floatHold
	for i := 0; i < len(ts); i++ {
		if full {
			// Steady float, the state a standby jar spends nearly all its
			// life in: while the next row keeps every float-full condition
			// (jar at float voltage, every string sample since within the
			// float band, the current known) and nothing is due (a trend
			// reading, a test or impedance reading), the row is SOC 100 and
			// the SOH as it was; nothing else changes. Any other row takes
			// the full path below.
			for ; i < len(ts); i++ {
				t := ts[i]
				if t < lastTS || t >= nextEvent || t-trendAt >= rStep || vs[i] < floatLimMV {
					break
				}
				kk := k
				for kk+1 < len(sts) && sts[kk+1] <= t && uint32(sma[kk+1]+restMA) <= floatSpan {
					kk++
				}
				if (kk+1 < len(sts) && sts[kk+1] <= t) || kk < 0 || t-sts[kk] > maxHold {
					break // a sample outside the band, or the current unknown
				}
				k, tk, pos, lastTS = kk, sts[kk], t, t
				socOut[i], sohOut[i] = 10000, sohQ
			}
			if i == len(ts) {
				break
			}
		}
		t := ts[i]
		if t < lastTS {
			st.save(started, lastTS, soc, restSince, floatSince, rTrend, trendAt)
			return fmt.Errorf("battery %s: ts %d before %d: rows not sorted by (battery_id, ts)", idString(id), t, lastTS)
		}
		// 1. Integrate the string current over [pos, t), watching the
		// string samples passed for breaks of rest and float. Charge is
		// summed exactly in mA·µs, charging and discharging apart (the
		// efficiency applies to the first), and converted once.
		var qIn, qOut int64
		for k+1 < len(sts) && sts[k+1] <= t {
			if k >= 0 {
				d := max(0, min(sts[k+1], tk+maxHold)-pos)
				q := int64(sma[k]) * d
				qIn += max(q, 0) // branch-free: the sign of a float current is noise
				qOut += min(q, 0)
			}
			pos = sts[k+1]
			k++
			tk = pos
			// Outside [−rest, rest] and outside [−rest, tail], as one
			// unsigned comparison each.
			a := uint32(sma[k] + restMA)
			if a > restSpan {
				restSince = -1
			}
			if a > floatSpan {
				floatSince = -1
			}
		}
		if k >= 0 && pos < t {
			d := max(0, min(t, tk+maxHold)-pos)
			q := int64(sma[k]) * d
			qIn += max(q, 0)
			qOut += min(q, 0)
		}
		pos = t
		dt := t - lastTS
		// 2. Conditions at t (NULL voltage is Null32: below every limit,
		// so it is checked once).
		iKnown := k >= 0 && t-tk <= maxHold
		var ma int32
		if iKnown {
			ma = sma[k]
		}
		vRaw, tRaw := vs[i], temps[i]
		vOK := vRaw != Null32
		a := uint32(ma + restMA)
		floatNow := iKnown && vRaw >= floatLimMV && a <= floatSpan
		restNow := iKnown && vOK && vRaw < floatLimMV && a <= restSpan
		if !floatNow {
			floatSince = -1
		} else if floatSince < 0 {
			floatSince = t
		}
		if !restNow {
			restSince = -1
		} else if restSince < 0 {
			restSince = t
		}
		floatFull := floatNow && t-floatSince >= floatHold
		// 3. Resistance trend (SOH input): at float-full, one corrected
		// reading per RStep into an EMA in time.
		trendMoved := false
		if floatFull && t-trendAt >= rStep {
			if rRaw := rs[i]; rRaw != Null32 && tRaw != Null32 {
				r25 := c.to25(float64(rRaw)*(1/scaleRes), tRaw)
				if rTrend != rTrend { // NaN: the first reading
					rTrend = r25
				} else {
					rTrend += (r25 - rTrend) * min(1, float64(t-trendAt)*invRTau)
				}
				trendAt, trendMoved = t, true
			}
		}
		// 4. SOC.
		if floatFull {
			// Full on float: the steady state of a standby jar, so the
			// common row does no arithmetic at all.
			soc = 100
		} else if soc == soc { // not NaN
			if qIn|qOut != 0 {
				soc += (float64(qIn)*eta + float64(qOut)) * effC
				if soc < 0 {
					soc = 0
				} else if soc > 100 {
					soc = 100
				}
			}
			if restSince >= 0 && t-restSince >= restHold {
				soc += (c.ocvSOC(m, float64(vRaw)*(1/scaleJarV), tRaw) - soc) * min(1, float64(dt)*invRestTau)
			}
		} else if vOK && iKnown {
			if floatNow {
				soc = 100
			} else {
				ocv := float64(vRaw) * (1 / scaleJarV)
				if r := rs[i]; r != Null32 {
					ocv -= float64(ma) * float64(r) * (1 / (scaleCurrent * scaleRes * 1000))
				}
				soc = c.ocvSOC(m, ocv, tRaw)
			}
		}
		// 5. SOH: recomputed only when a test or an impedance reading
		// becomes known or the trend took a reading.
		if t >= nextEvent {
			st.started, st.lastTS, st.rTrend = started, lastTS, rTrend
			c.advanceSOH(st, t)
			nextEvent = st.nextEvent
			trendMoved = true
		}
		if trendMoved {
			st.rTrend = rTrend
			if err := c.computeSOH(st); err != nil {
				st.save(started, lastTS, soc, restSince, floatSince, rTrend, trendAt)
				return fmt.Errorf("battery %s ts %d: %w", idString(id), t, err)
			}
			effC, sohQ = st.effC/mAusPerAh, st.sohQ
		}
		started, lastTS = true, t
		full = floatFull && soc == 100 && !c.noFastPath
		// 6. Output.
		if soc != soc {
			socOut[i] = Null32
		} else {
			socOut[i] = int32(soc*100 + 0.5) // in [0, 100]: always fits
		}
		sohOut[i] = sohQ
	}
	st.save(started, lastTS, soc, restSince, floatSince, rTrend, trendAt)
	return nil
}

// save writes the row loop's locals back to the state. The loop keeps them
// in locals (not captured by a closure, not behind the pointer) so that
// they can live in registers.
func (st *jarState) save(started bool, lastTS int64, soc float64, restSince, floatSince int64, rTrend float64, trendAt int64) {
	st.started, st.lastTS = started, lastTS
	st.soc, st.restSince, st.floatSince = soc, restSince, floatSince
	st.rTrend, st.trendAt = rTrend, trendAt
}

// ocvSOC is the OCV curve inverted: SOC (percent, clamped) of a block
// resting at v volts, the OCV first brought to 25 °C (tDeci NULL: taken
// as 25 °C).
func (c *JarCalc) ocvSOC(m *jarModel, v float64, tDeci int32) float64 {
	if tDeci != Null32 {
		v -= m.ocvTemp * (float64(tDeci)/scaleTemp - 25)
	}
	return clamp((v-m.ocv0)/m.ocvSpan*100, 0, 100)
}

// advanceSOH takes in the capacity tests and impedance readings known by
// t: the baseline (the master's, else the first reading once it exists),
// the latest reading (standing in for the live trend until it exists), and
// for each new test its rise and the refitted slope.
func (c *JarCalc) advanceSOH(st *jarState, t int64) {
	p := &c.p
	m := st.m
	for st.nextImp < len(m.imp) && m.imp[st.nextImp].at <= t {
		st.nextImp++
	}
	st.invBase = 1 / m.r0
	if math.IsNaN(m.r0) && st.nextImp > 0 {
		st.invBase = 1 / m.imp[0].mOhm
	}
	rise := c.rise(st)
	for st.nextTest < len(m.tests) && m.tests[st.nextTest].knownAt <= t {
		tp := m.tests[st.nextTest]
		st.nextTest++
		if !math.IsNaN(tp.riseRef) {
			// Placed on the string's line (placeTests).
			st.testPct, st.riseAtTest, st.slope = tp.pct, tp.riseRef, tp.slope
			st.prevPct, st.prevRise = math.NaN(), math.NaN()
			continue
		}
		// Without readings of the string's jars at the test, the test is
		// this jar's own, at its rise then.
		rt := rise
		if !st.started || math.IsNaN(st.rTrend) || tp.knownAt-st.lastTS > p.RTau {
			// The live trend did not see the test (it predates the rows
			// fed, or falls in a gap longer than the trend's own time
			// constant): the resistance then is the impedance reading
			// as-of the test; without one, the rise now stands in.
			if j := searchImp(m.imp, tp.knownAt); j >= 0 {
				rt = m.imp[j].mOhm*st.invBase - 1
			}
		}
		if !math.IsNaN(st.prevPct) && !math.IsNaN(st.prevRise) && !math.IsNaN(rt) && math.Abs(rt-st.prevRise) >= p.SlopeMinRise {
			st.slope = clamp((st.prevPct-tp.pct)/(100*(rt-st.prevRise)), p.SlopeMin, p.SlopeMax)
		}
		st.prevPct, st.prevRise = tp.pct, rt
		st.testPct, st.riseAtTest = tp.pct, rt
	}
	st.nextEvent = math.MaxInt64
	if st.nextImp < len(m.imp) {
		st.nextEvent = m.imp[st.nextImp].at
	}
	if st.nextTest < len(m.tests) {
		st.nextEvent = min(st.nextEvent, m.tests[st.nextTest].knownAt)
	}
}

// rise is the resistance rise over the baseline now: the live trend, else
// the latest impedance reading; NaN without either or without a baseline.
func (c *JarCalc) rise(st *jarState) float64 {
	r := st.rTrend
	if r != r && st.nextImp > 0 {
		r = st.m.imp[st.nextImp-1].mOhm
	}
	return r*st.invBase - 1
}

// computeSOH is SOH from the latest test and the rise (see JarCalc),
// quantised to soh_pct; it refreshes the SOC scale when SOH moved by more
// than 0.01 point.
func (c *JarCalc) computeSOH(st *jarState) error {
	p := &c.p
	rise := c.rise(st)
	switch {
	case st.testPct == st.testPct:
		adj := 0.0
		if d := rise - st.riseAtTest; d == d {
			adj = clamp(-st.slope*100*d, p.AdjMin, p.AdjMax)
		}
		st.soh = st.testPct + adj
	case rise == rise:
		st.soh = clamp(100-st.slope*100*max(0, rise), 0, 100)
	default:
		st.soh = math.NaN()
	}
	st.sohQ = Null32
	if st.soh == st.soh {
		q, err := colSOH.q32(st.soh)
		if err != nil {
			return err
		}
		st.sohQ = q
		if !(math.Abs(st.soh-st.effSOH) <= 0.01) {
			st.effSOH = st.soh
			st.effC = 100 / (st.m.capAh * clamp(st.soh, 20, 150) / 100)
		}
	}
	return nil
}

// searchImp is the index of the last impedance reading at or before t, -1 if none.
func searchImp(ps []impPoint, t int64) int {
	i, _ := slices.BinarySearchFunc(ps, t, func(p impPoint, t int64) int {
		if p.at <= t {
			return -1
		}
		return 1
	})
	return i - 1
}
