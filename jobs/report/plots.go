package report

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot size: 10 x 4.5 in at 96 dpi is 960 x 432 px, the page's width.
const (
	plotW = 10 * vg.Inch
	plotH = 4.5 * vg.Inch
	dpi   = 96
)

var (
	colObserved = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colTruth    = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colGrey     = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
	colInterval = color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x90}
	colMiss     = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	// A palette that reads on white, for the worst jars' lines.
	palette = []color.Color{
		color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff},
		color.RGBA{0x8c, 0x56, 0x4b, 0xff}, color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, color.RGBA{0x17, 0xbe, 0xcf, 0xff},
		color.RGBA{0xbc, 0xbd, 0x22, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	}
	severityColors = map[string]color.Color{
		"info": color.RGBA{0x9e, 0xc5, 0xe8, 0xff}, "low": color.RGBA{0x9e, 0xc5, 0xe8, 0xff},
		"warning": color.RGBA{0xff, 0xb3, 0x47, 0xff}, "medium": color.RGBA{0xff, 0xd9, 0x66, 0xff},
		"high": color.RGBA{0xff, 0x8c, 0x1a, 0xff}, "critical": color.RGBA{0xd6, 0x27, 0x28, 0xff},
	}
	classColors = map[string]color.Color{
		"master": color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, "raw": color.RGBA{0x1f, 0x77, 0xb4, 0xff}, "calc": color.RGBA{0x94, 0x67, 0xbd, 0xff},
		"derived": color.RGBA{0xff, 0x7f, 0x0e, 0xff}, "truth": color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, "ops": color.RGBA{0xbc, 0xbd, 0x22, 0xff},
	}
)

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 15
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Label.TextStyle.Font.Size, p.Y.Label.TextStyle.Font.Size = 13, 13
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = 11, 11
	p.Legend.TextStyle.Font.Size = 11
	return p
}

// encodePNG renders p at w x h with its legend in a column right of the
// plot, where it hides no data: the same plot always gives the same bytes.
func encodePNG(p *plot.Plot, w, h vg.Length) ([]byte, error) { return drawPNG(p, w, h, false) }

// encodePNGBelow is encodePNG with the legend under the plot, for plots
// whose x axis needs the whole width.
func encodePNGBelow(p *plot.Plot, w, h vg.Length) ([]byte, error) { return drawPNG(p, w, h, true) }

func drawPNG(p *plot.Plot, w, h vg.Length, below bool) ([]byte, error) {
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))}
	dc := draw.New(c)
	leg := p.Legend
	p.Legend = plot.NewLegend()
	r := leg.Rectangle(dc)
	leg.Left = true
	switch legW, legH := r.Max.X-r.Min.X, r.Max.Y-r.Min.Y; {
	case legW == 0:
		p.Draw(dc)
	case below:
		legH += vg.Points(14)
		p.Draw(draw.Crop(dc, 0, 0, legH, 0))
		leg.Top = false
		leg.Draw(draw.Crop(dc, vg.Points(60), 0, vg.Points(4), -(h - legH)))
	default:
		legW += vg.Points(16)
		p.Draw(draw.Crop(dc, 0, -legW, 0, 0))
		leg.Top = true
		// Level with the top of the data area, below the title.
		leg.YOffs = -(p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding + vg.Points(8))
		leg.Draw(draw.Crop(dc, w-legW+vg.Points(10), 0, 0, 0))
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("encode %q: %w", p.Title.Text, err)
	}
	return b.Bytes(), nil
}

// stepTicks labels every step of a linear axis (SOH every 5 %).
type stepTicks struct {
	step   float64
	format string
}

func (s stepTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for v := math.Ceil(lo/s.step) * s.step; v <= hi; v += s.step {
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprintf(s.format, v)})
	}
	return out
}

// dateTicks marks a Unix-seconds axis by years over long spans, else by
// months or days, labelling at most about twelve.
type dateTicks struct{}

func (dateTicks) Ticks(lo, hi float64) []plot.Tick {
	a, b := time.Unix(int64(lo), 0).UTC(), time.Unix(int64(hi), 0).UTC()
	days := b.Sub(a).Hours() / 24
	var (
		start  time.Time
		next   func(time.Time) time.Time
		format string
		n      int // ticks in the span
	)
	switch {
	case days > 3*365:
		start, next, format, n = time.Date(a.Year(), 1, 1, 0, 0, 0, 0, time.UTC), func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }, "2006", b.Year()-a.Year()+1
	case days > 60:
		start, next, format, n = time.Date(a.Year(), a.Month(), 1, 0, 0, 0, 0, time.UTC), func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }, "2006-01", int(days/30)+1
	default:
		start, next, format, n = a.Truncate(24*time.Hour), func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }, "2006-01-02", int(days)+1
	}
	every := max(1, (n+11)/12)
	var out []plot.Tick
	for i, t := 0, start; !t.After(b); i, t = i+1, next(t) {
		v := float64(t.Unix())
		if v < lo {
			continue
		}
		tk := plot.Tick{Value: v}
		if i%every == 0 {
			tk.Label = t.Format(format)
		}
		out = append(out, tk)
	}
	return out
}

// addGrid draws grid lines; a nominal axis gets none (they would cross
// its labels).
func addGrid(p *plot.Plot, vertical, horizontal bool) {
	g := plotter.NewGrid()
	if !vertical {
		g.Vertical.Color = nil
	}
	if !horizontal {
		g.Horizontal.Color = nil
	}
	p.Add(g)
}

// swatch is a filled legend thumbnail.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(s.c, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// dot is a circle legend thumbnail.
type dot struct{ c color.Color }

func (d dot) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(draw.GlyphStyle{Color: d.c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}, c.Center())
}

// vbar is a vertical-line legend thumbnail (error bars).
type vbar struct{ c color.Color }

func (v vbar) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(draw.LineStyle{Color: v.c, Width: vg.Points(1.5)}, x, c.Min.Y, x, c.Max.Y)
}

// hline is a dashed horizontal reference line across the data range.
func hline(p *plot.Plot, y float64, x0, x1 float64, label string) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return err
	}
	l.Color, l.Dashes, l.Width = colMiss, []vg.Length{vg.Points(5), vg.Points(3)}, vg.Points(1)
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

// sohBySite draws a box per site of the observed SOH and, beside it, of
// the true SOH.
func sohBySite(d *data) ([]byte, error) {
	p := newPlot("Fleet state of health by site (jars in service)", "site", "SOH (%)")
	addGrid(p, false, true)
	sites := d.sites
	bySite := func(m map[uuid.UUID]float64) map[string]plotter.Values {
		out := map[string]plotter.Values{}
		for id, v := range m {
			if j, ok := d.jars[id]; ok && j.inService {
				out[j.site] = append(out[j.site], v)
			}
		}
		for _, vs := range out {
			sort.Float64s(vs) // map order must not reach the plot
		}
		return out
	}
	series := []struct {
		vals  map[string]plotter.Values
		off   float64
		color color.Color
		label string
	}{
		{bySite(d.obsSOH), -0.2, colObserved, "observed: digital twin, latest estimate per jar"},
		{bySite(d.truthSOH), 0.2, colTruth, "TRUTH (hidden): true SOH on " + d.truthDay.Format(time.DateOnly)},
	}
	ymin, ymax := 100.0, 100.0
	for _, s := range series {
		drawn := false
		for i, site := range sites {
			vs := s.vals[site]
			if len(vs) == 0 {
				continue
			}
			b, err := plotter.NewBoxPlot(vg.Points(28), float64(i)+s.off, vs)
			if err != nil {
				return nil, err
			}
			b.FillColor = s.color
			b.MedianStyle.Width = vg.Points(2)
			b.GlyphStyle.Radius = vg.Points(1.5)
			p.Add(b)
			drawn = true
			ymin, ymax = min(ymin, vs[0]), max(ymax, vs[len(vs)-1])
		}
		if drawn {
			p.Legend.Add(s.label, swatch{s.color})
		}
	}
	if err := hline(p, 80, -0.5, float64(len(sites))-0.5, "end of life: 80 % (IEEE 1188)"); err != nil {
		return nil, err
	}
	p.NominalX(sites...)
	p.X.Min, p.X.Max = -0.6, float64(len(sites))-0.4
	p.Y.Min, p.Y.Max = math.Floor(min(ymin, 80)/5)*5-2, math.Ceil(ymax+1)
	p.Y.Tick.Marker = stepTicks{5, "%.0f"}
	return encodePNGBelow(p, plotW, plotH*1.15)
}

// worstJars draws the worst jars' SOH over their life: the daily truth
// as lines, the twin's estimates as dots in the same color.
func worstJars(d *data) ([]byte, error) {
	p := newPlot(fmt.Sprintf("SOH trajectories of the %d worst jars in service", len(d.worst)), "date", "SOH (%)")
	addGrid(p, true, true)
	p.X.Tick.Marker, p.Y.Tick.Marker = dateTicks{}, stepTicks{5, "%.0f"}
	x0, x1, lo := math.Inf(1), math.Inf(-1), 80.0
	for i, id := range d.worst {
		c := palette[i%len(palette)]
		name := d.label(id)
		if ps := d.trajTruth[id]; len(ps) > 0 {
			l, err := plotter.NewLine(xys(ps))
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = c, vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(name+" (truth)", l)
			x0, x1 = min(x0, l.XYs[0].X), max(x1, l.XYs[len(l.XYs)-1].X)
			lo = min(lo, slices.MinFunc(ps, func(a, b point) int { return cmp.Compare(a.v, b.v) }).v)
		}
		if ps := d.trajObs[id]; len(ps) > 0 {
			s, err := plotter.NewScatter(xys(ps))
			if err != nil {
				return nil, err
			}
			s.Color, s.Shape, s.Radius = c, draw.CircleGlyph{}, vg.Points(2.5)
			p.Add(s)
			if len(d.trajTruth[id]) == 0 {
				// Without the truth the twin's estimates are the trajectory.
				l, err := plotter.NewLine(s.XYs)
				if err != nil {
					return nil, err
				}
				l.Color, l.Width = c, vg.Points(1)
				p.Add(l)
				p.Legend.Add(name+" (twin)", l, s)
			}
			x0, x1 = min(x0, s.XYs[0].X), max(x1, s.XYs[len(s.XYs)-1].X)
			lo = min(lo, slices.MinFunc(ps, func(a, b point) int { return cmp.Compare(a.v, b.v) }).v)
		}
	}
	if len(d.trajObs) > 0 && len(d.trajTruth) > 0 {
		p.Legend.Add("dots: digital twin estimates", dot{colGrey})
	}
	if x0 <= x1 {
		if err := hline(p, 80, x0, x1, "end of life: 80 %"); err != nil {
			return nil, err
		}
		// Room for the last dots at the right edge and the lowest below.
		p.X.Min, p.X.Max = x0, x1+(x1-x0)*0.015+3600
		p.Y.Min = math.Floor(lo) - 2
	}
	return encodePNG(p, plotW, plotH*1.2)
}

func xys(ps []point) plotter.XYs {
	out := make(plotter.XYs, len(ps))
	for i, q := range ps {
		out[i] = plotter.XY{X: float64(q.t.Unix()), Y: q.v}
	}
	return out
}

// rulErrs is predictions with their interval, as gonum's error bars.
type rulErrs struct {
	pts  []rulPoint
	rank bool // x is the rank (no truth), else the true RUL
}

func (r rulErrs) Len() int { return len(r.pts) }
func (r rulErrs) XY(i int) (float64, float64) {
	if r.rank {
		return float64(i + 1), r.pts[i].pred
	}
	return r.pts[i].truth, r.pts[i].pred
}
func (r rulErrs) YError(i int) (float64, float64) {
	return r.pts[i].pred - r.pts[i].lo, r.pts[i].hi - r.pts[i].pred
}

// rulPlot draws predicted against true RUL with 95 % intervals; without
// the truth, the predictions in order with their intervals.
func rulPlot(d *data) ([]byte, error) {
	truth := d.hasRULTruth()
	var pts []rulPoint
	for _, q := range d.preds {
		if !truth || q.truth >= 0 { // a jar the truth does not know has no x
			pts = append(pts, q)
		}
	}
	sort.SliceStable(pts, func(a, b int) bool {
		if truth {
			return pts[a].truth < pts[b].truth
		}
		return pts[a].pred < pts[b].pred
	})
	title := fmt.Sprintf("Predicted vs true RUL (%s, %d jars, predicted %s)", d.predSource, len(pts), d.predAt.Format(time.DateOnly))
	xl := "TRUE remaining life (days, hidden truth)"
	if !truth {
		title = fmt.Sprintf("Predicted RUL (%s, %d jars, %s): no truth in the lake", d.predSource, len(pts), d.predAt.Format(time.DateOnly))
		xl = "jars ranked by predicted RUL"
	}
	p := newPlot(title, xl, "predicted RUL (days)")
	addGrid(p, true, true)
	// Intervals of at most maxIntervals jars, evenly through the order:
	// two thousand overlapping bars would hide the points.
	const maxIntervals = 250
	var withCI []rulPoint
	for _, q := range pts {
		if q.hasCI {
			withCI = append(withCI, q)
		}
	}
	if n := len(withCI); n > maxIntervals {
		sample := make([]rulPoint, 0, maxIntervals)
		for i := range maxIntervals {
			sample = append(sample, withCI[i*n/maxIntervals])
		}
		withCI = sample
	}
	if len(withCI) > 0 {
		e, err := plotter.NewYErrorBars(rulErrs{pts: withCI, rank: !truth})
		if err != nil {
			return nil, err
		}
		e.LineStyle.Color, e.LineStyle.Width, e.CapWidth = colInterval, vg.Points(1), vg.Points(3)
		p.Add(e)
		label := "95 % prediction interval"
		if len(withCI) < len(pts) {
			label = fmt.Sprintf("95 %% interval (%d of %d jars, evenly)", len(withCI), len(pts))
		}
		p.Legend.Add(label, vbar{colInterval})
	}
	var in, out plotter.XYs
	hi := 0.0
	for i, q := range pts {
		x, y := rulErrs{pts: pts, rank: !truth}.XY(i)
		hi = max(hi, x, y)
		if truth && q.hasCI && (q.truth < q.lo || q.truth > q.hi) {
			out = append(out, plotter.XY{X: x, Y: y})
		} else {
			in = append(in, plotter.XY{X: x, Y: y})
		}
	}
	for _, s := range []struct {
		xy    plotter.XYs
		c     color.Color
		label string
	}{{in, colObserved, "prediction (truth inside its interval)"}, {out, colMiss, "prediction (truth outside its interval)"}} {
		if len(s.xy) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(s.xy)
		if err != nil {
			return nil, err
		}
		sc.Color, sc.Shape, sc.Radius = s.c, draw.CircleGlyph{}, vg.Points(2)
		if len(pts) > 500 {
			sc.Radius = vg.Points(1.5)
		}
		p.Add(sc)
		if truth {
			p.Legend.Add(s.label, sc)
		} else {
			p.Legend.Add("prediction", sc)
		}
	}
	if truth {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: hi, Y: hi}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes = colGrey, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add("ideal: predicted = true", l)
		p.X.Min, p.Y.Min = 0, 0
	}
	return encodePNGBelow(p, plotW, plotH*1.4)
}

// bin is one bar of a count-over-time chart.
type bin struct {
	start  time.Time
	counts []int
}

// binDays groups per-day counts by day, ISO week or month, whichever
// gives a readable number of bars for the span.
func binDays(days map[int64][]int, n int) (bins []bin, unit string) {
	if len(days) == 0 {
		return nil, ""
	}
	keys := make([]int64, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	span := keys[len(keys)-1] - keys[0]
	start := func(t time.Time) time.Time { return t }
	next := func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	unit = "day"
	switch {
	case span > 2*366:
		unit = "month"
		start = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
		next = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	case span > 62:
		unit = "week"
		start = func(t time.Time) time.Time { return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)) }
		next = func(t time.Time) time.Time { return t.AddDate(0, 0, 7) }
	}
	first, last := start(dayTime(int32(keys[0]))), dayTime(int32(keys[len(keys)-1]))
	// Every bin between the first and the last, empty ones included: the
	// axis is time.
	for t := first; !t.After(last); t = next(t) {
		bins = append(bins, bin{start: t, counts: make([]int, n)})
	}
	for _, k := range keys {
		t := start(dayTime(int32(k)))
		i := sort.Search(len(bins), func(i int) bool { return !bins[i].start.Before(t) })
		for s, c := range days[k] {
			bins[i].counts[s] += c
		}
	}
	return bins, unit
}

// countsOverTime draws stacked bars per severity.
func countsOverTime(title, what string, days map[int64][]int, sevs []string) ([]byte, string, error) {
	bins, unit := binDays(days, len(sevs))
	p := newPlot(fmt.Sprintf("%s per %s, by severity", title, unit), unit+" (UTC)", what+" per "+unit)
	addGrid(p, true, true)
	w := vg.Points(math.Max(1, math.Min(24, 640/float64(len(bins))*0.8)))
	var prev *plotter.BarChart
	for s, sev := range sevs {
		vals := make(plotter.Values, len(bins))
		for i, b := range bins {
			vals[i] = float64(b.counts[s])
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, "", err
		}
		bc.Color, bc.LineStyle.Width = severityColors[sev], 0
		if prev != nil {
			bc.StackOn(prev)
		}
		p.Add(bc)
		p.Legend.Add(sev, bc)
		prev = bc
	}
	// At most ~12 labelled ticks.
	format := "2006-01-02"
	// At most ~12 labels; months are labelled on January of every
	// labelled year.
	every := max(1, (len(bins)+11)/12)
	if unit == "month" {
		format = "2006-01"
		if len(bins) > 12 {
			format, every = "2006", max(1, (len(bins)+143)/144)
		}
	}
	var ticks []plot.Tick
	for i, b := range bins {
		label := ""
		switch {
		case unit == "month" && len(bins) > 12:
			if b.start.Month() == time.January && b.start.Year()%every == 0 {
				label = b.start.Format(format)
			}
		case i%every == 0:
			label = b.start.Format(format)
		}
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: label})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -1, float64(len(bins))
	top := 0
	for _, b := range bins {
		n := 0
		for _, c := range b.counts {
			n += c
		}
		top = max(top, n)
	}
	step := niceStep(float64(top) / 5)
	p.Y.Min, p.Y.Max = 0, math.Ceil(float64(top)*1.08/step)*step
	p.Y.Tick.Marker = stepTicks{step, "%.0f"}
	b, err := encodePNG(p, plotW, plotH)
	return b, unit, err
}

// volumePlot draws each table's bytes as a horizontal bar on a log axis
// (the telemetry outweighs master data by five orders of magnitude).
func volumePlot(vs []volume) ([]byte, error) {
	p := newPlot("Data volume per table (bytes, log scale)", "bytes (data files and their blob objects)", "")
	addGrid(p, true, false)
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, bytesTicks{}
	names := make([]string, len(vs))
	const base = 100.0
	seen := map[string]bool{}
	for i, v := range vs {
		// Top to bottom in the table's order.
		y := float64(len(vs) - 1 - i)
		names[len(vs)-1-i] = v.Table
		x := math.Max(float64(v.Bytes), base*1.5)
		poly, err := plotter.NewPolygon(plotter.XYs{{X: base, Y: y - 0.35}, {X: x, Y: y - 0.35}, {X: x, Y: y + 0.35}, {X: base, Y: y + 0.35}})
		if err != nil {
			return nil, err
		}
		c := classColors[v.Class]
		poly.Color, poly.LineStyle.Width = c, 0
		p.Add(poly)
		if !seen[v.Class] {
			seen[v.Class] = true
			p.Legend.Add(v.Class, swatch{c})
		}
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(vs))-0.4
	top := base
	for _, v := range vs {
		top = max(top, float64(v.Bytes))
	}
	p.X.Min, p.X.Max = base, math.Pow(10, math.Ceil(math.Log10(top)))
	return encodePNG(p, plotW, vg.Points(math.Max(250, 40+float64(len(vs))*16)))
}

// bytesTicks labels a log byte axis in powers of ten with units.
type bytesTicks struct{}

func (bytesTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi*1.0001; e++ {
		v := math.Pow(10, e)
		if v >= lo {
			out = append(out, plot.Tick{Value: v, Label: siBytes(v)})
		}
	}
	return out
}

// siBytes names a power of ten of bytes in decimal units (1 kB, 10 MB).
func siBytes(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	u := 0
	for v >= 1000 && u < len(units)-1 {
		v /= 1000
		u++
	}
	return fmt.Sprintf("%g %s", math.Round(v), units[u])
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten (at least 1).
func niceStep(x float64) float64 {
	if x <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}
