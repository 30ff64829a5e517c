package twin

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// OCVFit is an OCV curve fitted from rest points.
type OCVFit struct {
	OCVParams
	RMSEV  float64 `json:"rmse_v"`
	N      int     `json:"n"`
	Source string  `json:"source"` // "fit", or "prior" when the points cannot determine the curve
}

// OCV fit thresholds: the SOC slope needs rest points spread over at
// least 10 % SOC; the temperature coefficient (a few mV over a room's
// range, below the sensors' noise otherwise) at least 10 °C, else it keeps
// the prior.
const (
	minOCVSOCSpread  = 0.10
	minOCVTempSpread = 10.0
)

// FitOCV fits OCV(soc, T) = E0 + E1·soc + KT·(T-25) to rest points
// (relaxed open-circuit voltage v at known soc and tempC) by linear least
// squares. Points that cannot determine the slope give the prior curve
// shifted to their mean (Source "prior" when there are none).
func FitOCV(soc, tempC, v []float64) (OCVFit, error) {
	n := len(soc)
	if len(tempC) != n || len(v) != n {
		return OCVFit{}, fmt.Errorf("fit ocv: %d soc, %d temperature, %d voltage points", n, len(tempC), len(v))
	}
	if n == 0 {
		return OCVFit{OCVParams: PriorOCV, Source: "prior"}, nil
	}
	spread := func(x []float64) float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, a := range x {
			lo, hi = math.Min(lo, a), math.Max(hi, a)
		}
		return hi - lo
	}
	fitT := spread(tempC) >= minOCVTempSpread
	if spread(soc) < minOCVSOCSpread || n < 3 {
		// Offset only: the prior's slope through the points' mean.
		var off float64
		for k := range soc {
			off += v[k] - PriorOCV.At(soc[k], tempC[k])
		}
		p := PriorOCV
		p.E0 += off / float64(n)
		return OCVFit{OCVParams: p, RMSEV: ocvRMSE(p, soc, tempC, v), N: n, Source: "offset"}, nil
	}
	c := 2
	if fitT {
		c = 3
	}
	a := mat.NewDense(n, c, nil)
	y := mat.NewVecDense(n, nil)
	for k := range soc {
		a.Set(k, 0, 1)
		a.Set(k, 1, soc[k])
		y.SetVec(k, v[k]-PriorOCV.KT*(tempC[k]-25))
		if fitT {
			a.Set(k, 2, tempC[k]-25)
			y.SetVec(k, v[k])
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, y); err != nil {
		return OCVFit{}, fmt.Errorf("fit ocv: %w", ErrIllPosed)
	}
	p := OCVParams{E0: beta.AtVec(0), E1: beta.AtVec(1), KT: PriorOCV.KT}
	if fitT {
		p.KT = beta.AtVec(2)
	}
	return OCVFit{OCVParams: p, RMSEV: ocvRMSE(p, soc, tempC, v), N: n, Source: "fit"}, nil
}

func ocvRMSE(p OCVParams, soc, tempC, v []float64) float64 {
	var s float64
	for k := range soc {
		d := v[k] - p.At(soc[k], tempC[k])
		s += d * d
	}
	return math.Sqrt(s / float64(len(soc)))
}
