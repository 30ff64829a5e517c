package jobs

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline/lake"
)

// Notes: technician language driven by the true state of the string.

func jarLabel(b *fleet.Battery) string { return fmt.Sprintf("J%02d", b.Position) }

func (st *siteTx) notes(ev *mEvent) string {
	switch ev.Type {
	case evVisual:
		return st.visualNotes(ev)
	case evVoltage:
		return st.voltageNotes(ev)
	case evThermal:
		return st.thermalNotes(ev)
	case evTorque:
		return st.torqueNotes(ev)
	case evImpedance:
		return st.impedanceNotes(ev)
	case evCapacity:
		return st.capacityNotes(ev)
	case evCorrective:
		return correctiveNotes(ev)
	case evReplace:
		return st.replacementNotes(ev)
	}
	return ""
}

func (st *siteTx) visualNotes(ev *mEvent) string {
	r, t := ev.r, ev.start
	var finds []string
	for _, b := range st.e.Fleet.StringJarsOn(ev.String.ID, t) {
		l := &b.Life
		heat, _ := l.Precursor(t)
		j := jarLabel(b)
		switch {
		case l.Failed(t) && l.Failure == physics.FailureThermalRunaway:
			finds = append(finds, fmt.Sprintf("Jar %s casing bulged and hot to touch, flagged for replacement.", j))
		case l.Failed(t) && l.Failure == physics.FailureDryOut:
			finds = append(finds, fmt.Sprintf("Jar %s casing warm, slight electrolyte odour near vent, flagged for replacement.", j))
		case l.Failed(t):
			finds = append(finds, fmt.Sprintf("Jar %s no visible damage but string alarm active on it, flagged for replacement.", j))
		case heat > 2:
			finds = append(finds, fmt.Sprintf("Jar %s casing slightly warm to touch, monitoring.", j))
		}
	}
	// Swollen cases the string's inspections found this month (the same
	// findings that got jars replaced; fleet ops.go), right or wrong.
	for _, fd := range ev.String.Findings {
		if lake.Month(fd.At) == lake.Month(t) && fd.Jar.ActiveOn(t) {
			finds = append(finds, fmt.Sprintf("Jar %s case swelling observed, replacement requested.", jarLabel(fd.Jar)))
		}
	}
	if len(finds) > 0 {
		return strings.Join(finds, " ")
	}
	routine := []string{
		"No abnormalities found. Jars clean, no leaks or swelling, vents clear.",
		"Visual check OK. No corrosion, cabling and terminal covers in place.",
		"All jars inspected, no leaks, cracks or bulging. Rack and spill tray clean.",
		"Nothing to report; enclosure clean and ventilation unobstructed.",
	}
	switch u := r.Float64(); {
	case u < 0.12:
		return fmt.Sprintf("Light corrosion on J%02d positive terminal, cleaned and anti-oxidant applied.", 1+r.IntN(ev.String.BatteriesCount))
	case u < 0.20:
		return "Dust accumulation on jar tops, cleaned. Otherwise no abnormalities."
	case u < 0.24:
		return fmt.Sprintf("J%02d terminal cover missing, replaced. No other findings.", 1+r.IntN(ev.String.BatteriesCount))
	default:
		return routine[r.IntN(len(routine))]
	}
}

func (st *siteTx) voltageNotes(ev *mEvent) string {
	r, t := ev.r, ev.start
	spec := st.e.Fleet.ModelByID[ev.String.ModelID].Spec
	env := st.roomAt(t, time.Minute, 1)
	room := float64(env.TempC[0])
	float := (spec.FloatMinV+spec.FloatMaxV)/2 - 0.018*(room-25)
	jars := st.e.Fleet.StringJarsOn(ev.String.ID, t)
	vs := make([]float64, len(jars))
	sum := 0.0
	for i, b := range jars {
		_, drift := b.Life.Precursor(t)
		v := float + 0.015*r.NormFloat64() + drift
		if b.Life.Failed(t) {
			switch b.Life.Failure {
			case physics.FailureOpenCell, physics.FailureDryOut: // the dry-out ended in an open cell
				v -= 1.8
			case physics.FailureShort:
				v -= 2.1
			case physics.FailureThermalRunaway:
				v -= 0.30
			}
		}
		vs[i] = v
		sum += v
	}
	if len(jars) == 0 {
		return "String out of service."
	}
	mean := sum / float64(len(jars))
	worst, wi := 0.0, 0
	for i, v := range vs {
		if d := math.Abs(v - mean); d > worst {
			worst, wi = d, i
		}
	}
	s := fmt.Sprintf("String float %.1f V (avg %.2f V/jar), room %.1f °C.", sum, mean, room)
	if worst > 0.1 {
		dir := "below"
		if vs[wi] > mean {
			dir = "above"
		}
		return s + fmt.Sprintf(" Jar %s at %.2f V, %.2f V %s string mean — flagged to engineering.", jarLabel(jars[wi]), vs[wi], worst, dir)
	}
	return s + fmt.Sprintf(" All jars within ±%.2f V of mean, charger output and float current normal.", math.Max(0.01, math.Ceil(worst*100)/100))
}

func (st *siteTx) thermalNotes(ev *mEvent) string {
	r, t := ev.r, ev.start
	env := st.roomAt(t, time.Minute, 1)
	room := float64(env.TempC[0])
	hot, hi := 0.0, -1
	jars := st.e.Fleet.StringJarsOn(ev.String.ID, t)
	for i, b := range jars {
		heat, _ := b.Life.Precursor(t)
		if b.Life.Failed(t) && b.Life.Failure == physics.FailureThermalRunaway {
			heat = 12
		}
		d := 0.4 + 0.8*r.Float64() + heat
		if d > hot {
			hot, hi = d, i
		}
	}
	if hi < 0 {
		return "String out of service."
	}
	j := jarLabel(jars[hi])
	switch {
	case hot >= 5:
		return fmt.Sprintf("IR scan: hot spot on %s at %.1f °C, %.1f °C above ambient %.1f °C — escalated to engineering, float current check requested.", j, room+hot, hot, room)
	case hot >= 3:
		return fmt.Sprintf("IR scan: %s %.1f °C above ambient (%.1f °C), recheck at next visit.", j, hot, room)
	case r.Float64() < 0.06:
		k := 1 + r.IntN(ev.String.BatteriesCount-1)
		return fmt.Sprintf("IR scan: connector J%02d-J%02d 2-3 °C warmer than neighbours, retorqued; jars max %.1f °C (ΔT %.1f °C).", k, k+1, room+hot, hot)
	}
	return fmt.Sprintf("IR scan of %d jars and connections: max %.1f °C on %s, ΔT %.1f °C over ambient. No hot connections.", len(jars), room+hot, j, hot)
}

func (st *siteTx) torqueNotes(ev *mEvent) string {
	r := ev.r
	n := ev.String.BatteriesCount
	spec := "11 N·m"
	if strings.HasPrefix(st.e.Fleet.ModelByID[ev.String.ModelID].Name, "HR") {
		spec = "12 N·m"
	}
	switch u := r.Float64(); {
	case u < 0.2:
		return fmt.Sprintf("Terminal J%02d retorqued to spec (%s). All other %d connections OK.", 1+r.IntN(n), spec, 2*n-1)
	case u < 0.3:
		a := 1 + r.IntN(n)
		b := 1 + (a+r.IntN(n-1))%n
		return fmt.Sprintf("Terminals J%02d and J%02d found below torque, retorqued to %s. Connection resistance rechecked OK.", a, b, spec)
	}
	return fmt.Sprintf("All %d terminal connections verified at %s, intercell connection resistance within limits.", 2*n, spec)
}

func (st *siteTx) impedanceNotes(ev *mEvent) string {
	if len(ev.readings) == 0 {
		return "No readings recorded."
	}
	worst, wr := -1.0, ev.readings[0]
	for _, x := range ev.readings {
		rise := x.RMOhm/x.Battery.InitialResistanceMOhm - 1
		if rise > worst {
			worst, wr = rise, x
		}
	}
	s := fmt.Sprintf("Ohmic readings recorded for %d jars (%s).", len(ev.readings), wr.Instrument)
	j := jarLabel(wr.Battery)
	pct := math.Round(worst * 100)
	switch {
	case worst >= 0.5:
		return s + fmt.Sprintf(" %s at %.3f mΩ, %+.0f %% over baseline — recommend replacement.", j, wr.RMOhm, pct)
	case worst >= 0.2:
		return s + fmt.Sprintf(" %s at %.3f mΩ, %+.0f %% over baseline, above 20 %% investigation threshold.", j, wr.RMOhm, pct)
	}
	return s + fmt.Sprintf(" All jars within %+.0f %% of commissioning baseline.", math.Max(pct, 1))
}

func (st *siteTx) capacityNotes(ev *mEvent) string {
	ct := ev.test
	h := int(ev.testMin) / 60
	m := ev.testMin - float64(60*h)
	// The technician's figure: the measured capacity against rated at this
	// rate and 25 °C (IEEE 450), from the measured current and duration.
	pct := ct.RatedPct
	s := fmt.Sprintf("Discharge at %.1f A to %.2f V string cutoff, ambient %.1f °C. Jar %s reached %.2f V first, after %d h %04.1f min; string capacity %.1f %% of rated (rate and temperature corrected).",
		ct.MeasuredA, CutoffV*float64(ev.String.BatteriesCount), ct.AmbientC, jarLabel(ct.Weakest), CutoffV, h, m, pct)
	switch {
	case pct < 80:
		return s + " Below 80 % end-of-life criterion: replacement of weak jars requested."
	case pct < 90:
		return s + " Below 90 %: annual testing from now on."
	}
	return s + " Result acceptable."
}

func correctiveNotes(ev *mEvent) string {
	j := jarLabel(ev.Battery)
	switch ev.Battery.Life.Failure {
	case physics.FailureDryOut:
		return fmt.Sprintf("String open alarm traced to jar %s: ohmic value had been rising for months, casing warm, now open circuit. Suspected dry-out; jar bypassed, replacement ordered.", j)
	case physics.FailureShort:
		return fmt.Sprintf("Jar %s reads about 2 V low on float and runs warm: shorted cell. Jar isolated, replacement ordered.", j)
	case physics.FailureOpenCell:
		return fmt.Sprintf("String voltage alarm traced to jar %s open cell (no voltage under load). Jar bypassed, string on reduced autonomy, replacement ordered.", j)
	case physics.FailureThermalRunaway:
		return fmt.Sprintf("High temperature alarm: jar %s casing bulged, well above ambient, float current high. Charger reduced to safe float, jar isolated, replacement ordered.", j)
	}
	return fmt.Sprintf("Corrective work on jar %s.", j)
}

// replacementSubtype is the event_subtype of a replacement for the
// evidence that got the old jar replaced.
func replacementSubtype(reason string) string {
	switch reason {
	case fleet.ReasonFailure:
		return "failure_replacement"
	case fleet.ReasonString:
		return "string_replacement"
	case fleet.ReasonCapacity:
		return "capacity_replacement"
	case fleet.ReasonOhmic:
		return "ohmic_replacement"
	case fleet.ReasonSwelling:
		return "swelling_replacement"
	}
	return "replacement"
}

func (st *siteTx) replacementNotes(ev *mEvent) string {
	b := ev.Battery
	old := st.e.Fleet.BatteryByID[*b.ReplacementOf]
	// What the operator saw, as it was recorded (it can be wrong: a false
	// swelling finding, a whole string with good jars in it).
	reason := old.Evidence
	if reason == "" {
		reason = "replacement"
	}
	return fmt.Sprintf("Replaced jar %s: SN %s out, SN %s in; old jar %s. Terminals torqued, new jar float voltage checked.",
		jarLabel(b), old.SerialNumber, b.SerialNumber, reason)
}
