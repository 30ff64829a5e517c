package twin

import "math"

// EKFConfig sets up the SOC filter. The state is (SOC, v1, v2): coulomb
// counting and the two RC pairs; the measurement is the terminal voltage
// OCV(SOC, T) + R0·I + v1 + v2.
type EKFConfig struct {
	CapacityAh float64   // rated × SOH when known (the coulomb-counting denominator)
	ECM        ECM       // complete (WithPriors)
	OCV        OCVParams //
	// SigmaV is the measurement noise σ (V): the sensor's 2-4 mV plus
	// what the twin's circuit does not model (coup de fouet, the charger's
	// clamp, the temperature error): 20 mV.
	SigmaV float64
	// Process noise as variance per second: SOC from a current sensor's
	// ~1 % gain error at discharge currents (1e-8/s ≈ 0.6 % SOC σ over an
	// hour), the pairs from their parameter errors (1e-6 V²/s).
	QSOC, QV float64
	// P0SOC is the initial SOC variance: 0.3² (start almost unknown).
	P0SOC float64
}

// DefaultEKF fills the noise settings documented on EKFConfig.
func DefaultEKF(capAh float64, e ECM, ocv OCVParams) EKFConfig {
	return EKFConfig{CapacityAh: capAh, ECM: e.WithPriors(), OCV: ocv, SigmaV: 0.02, QSOC: 1e-8, QV: 1e-6, P0SOC: 0.09}
}

// EKF is the SOC filter. The zero value is not usable: NewEKF.
type EKF struct {
	cfg     EKFConfig
	x       [3]float64
	p       [3][3]float64
	lastT   float64
	started bool
	// The pairs' decay over the last interval (steps repeat: 1 min).
	dt, a1, a2 float64
}

// NewEKF starts the filter at soc0 with relaxed pairs.
func NewEKF(cfg EKFConfig, soc0 float64) *EKF {
	f := &EKF{cfg: cfg}
	f.x[0] = clamp(soc0, 0, 1)
	f.p[0][0] = cfg.P0SOC
	f.p[1][1], f.p[2][2] = 0.01, 0.01 // (0.1 V)²: pairs unknown at start
	return f
}

// SOC is the current estimate (0..1); Var its variance.
func (f *EKF) SOC() float64 { return f.x[0] }
func (f *EKF) Var() float64 { return f.p[0][0] }

// Step predicts from the previous sample with current i held over
// (lastT, t] and updates with the measured voltage v at temperature tempC.
// A NaN v predicts only (a missing reading).
func (f *EKF) Step(t, i, v, tempC float64) {
	e := &f.cfg.ECM
	if f.started {
		dt := t - f.lastT
		if dt > 0 {
			if dt != f.dt {
				f.dt, f.a1, f.a2 = dt, math.Exp(-dt/e.Tau1()), math.Exp(-dt/e.Tau2())
			}
			a1, a2 := f.a1, f.a2
			f.x[0] = clamp(f.x[0]+i*dt/(3600*f.cfg.CapacityAh), 0, 1)
			f.x[1] = a1*f.x[1] + (1-a1)*e.R1*i
			f.x[2] = a2*f.x[2] + (1-a2)*e.R2*i
			// P = F P Fᵀ + Q with F = diag(1, a1, a2).
			a := [3]float64{1, a1, a2}
			for r := range 3 {
				for c := range 3 {
					f.p[r][c] *= a[r] * a[c]
				}
			}
			f.p[0][0] += f.cfg.QSOC * dt
			f.p[1][1] += f.cfg.QV * dt
			f.p[2][2] += f.cfg.QV * dt
		}
	}
	f.started, f.lastT = true, t
	if math.IsNaN(v) {
		return
	}
	// H = ∂V/∂x; the OCV slope vanishes where SOC is clamped (the filter
	// then corrects the pairs only, as a full block on float does).
	h := [3]float64{f.cfg.OCV.E1, 1, 1}
	pred := f.cfg.OCV.At(f.x[0], tempC) + e.R0*i + f.x[1] + f.x[2]
	var ph [3]float64
	for r := range 3 {
		for c := range 3 {
			ph[r] += f.p[r][c] * h[c]
		}
	}
	s := h[0]*ph[0] + h[1]*ph[1] + h[2]*ph[2] + f.cfg.SigmaV*f.cfg.SigmaV
	innov := v - pred
	var k [3]float64
	for r := range 3 {
		k[r] = ph[r] / s
		f.x[r] += k[r] * innov
	}
	f.x[0] = clamp(f.x[0], 0, 1)
	// P = (I - K H) P, symmetrised.
	var np [3][3]float64
	for r := range 3 {
		for c := range 3 {
			np[r][c] = f.p[r][c] - k[r]*ph[c]
		}
	}
	for r := range 3 {
		for c := range 3 {
			f.p[r][c] = (np[r][c] + np[c][r]) / 2
		}
	}
}

// EKFState is the filter's state and covariance, carried from one day's
// filter to the next (State, Resume).
type EKFState struct {
	X       [3]float64
	P       [3][3]float64
	LastT   float64 // time of the last step, on the clock of the filter it came from
	Started bool
}

// State is the filter's current state.
func (f *EKF) State() EKFState { return EKFState{X: f.x, P: f.p, LastT: f.lastT, Started: f.started} }

// Shift moves the state's clock back by dt seconds: a state at 86,340 s of
// one day continues at -60 s on the next day's clock.
func (s EKFState) Shift(dt float64) EKFState {
	s.LastT -= dt
	return s
}

// Resume continues a filter from st with cfg (a new day's calibration and
// capacity): the next Step predicts over the gap since st.LastT.
func Resume(cfg EKFConfig, st EKFState) *EKF {
	f := &EKF{cfg: cfg, x: st.X, p: st.P, lastT: st.LastT, started: st.Started}
	f.x[0] = clamp(f.x[0], 0, 1)
	return f
}
