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
	// RTau is the time constant of the resistance trend (EMA of the
	// temperature-corrected BMS ohmic value, updated only at float-full).
	RTau int64
	// SOHSlope: points of capacity (percent of rated) lost per point of
	// resistance rise over the baseline. vrla-physics.md: end of life (80 %)
	// comes with about +50 % (the replace level), and +20 % with SOH ~93 %:
	// 0.4 matches both (100 − 0.4·50 = 80, 100 − 0.4·20 = 92). Refitted per
	// jar from two capacity tests whose resistance rises differ by at least
	// SlopeMinRise, bounded to [SlopeMin, SlopeMax].
	SOHSlope, SlopeMin, SlopeMax, SlopeMinRise float64
	// AdjMin/AdjMax bound the resistance adjustment of a capacity test
	// (percentage points): a resistance trend refines a test, it does not
	// overrule it. Default −20/+5.
	AdjMin, AdjMax float64
}

// DefaultJarParams are the values documented on JarParams.
var DefaultJarParams = JarParams{
	ChargeEfficiency: 0.95,
	MaxHold:          5 * 60 * microsPerSecond,
	RestC:            0.002, RestMinA: 0.25, RestHold: 2 * 3600 * microsPerSecond,
	RestTau: 10 * 60 * microsPerSecond,
	TailC:   0.005, FloatTolV: 0.3, FloatHold: 30 * 60 * microsPerSecond,
	OCVEmptyCellV: 11.8 / 6, OCVFullCellV: 12.9 / 6, OCVTempCellV: 0.00025,
	Temp:     DefaultResistanceTemp,
	RTau:     6 * 3600 * microsPerSecond,
	SOHSlope: 0.4, SlopeMin: 0.2, SlopeMax: 1.0, SlopeMinRise: 0.05,
	AdjMin: -20, AdjMax: 5,
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
}

type impPoint struct {
	at   int64
	mOhm float64
}

type jarModel struct {
	capAh, restA, tailA, floatMinV float64
	ocv0, ocvSpan, ocvTemp         float64 // per block
	r0                             float64 // resistance baseline, mΩ; NaN unknown
	tests                          []testPoint
	imp                            []impPoint
}

// jarState is everything the kernel remembers about one battery between
// rows and between calls.
type jarState struct {
	m       *jarModel
	started bool
	lastTS  int64

	soc                   float64 // percent; NaN until a first estimate
	restSince, floatSince int64   // -1: condition not holding

	// SOH
	rTrend              float64 // mΩ at 25 °C; NaN until a float-full reading
	lastR, lastT        int32   // raw inputs of r25 (cache: math.Exp only when they change)
	r25                 float64
	nextTest, nextImp   int
	testPct, riseAtTest float64 // NaN: none
	prevPct, prevRise   float64
	slope               float64
	soh                 float64 // percent; NaN unknown
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
//   - the resistance rise ρ = R_trend / R_baseline − 1, R_trend an EMA (RTau)
//     of the BMS ohmic value corrected to 25 °C, updated only at float-full
//     (resistance depends on SOC: like is compared with like), falling back
//     to the latest impedance_measurement_calc reading before the sample;
//     R_baseline is battery.initial_resistance_mohm, else the jar's first
//     impedance reading;
//   - with a capacity test of the jar's string known by then (its end ≤
//     ts): SOH = pct_test − slope·100·(ρ − ρ_test), the adjustment bounded
//     to [AdjMin, AdjMax], ρ_test the rise when the test became known
//     (the live trend if the test ended during the fed rows, else the
//     impedance reading as-of the test). A string test measures the
//     weakest jar; the trend then tells jars apart;
//   - without a test: SOH = 100 − slope·100·max(0, ρ), in [0, 100];
//   - slope is SOHSlope, refitted from consecutive tests (see JarParams).
//
// A JarCalc is not safe for concurrent use; run one per partition group
// (state is per battery, so disjoint battery sets parallelise).
type JarCalc struct {
	p      JarParams
	cur    *StringCurrents
	models map[UUID]*jarModel
	strOf  map[UUID]UUID
	state  map[UUID]*jarState
	lastID UUID
	lastSt *jarState
}

// NewJarCalc builds the kernel over the batteries' master data, the string
// currents, the capacity test results (capacity_test_calc with their raw
// keys: every test of the strings, any order) and the impedance results
// (impedance_measurement_calc; any order). tests and imp may be nil.
func NewJarCalc(p JarParams, batteries []JarBattery, currents *StringCurrents, tests []CapacityTestCalc, imp []ImpedanceCalcRow) (*JarCalc, error) {
	byString := make(map[UUID][]testPoint)
	for _, t := range tests {
		if !math.IsNaN(t.Pct) {
			byString[t.StringID] = append(byString[t.StringID], testPoint{knownAt: t.KnownAt, pct: t.Pct})
		}
	}
	for _, ts := range byString {
		slices.SortStableFunc(ts, func(a, b testPoint) int { return cmp.Compare(a.knownAt, b.knownAt) })
	}
	byJar := make(map[UUID][]impPoint)
	for _, r := range imp {
		if !math.IsNaN(r.CorrectedMOhm) {
			byJar[r.BatteryID] = append(byJar[r.BatteryID], impPoint{at: r.MeasuredAt, mOhm: r.CorrectedMOhm})
		}
	}
	for _, ps := range byJar {
		slices.SortStableFunc(ps, func(a, b impPoint) int { return cmp.Compare(a.at, b.at) })
	}
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
		if b.InitialResistanceMOhm > 0 {
			m.r0 = b.InitialResistanceMOhm
		}
		c.models[b.BatteryID], c.strOf[b.BatteryID] = m, b.StringID
	}
	return c, nil
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
			lastR: Null32, testPct: math.NaN(), riseAtTest: math.NaN(), prevPct: math.NaN(), prevRise: math.NaN(),
			slope: c.p.SOHSlope, soh: math.NaN()}
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

// runBattery processes one battery's run of rows [i0, i1).
func (c *JarCalc) runBattery(st *jarState, id UUID, in *JarBatch, out *JarCalcOut, i0, i1 int) error {
	p := &c.p
	m := st.m
	var sts []int64
	var sma []int32
	if s := c.cur.m[c.strOf[id]]; s != nil {
		sts, sma = s.ts, s.ma
	}
	// k: the string sample as-of the position reached (lastTS, or the
	// first row). Positions are re-found by binary search once per run, so
	// TrimBefore between calls is safe.
	pos := in.TS[i0]
	if st.started {
		pos = st.lastTS
	}
	k := searchAsOf(sts, pos)
	const usPerHour = 3600 * microsPerSecond
	effC := 100 / m.capAh
	if !math.IsNaN(st.soh) {
		effC = 100 / (m.capAh * clamp(st.soh, 20, 150) / 100)
	}
	for i := i0; i < i1; i++ {
		t := in.TS[i]
		if st.started && t < st.lastTS {
			return fmt.Errorf("battery %s: ts %d before %d: rows not sorted by (battery_id, ts)", idString(id), t, st.lastTS)
		}
		// 1. Integrate the string current over [pos, t).
		dAh := 0.0
		for k+1 < len(sts) && sts[k+1] <= t {
			if st.started {
				dAh += c.seg(sts, sma, k, pos, sts[k+1])
			}
			pos = sts[k+1]
			k++
			a := float64(sma[k]) / scaleCurrent
			if math.Abs(a) > m.restA {
				st.restSince = -1
			}
			if a > m.tailA || a < -m.restA {
				st.floatSince = -1
			}
		}
		if st.started {
			dAh += c.seg(sts, sma, k, pos, t)
		}
		pos = t
		dt := t - st.lastTS
		if !st.started {
			dt = 0
		}
		// 2. Conditions at t.
		iKnown := k >= 0 && t-sts[k] <= p.MaxHold
		amps := 0.0
		if iKnown {
			amps = float64(sma[k]) / scaleCurrent
		}
		vRaw, tRaw := in.VoltageMV[i], in.TemperatureDeciC[i]
		vOK := vRaw != Null32
		v := float64(vRaw) / scaleJarV
		tempC := 25.0
		if tRaw != Null32 {
			tempC = float64(tRaw) / scaleTemp
		}
		floatNow := iKnown && vOK && v >= m.floatMinV-p.FloatTolV && amps >= -m.restA && amps <= m.tailA
		restNow := iKnown && vOK && v < m.floatMinV-p.FloatTolV && math.Abs(amps) <= m.restA
		if floatNow {
			if st.floatSince < 0 {
				st.floatSince = t
			}
		} else {
			st.floatSince = -1
		}
		if restNow {
			if st.restSince < 0 {
				st.restSince = t
			}
		} else {
			st.restSince = -1
		}
		floatFull := floatNow && t-st.floatSince >= p.FloatHold
		// 3. Resistance trend (SOH input).
		if rRaw := in.ResistanceMicroOhm[i]; rRaw != Null32 && tRaw != Null32 {
			if rRaw != st.lastR || tRaw != st.lastT {
				st.lastR, st.lastT = rRaw, tRaw
				st.r25 = p.Temp.To25(float64(rRaw)/scaleRes, tempC)
			}
			if floatFull {
				if math.IsNaN(st.rTrend) {
					st.rTrend = st.r25
				} else {
					st.rTrend += (st.r25 - st.rTrend) * math.Min(1, float64(dt)/float64(p.RTau))
				}
			}
		}
		// 4. SOC.
		switch {
		case !math.IsNaN(st.soc):
			st.soc = clamp(st.soc+dAh*effC, 0, 100)
			if floatFull {
				st.soc = 100
			} else if st.restSince >= 0 && t-st.restSince >= p.RestHold {
				st.soc += (c.ocvSOC(m, v, tempC) - st.soc) * math.Min(1, float64(dt)/float64(p.RestTau))
			}
		case vOK && iKnown:
			if floatNow {
				st.soc = 100
			} else {
				ocv := v
				if r := in.ResistanceMicroOhm[i]; r != Null32 {
					ocv -= amps * float64(r) / scaleRes / 1000
				}
				st.soc = c.ocvSOC(m, ocv, tempC)
			}
		}
		// 5. SOH.
		if c.updateSOH(st, t) {
			effC = 100 / m.capAh
			if !math.IsNaN(st.soh) {
				effC = 100 / (m.capAh * clamp(st.soh, 20, 150) / 100)
			}
		}
		st.started, st.lastTS = true, t
		// 6. Output.
		if math.IsNaN(st.soc) {
			out.SOCCentiPct[i] = Null32
		} else {
			out.SOCCentiPct[i] = int32(math.Round(st.soc * 100)) // in [0, 100]: always fits
		}
		if math.IsNaN(st.soh) {
			out.SOHCentiPct[i] = Null32
		} else {
			q, err := colSOH.q32(st.soh)
			if err != nil {
				return fmt.Errorf("battery %s ts %d: %w", idString(id), t, err)
			}
			out.SOHCentiPct[i] = q
		}
	}
	return nil
}

// seg is the charge (Ah, efficiency applied) of string sample k held over
// [a, b), cut at MaxHold after the sample.
func (c *JarCalc) seg(sts []int64, sma []int32, k int, a, b int64) float64 {
	if k < 0 {
		return 0
	}
	end := min(b, sts[k]+c.p.MaxHold)
	if end <= a {
		return 0
	}
	q := float64(sma[k]) / scaleCurrent * float64(end-a) / (3600 * microsPerSecond)
	if q > 0 {
		q *= c.p.ChargeEfficiency
	}
	return q
}

// ocvSOC is the OCV curve inverted: SOC (percent, clamped) of a block
// resting at v volts and tempC, the OCV first brought to 25 °C.
func (c *JarCalc) ocvSOC(m *jarModel, v, tempC float64) float64 {
	v25 := v - m.ocvTemp*(tempC-25)
	return clamp((v25-m.ocv0)/m.ocvSpan*100, 0, 100)
}

// updateSOH advances the battery's tests and impedance readings to t and
// recomputes SOH; it reports whether SOH changed.
func (c *JarCalc) updateSOH(st *jarState, t int64) bool {
	p := &c.p
	m := st.m
	for st.nextImp < len(m.imp) && m.imp[st.nextImp].at <= t {
		st.nextImp++
	}
	baseline := m.r0
	if math.IsNaN(baseline) && st.nextImp > 0 {
		// Without a master baseline, the first impedance reading serves,
		// once it exists.
		baseline = m.imp[0].mOhm
	}
	riseAt := func(rNow float64) float64 {
		if math.IsNaN(rNow) || math.IsNaN(baseline) {
			return math.NaN()
		}
		return rNow/baseline - 1
	}
	rNow := st.rTrend
	if math.IsNaN(rNow) && st.nextImp > 0 {
		rNow = m.imp[st.nextImp-1].mOhm
	}
	rise := riseAt(rNow)
	for st.nextTest < len(m.tests) && m.tests[st.nextTest].knownAt <= t {
		tp := m.tests[st.nextTest]
		st.nextTest++
		rt := rise
		if !st.started || math.IsNaN(st.rTrend) || tp.knownAt-st.lastTS > p.RTau {
			// The live trend did not see the test (it predates the rows
			// fed, or falls in a gap longer than the trend's own time
			// constant): the resistance then is the impedance reading
			// as-of the test; without one, the rise now stands in.
			if j := searchImp(m.imp, tp.knownAt); j >= 0 {
				rt = riseAt(m.imp[j].mOhm)
			}
		}
		if !math.IsNaN(st.prevPct) && !math.IsNaN(st.prevRise) && !math.IsNaN(rt) && math.Abs(rt-st.prevRise) >= p.SlopeMinRise {
			st.slope = clamp((st.prevPct-tp.pct)/(100*(rt-st.prevRise)), p.SlopeMin, p.SlopeMax)
		}
		st.prevPct, st.prevRise = tp.pct, rt
		st.testPct, st.riseAtTest = tp.pct, rt
	}
	old := st.soh
	switch {
	case !math.IsNaN(st.testPct):
		adj := 0.0
		if !math.IsNaN(rise) && !math.IsNaN(st.riseAtTest) {
			adj = clamp(-st.slope*100*(rise-st.riseAtTest), p.AdjMin, p.AdjMax)
		}
		st.soh = st.testPct + adj
	case !math.IsNaN(rise):
		st.soh = clamp(100-st.slope*100*math.Max(0, rise), 0, 100)
	default:
		st.soh = math.NaN()
	}
	return st.soh != old && !(math.IsNaN(st.soh) && math.IsNaN(old))
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
