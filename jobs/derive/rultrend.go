package derive

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/google/uuid"
)

// Resistance trend features: the slope of a jar's telemetry resistance
// over the last weeks, the observation that carries its current fade rate
// (resistance rises with capacity loss, and the life model correlates the
// two trajectories' noise), which the 168 h window and the sparse handheld
// readings do not. They read the feature store's daily 24 h rows
// (feature_ts at 00:00, each covering the day before it: known at the end
// of that day, the rule of the 168 h features), r_internal_latest, over the
// ResistanceTrendWindows days ending with the as-of day; a window with
// fewer than half its days (before the telemetry starts, a jar installed
// inside it) is NaN.
//
// Long-window stress features (mean and max jar temperature, an Arrhenius
// dose, hot days, discharges and Ah throughput per year, the deepest
// discharge, time above float, ripple, over 90 and 365 days) were measured
// and left out: they did not improve the fade estimate or the RUL model
// (README, "Long windows").

// ResistanceTrendWindows are the trend look-backs (days).
var ResistanceTrendWindows = []int{60, 180, 365}

// trendNames are the trend feature names.
func trendNames() []string {
	var out []string
	for _, w := range ResistanceTrendWindows {
		out = append(out, trendName(w))
	}
	return out
}

func trendName(w int) string { return "r_trend" + strconv.Itoa(w) + "_pct_per_year" }

// dailyR is one jar's daily telemetry resistance (mΩ): index k is day
// first+k (Unix days), NaN without a row.
type dailyR struct {
	first int32
	r     []float32
}

// slot returns the index of day (Unix days), growing the series.
func (d *dailyR) slot(day int32) int {
	if len(d.r) == 0 {
		d.first = day
	}
	if day < d.first { // rows come in file order: a day before the first shifts the series
		d.r = append(nanSlice(int(d.first-day)), d.r...)
		d.first = day
	}
	k := int(day - d.first)
	if k >= len(d.r) {
		d.r = append(d.r, nanSlice(k+1-len(d.r))...)
	}
	return k
}

func nanSlice(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	return out
}

// loadDailyR reads the daily 24 h rows of the feature store, once.
func (s *RULSources) loadDailyR(ctx context.Context) error {
	s.dailyR = map[uuid.UUID]*dailyR{}
	if s.fs == nil {
		return nil
	}
	scale := s.fs.Table.Column("r_internal_latest").Type.Scale
	const dayUS = 86400e6
	for _, f := range s.fs.All() {
		err := EachSlice(ctx, s.l, f, parquetio.ReadOptions{Columns: []string{"battery_id", "feature_ts", "feature_window_hours", "r_internal_latest"}}, func(b *parquetio.SliceBatch) error {
			for i := 0; i < b.Rows; i++ {
				ts := b.Cols[1].Int64[i]
				if b.Cols[2].Int32[i] != 24 || ts%dayUS != 0 {
					continue
				}
				id := uuid.UUID(b.Cols[0].UUID[i])
				d := s.dailyR[id]
				if d == nil {
					d = &dailyR{}
					s.dailyR[id] = d
				}
				k := d.slot(int32(ts/dayUS) - 1) // the day the row covers
				d.r[k] = float32(numeric(&b.Cols[3], i, scale))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// trendFeatures sets the resistance trends as of the end of day (Unix
// days) from d: the OLS slope of the daily values in the window, in % of
// their mean per year.
func trendFeatures(d *dailyR, day int32, set func(string, float64)) {
	if d == nil {
		return
	}
	for _, w := range ResistanceTrendWindows {
		hi := min(int(day-d.first)+1, len(d.r))
		lo := max(0, int(day-d.first)+1-w)
		var fit olsSums // summed in place: a frame has a row per jar and as-of day
		for k := lo; k < hi; k++ {
			if r := float64(d.r[k]); !math.IsNaN(r) && r > 0 {
				fit.add(float64(k)/365.25, r)
			}
		}
		if int(fit.n) < (w+1)/2 {
			continue
		}
		slope, _ := fit.fit()
		set(trendName(w), slope/(fit.sy/fit.n)*100)
	}
}

// unixDay is t's day number.
func unixDay(t time.Time) int32 { return int32(t.Unix() / 86400) }
