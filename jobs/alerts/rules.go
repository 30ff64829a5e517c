package alerts

import (
	"math"
	"time"
)

// The rules of the eleven alert types. Levels are in the unit of the value
// the lake read side computes for each sample (see the derive stage for
// sources); every threshold is documented here and repeated in each
// alert's context_json.

// VoltageLowRule: hourly mean jar voltage (V) of hours with no discharge
// on the string (a discharge pulls every jar down by design; the read side
// drops those hours). Warning 0.20 V under the model's float minimum
// (≈ 33 mV per cell: the charger is not holding float), critical 0.75 V
// under (12.75 V on a 12 V jar: a shorted or open cell, or no charge at
// all). Clears within 0.05 V of the band. Debounce: 2 h of consecutive
// hours (spikes and short dips do not raise), 1 h clear.
func VoltageLowRule(floatMinV float64) Rule {
	return Rule{Type: VoltageLow, Below: true, Warn: floatMinV - 0.20, Crit: floatMinV - 0.75, Clear: floatMinV - 0.05,
		MinRaise: 2 * time.Hour, MinClear: time.Hour, MaxGap: 2 * time.Hour, Unit: "V"}
}

// VoltageHighRule: hourly mean jar voltage (V) of hours when the string is
// on float (boost and equalize hours dropped). Warning 0.15 V above the
// float maximum (≈ 25 mV per cell: overcharge, gassing, or the jar takes
// the voltage its weak neighbours lose), critical at the model's boost
// maximum (float above boost level drives thermal runaway). Clears within
// 0.05 V of the band. Debounce 2 h, 1 h clear.
func VoltageHighRule(floatMaxV, boostMaxV float64) Rule {
	crit := boostMaxV
	if crit <= floatMaxV+0.15 {
		crit = floatMaxV + 0.6
	}
	return Rule{Type: VoltageHigh, Warn: floatMaxV + 0.15, Crit: crit, Clear: floatMaxV + 0.05,
		MinRaise: 2 * time.Hour, MinClear: time.Hour, MaxGap: 2 * time.Hour, Unit: "V"}
}

// TemperatureHighRule: hourly maximum jar temperature (°C) against the
// model's temp_warning_c and temp_critical_c; clears 3 °C under the
// warning level. Debounce 1 h (two hourly maxima), 2 h clear.
func TemperatureHighRule(warnC, critC float64) Rule {
	return Rule{Type: TemperatureHigh, Warn: warnC, Crit: critC, Clear: warnC - 3,
		MinRaise: time.Hour, MinClear: 2 * time.Hour, MaxGap: 2 * time.Hour, Unit: "°C"}
}

// CurrentHighRule: hourly maximum charge current of a string (A) against
// the model's max_charge_current_a (the charger's limit: above it the
// recharge overheats the jars); critical at 1.5×; clears under 0.9×.
// Debounce: none beyond the hourly maximum, 1 h clear.
func CurrentHighRule(maxChargeA float64) Rule {
	return Rule{Type: CurrentHigh, Warn: maxChargeA, Crit: 1.5 * maxChargeA, Clear: 0.9 * maxChargeA,
		MinClear: time.Hour, MaxGap: 2 * time.Hour, Unit: "A"}
}

// RippleHighRule: hourly mean ripple voltage of a string as a percentage
// of its float voltage (jars × mid float band). Warning above 0.5 % (the
// usual VRLA maker limit), critical above 1.0 %; clears under 0.4 %.
// Debounce 2 h, 1 h clear.
func RippleHighRule() Rule {
	return Rule{Type: RippleHigh, Warn: 0.5, Crit: 1.0, Clear: 0.4, MinRaise: 2 * time.Hour, MinClear: time.Hour, MaxGap: 2 * time.Hour, Unit: "%"}
}

// Resistance drift levels. A healthy jar's resistance rises about 5 % a
// year and crosses +20 % of its baseline after about 4 years, with its
// string peers, so +20 % alone would flag healthy old strings. The rule
// wants a jar well past that (+40 %), or past +35 % and ahead of its
// peers, or past +25 % and clearly ahead of them (peer ratio: the reading
// over the median of its string's readings of the same survey). Measured
// on the default lake (all 67,872 readings against the hidden truth):
// readings at the warning level are followed by end of service within a
// year 60 % of the time (8 % for all readings), and 72 % of the jars that
// reached end of service had one 30 to 365 days before; readings at
// +50 % are within 180 days of end of service 83 % of the time, at +60 %
// always.
const (
	DriftBaseAlone     = 140  // baseline_pct that warns alone
	DriftBasePeers     = 135  // baseline_pct that warns with a jar ahead of its peers …
	DriftPeerAhead     = 1.05 // … by this peer ratio
	DriftBaseOutlier   = 125  // baseline_pct that warns with a clear outlier …
	DriftPeerOutlier   = 1.20 // … by this peer ratio
	DriftBaseCrit      = 155  // baseline_pct that is critical alone
	DriftBaseCritPeers = 140  // baseline_pct that is critical with …
	DriftPeerCrit      = 1.40 // … this peer ratio
	DriftBaseClear     = 130  // under this baseline_pct …
	DriftPeerClear     = 1.10 // … and this peer ratio, the drift has cleared
)

// DriftLevel maps one impedance reading to the drift ladder the rule
// watches: 2 critical, 1 warning (levels above), 0.5 the hysteresis band
// (baseline ≥ 130 % or peer ratio ≥ 1.10: not clear), 0 clear. peerRatio
// is NaN when the survey had fewer than three readings on the string.
func DriftLevel(baselinePct, peerRatio float64) float64 {
	peer := !math.IsNaN(peerRatio)
	switch {
	case baselinePct >= DriftBaseCrit || (peer && peerRatio >= DriftPeerCrit && baselinePct >= DriftBaseCritPeers):
		return 2
	case baselinePct >= DriftBaseAlone || (peer && peerRatio >= DriftPeerAhead && baselinePct >= DriftBasePeers) ||
		(peer && peerRatio >= DriftPeerOutlier && baselinePct >= DriftBaseOutlier):
		return 1
	case baselinePct >= DriftBaseClear || (peer && peerRatio >= DriftPeerClear):
		return 0.5
	}
	return 0
}

// ResistanceDriftRule watches DriftLevel per reading: one reading raises
// (surveys are months apart), one clear reading ends the episode.
func ResistanceDriftRule() Rule {
	return Rule{Type: ResistanceDrift, Warn: 0.9, Crit: 1.9, Clear: 0.25, Unit: "level"}
}

// SOHDegradedRule: a string's capacity test result (capacity_pct_of_rated,
// %). Warning under 85 % (past the marginal band's middle), critical under
// 80 % (IEEE 1188 end of life); clears at 88 % (after replacements).
// Tests are months apart: one test raises, one clears.
func SOHDegradedRule() Rule {
	return Rule{Type: SOHDegraded, Below: true, Warn: 85, Crit: 80, Clear: 88, Unit: "%"}
}

// RULWarningRule: predicted rul_days under 180 (time to plan a
// replacement); clears above 240. Two consecutive predictions.
func RULWarningRule() Rule {
	return Rule{Type: RULWarning, Below: true, Warn: 180, Crit: math.NaN(), Clear: 240, MinRaise: time.Nanosecond, Unit: "days"}
}

// RULCriticalRule: predicted rul_days under 30; clears above 60. Two
// consecutive predictions.
func RULCriticalRule() Rule {
	return Rule{Type: RULCritical, Below: true, Warn: 30, Crit: 30, Clear: 60, MinRaise: time.Nanosecond, Unit: "days"}
}

// AnomalyRule watches score − threshold of the anomaly model: raises
// (warning) above 0, critical 0.15 above the threshold; clears 0.05
// under it. Two consecutive anomalous scores raise.
func AnomalyRule() Rule {
	return Rule{Type: AnomalyDetected, Warn: 0, Crit: 0.15, Clear: -0.05, MinRaise: time.Nanosecond, Unit: "score-threshold"}
}

// DataQualityRule watches a level per hour of one entity (battery or
// string) that the read side scores: 0 clean; 1 (info) a gap — a string
// hour with fewer than 90 % of the day's nominal samples; 2 (warning)
// readings out of physical range — a jar below 50 % or above 130 % of
// nominal, or a temperature outside −20…80 °C. Debounce 1 h (two
// consecutive bad hours): a single glitch — a 5 s spike, a short dropout —
// is a reject for validation, not an operator's alert. 2 h clear.
func DataQualityRule() Rule {
	return Rule{Type: DataQuality, Info: 0.5, Warn: 1.5, Crit: math.NaN(), Clear: 0.25, MinRaise: time.Hour, MinClear: 2 * time.Hour, MaxGap: 3 * time.Hour, Unit: "level"}
}

// StuckSensorRule (data_quality, info): a jar whose voltage has exactly
// zero spread over an hour (level 1). A live jar sampled every few seconds
// at 1 mV never does, so one hour raises; one clean hour clears. The read
// side judges only hours of at least 120 samples (30 s or faster).
func StuckSensorRule() Rule {
	return Rule{Type: DataQuality, Name: "stuck", Info: 0.5, Warn: 1.5, Crit: math.NaN(), Clear: 0.25, Unit: "level"}
}
