package twin

import "testing"

// BenchmarkIdentifyTransfer: one jar's transfer window as the job sees it
// (10 s on float, 30 s at 200 A, 10 s of rest at 100 ms, decimated to 1 s
// away from the steps). Reports fits/s: the stage's budget per window is
// 24 of these.
func BenchmarkIdentifyTransfer(b *testing.B) {
	e := ECM{R0: 0.0035, R1: 0.0014, C1: 30 / 0.0014, R2: 0.0017, C2: 1800 / 0.0017}
	ts, is := pulseProfile(10, 30, 10, 0.1, 200)
	full := exactResponse(e, ts, is, 1, 150, 0.004, 0.005, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := Decimate(full, 1, 0.5)
		if _, err := Identify(w, DefaultIdent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fits/s")
}
