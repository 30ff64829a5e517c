package rul

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/ml"
)

// sensorSet is a synthetic set of 40 strings (30 train, 10 test) of 10
// jars at 6 as-of days whose true SOH is a known function of the ohmic
// drift plus noise (sd 0.5 %), and whose 90-day fade follows the capacity
// tests' slope; every other feature is noise.
func sensorSet(t *testing.T) *Set {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	nf := len(derive.RULFeatureNames)
	io, ic := derive.RULFeatureIndex("ohmic_baseline_pct"), derive.RULFeatureIndex("captest_slope_pct_per_year")
	s := &Set{Frame: &derive.RULFrame{}, Horizon: day("2026-10-31")}
	for st := 0; st < 40; st++ {
		sid := uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(st), 's'})
		split := "train"
		if st >= 30 {
			split = "test"
		}
		for j := 0; j < 10; j++ {
			bid := uuid.NewSHA1(sid, []byte{byte(j)})
			for d := 0; d < 6; d++ {
				x := make([]float64, nf)
				for k := range x {
					x[k] = rng.Float64() * 100
				}
				x[io] = 100 + 60*rng.Float64()
				x[ic] = -8 * rng.Float64()
				soh := 100 - 0.3*(x[io]-100) + 0.5*rng.NormFloat64()
				s.Frame.Rows = append(s.Frame.Rows, derive.RULRow{AsOf: day("2026-01-31").AddDate(0, d, 0), Battery: bid, String: sid})
				s.Frame.X = append(s.Frame.X, x...)
				s.Labels = append(s.Labels, Label{})
				s.Splits = append(s.Splits, split)
				s.soh = append(s.soh, soh)
				s.soh90 = append(s.soh90, soh-x[ic]*truthWindow/365.25)
			}
		}
	}
	return s
}

// The sensor learns the SOH from the features: on strings it never saw,
// its error is a fraction of the true SOH's spread; the estimate of a
// training row is out of fold (the model fitted without its fold, which never saw
// the row's string); and the artifact alone (no truth) gives the same
// estimates.
func TestSoftSensorLearnsSOH(t *testing.T) {
	s := sensorSet(t)
	h := DefaultHyper(5)
	h.Sensor.Trees, h.Sensor.MinSamplesLeaf = 60, 10
	train := s.rowsOf("train", nil)
	sn, oof, err := fitSensor(s, train, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(sn.SOH) != 2 || len(sn.Fade) != 2 {
		t.Fatalf("%d / %d fold models, want 2 / 2", len(sn.SOH), len(sn.Fade))
	}
	var est, truth, fest, ftruth []float64
	for _, i := range s.rowsOf("test", nil) {
		a, b := sn.Estimate(s.Frame.Row(i))
		est, truth = append(est, a), append(truth, s.soh[i])
		fest, ftruth = append(fest, b), append(ftruth, fadeLabel(s.soh[i], s.soh90[i]))
	}
	rmse, spread := ml.RMSE(est, truth), stddev(truth)
	t.Logf("soh sensor on the test strings: RMSE %.2f %%, spread %.2f %%", rmse, spread)
	if rmse > 0.25*spread {
		t.Errorf("soh sensor on unseen strings: RMSE %.2f %%, the true SOH's spread %.2f %%: it did not learn", rmse, spread)
	}
	if fr, fs := ml.RMSE(fest, ftruth), stddev(ftruth); fr > 0.5*fs {
		t.Errorf("fade sensor on unseen strings: RMSE %.2f, spread %.2f", fr, fs)
	}
	for _, i := range train {
		f := sensorFold(s.Frame.Rows[i].String, 2)
		if want := sn.SOH[f].Predict(s.Frame.Row(i)); oof[2*i] != want {
			t.Fatalf("row %d (fold %d): out-of-fold estimate %v, the model fitted without its fold says %v", i, f, oof[2*i], want)
		}
		if want := sn.Fade[f].Predict(s.Frame.Row(i)); oof[2*i+1] != want {
			t.Fatalf("row %d (fold %d): out-of-fold fade %v, the model fitted without its fold says %v", i, f, oof[2*i+1], want)
		}
	}
	// Prediction needs the artifact only.
	soh, fade, err := sn.marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := loadSensor(soh, fade)
	if err != nil {
		t.Fatal(err)
	}
	s.soh, s.soh90 = nil, nil
	X := s.matrix(s.rowsOf("test", nil))
	batch, err := back.EstimateBatch(X)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < X.Rows; k++ {
		if a, b := sn.Estimate(X.Row(k)); a != batch[2*k] || b != batch[2*k+1] || a != est[k] {
			t.Fatalf("test row %d: loaded artifact's batch estimate (%v, %v), the fitted sensor's (%v, %v)", k, batch[2*k], batch[2*k+1], a, b)
		}
	}
	if _, _, err := fitSensor(s, train, h); err == nil {
		t.Fatal("fitted a sensor on a set without true SOH")
	}
	if _, err := loadSensor(soh, fade[:1]); err == nil {
		t.Fatal("loaded a sensor with a missing fade model")
	}
}
