// Package report renders what a lake holds as a static HTML page with PNG
// plots (gonum/plot): the fleet's state of health by site, the worst
// jars' trajectories, predicted against true remaining life, alerts and
// incidents over time, and the data volume of every table.
//
// It reads the lake as the derived stages do, through manifests and
// derive's readers, but never telemetry: the daily tables (digital twin,
// predictions, alerts, incidents) and the manifests hold what the page
// shows, so memory is bounded by per-jar scalars, a few trajectories and
// per-day counts. Like `battlake evaluate` it reads _truth/ on purpose,
// and every figure drawn from it says so. The page is a pure function of
// the lake: no clock, no network, no script.
package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
)

// Options configure a report.
type Options struct {
	// Location names the lake on the page (the --lake argument).
	Location string
	// Out is the directory that receives index.html and the PNGs.
	Out string
	// WorstJars is how many jars the trajectory plot shows (default 8).
	WorstJars int
}

// Result lists what Write wrote.
type Result struct {
	Files []string // names under Out, index.html first
	Bytes int64
}

// ErrNoLake says the location holds no committed partition at all.
var ErrNoLake = errors.New("no committed table in the lake (run battlake run first)")

// Write renders the report of l into o.Out.
func Write(ctx context.Context, l *lake.Lake, o Options) (Result, error) {
	if o.WorstJars <= 0 {
		o.WorstJars = 8
	}
	d, err := collect(ctx, l, o.WorstJars)
	if err != nil {
		return Result{}, fmt.Errorf("report %s: %w", o.Location, err)
	}
	if len(d.volumes) == 0 {
		return Result{}, fmt.Errorf("report %s: %w", o.Location, ErrNoLake)
	}
	pg, imgs, err := render(d, o.Location)
	if err != nil {
		return Result{}, fmt.Errorf("report %s: %w", o.Location, err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return Result{}, fmt.Errorf("report: %w", err)
	}
	res := Result{Files: []string{"index.html"}}
	files := map[string][]byte{"index.html": pg}
	for _, im := range imgs {
		files[im.Name] = im.PNG
		res.Files = append(res.Files, im.Name)
	}
	for _, name := range res.Files {
		if err := os.WriteFile(filepath.Join(o.Out, name), files[name], 0o644); err != nil {
			return Result{}, fmt.Errorf("report: %w", err)
		}
		res.Bytes += int64(len(files[name]))
	}
	return res, nil
}

type image struct {
	Name, Alt string
	PNG       []byte
	W, H      int
}

// section is one part of the page: a plot, a note, or what is missing.
type section struct {
	ID, Title string
	Img       *image
	Imgs      []*image
	Notes     []string
	Missing   string
	Rows      [][]string // a small table under the plot
	Head      []string
}

type page struct {
	Location string
	Meta     [][2]string
	Key      [][2]string
	Sections []section
	Volumes  []volume
	Total    volume
}

func render(d *data, location string) ([]byte, []*image, error) {
	var imgs []*image
	add := func(name, alt string, b []byte, err error) (*image, error) {
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", name, err)
		}
		w, h, err := pngSize(b)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", name, err)
		}
		im := &image{Name: name, Alt: alt, PNG: b, W: w, H: h}
		imgs = append(imgs, im)
		return im, nil
	}
	var secs []section
	var errs []error
	build := func(s section, err error) {
		errs = append(errs, err)
		secs = append(secs, s)
	}
	build(d.sohSection(add))
	build(d.worstSection(add))
	build(d.rulSection(add))
	build(d.alertSection(add))
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	vb, err := volumePlot(d.volumes)
	vi, err := add("data_volume.png", "Bytes per table on a log scale", vb, err)
	if err != nil {
		return nil, nil, err
	}
	pg := page{Location: location, Volumes: d.volumes}
	for _, v := range d.volumes {
		pg.Total.Partitions += v.Partitions
		pg.Total.Files += v.Files
		pg.Total.Rows += v.Rows
		pg.Total.Bytes += v.Bytes
	}
	pg.Meta, pg.Key = d.header(pg.Total)
	secs = append(secs, section{ID: "volume", Title: "Data volume per table", Img: vi,
		Notes: []string{"From the partition manifests (_manifest.json): committed partitions, files (data files and the blob objects their rows reference), rows of the data files, and bytes of all those files."}})
	pg.Sections = secs
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, pg); err != nil {
		return nil, nil, fmt.Errorf("render page: %w", err)
	}
	return b.Bytes(), imgs, nil
}

type adder func(name, alt string, b []byte, err error) (*image, error)

// missing names absent tables and the stage that writes them.
func missing(what string, tables ...string) string {
	return fmt.Sprintf("Not shown: the lake has no %s (%s).", strings.Join(tables, ", "), what)
}

func (d *data) sohSection(add adder) (section, error) {
	s := section{ID: "soh", Title: "Fleet state of health by site"}
	switch {
	case len(d.jars) == 0:
		s.Missing = missing("run the master stage", "battery", "string", "battery_system", "location")
		return s, nil
	case len(d.obsSOH) == 0 && len(d.truthSOH) == 0:
		s.Missing = missing("run the twin stage for observed SOH; the telemetry stage writes the truth", "digital_twin_state", "_truth/truth_battery_daily")
		return s, nil
	}
	b, err := sohBySite(d)
	im, err := add("soh_by_site.png", "Box plots of SOH per site: observed and truth", b, err)
	s.Img = im
	if len(d.obsSOH) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("Observed: the digital twin's latest SOH estimate of each jar in service (digital_twin_state, latest %s).", d.obsAt.Format(time.RFC3339)))
	} else {
		s.Notes = append(s.Notes, missing("run the twin stage", "digital_twin_state")+" Only the truth is drawn.")
	}
	if len(d.truthSOH) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("TRUTH: the hidden true SOH (_truth/truth_battery_daily) on %s, which no derived table reads; shown for evaluation only.", d.truthDay.Format(time.DateOnly)))
	} else {
		s.Notes = append(s.Notes, "No hidden truth in this lake (_truth/truth_battery_daily): only the observed SOH is drawn.")
	}
	s.Notes = append(s.Notes, "Boxes: quartiles and median; whiskers to the last value within 1.5 interquartile ranges; dots beyond.")
	return s, err
}

func (d *data) worstSection(add adder) (section, error) {
	s := section{ID: "worst", Title: "SOH trajectories of the worst jars"}
	if len(d.worst) == 0 {
		s.Missing = "Not shown: no jar in service has an SOH (needs master data and digital_twin_state or _truth/truth_battery_daily)."
		return s, nil
	}
	b, err := worstJars(d)
	im, err := add("worst_jars.png", "SOH over time of the worst jars in service", b, err)
	s.Img = im
	if len(d.truthSOH) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("The %d jars in service with the lowest true SOH on the truth's last day. Lines: the hidden daily truth (TRUTH) over the jar's life; dots: the digital twin's estimates.", len(d.worst)))
	} else {
		s.Notes = append(s.Notes, fmt.Sprintf("The %d jars in service with the lowest latest twin SOH (no truth in this lake): the digital twin's estimates.", len(d.worst)))
	}
	s.Head = []string{"jar", "site", "observed SOH (%)", "true SOH (%)", "true end of service"}
	for _, id := range d.worst {
		j := d.jars[id]
		row := []string{j.code, j.site, "–", "–", "–"}
		if v, ok := d.obsSOH[id]; ok {
			row[2] = fmt.Sprintf("%.2f", v)
		}
		if v, ok := d.truthSOH[id]; ok {
			row[3] = fmt.Sprintf("%.2f", v)
		}
		if e, ok := d.eos[id]; ok {
			row[4] = e.Format(time.DateOnly)
		}
		s.Rows = append(s.Rows, row)
	}
	return s, err
}

func (d *data) hasRULTruth() bool {
	for _, p := range d.preds {
		if p.truth >= 0 {
			return true
		}
	}
	return false
}

func (d *data) rulSection(add adder) (section, error) {
	s := section{ID: "rul", Title: "Predicted against true remaining useful life"}
	if len(d.preds) == 0 {
		s.Missing = missing("run the rul stage", "rul_prediction")
		return s, nil
	}
	b, err := rulPlot(d)
	im, err := add("rul_pred_vs_true.png", "Predicted RUL against true RUL with 95 % intervals", b, err)
	s.Img = im
	s.Notes = append(s.Notes, fmt.Sprintf("The %d predictions of source %s made on %s, the last prediction day.", len(d.preds), d.predSource, d.predAt.Format(time.DateOnly)))
	if len(d.predOther) > 0 {
		var o []string
		for _, k := range sortedKeys(d.predOther) {
			o = append(o, fmt.Sprintf("%d of source %s", d.predOther[k], k))
		}
		s.Notes = append(s.Notes, "Also made that day, not drawn: "+strings.Join(o, ", ")+".")
	}
	if !d.hasRULTruth() {
		s.Notes = append(s.Notes, "No hidden truth in this lake (_truth/truth_battery): the true RUL is unknown, so the predictions are drawn in rank order with their intervals.")
		return s, err
	}
	var n, nci, cov int
	var abs float64
	for _, p := range d.preds {
		if p.truth < 0 {
			continue
		}
		n++
		abs += math.Abs(p.pred - p.truth)
		if p.hasCI {
			nci++
			if p.truth >= p.lo && p.truth <= p.hi {
				cov++
			}
		}
	}
	s.Notes = append(s.Notes, "TRUTH: the true RUL is the days from the prediction's day to the jar's end of service in _truth/truth_battery (never negative), the rule of the training labels.")
	s.Head = []string{"jars with truth", "mean absolute error (days)", "with a 95 % interval", "truth inside the interval"}
	row := []string{fmt.Sprint(n), fmt.Sprintf("%.1f", abs/float64(max(n, 1))), fmt.Sprint(nci), "–"}
	if nci > 0 {
		row[3] = fmt.Sprintf("%d (%.1f %%)", cov, 100*float64(cov)/float64(nci))
	}
	s.Rows = [][]string{row}
	return s, err
}

func (d *data) alertSection(add adder) (section, error) {
	s := section{ID: "alerts", Title: "Alerts and incidents over time"}
	var miss []string
	for _, x := range []struct {
		table, title, what, name string
		days                     map[int64][]int
		sevs                     []string
	}{{"alert", "Alerts raised", "alerts", "alerts_over_time.png", d.alertDays, alertSeverities},
		{"incident", "Incidents opened", "incidents", "incidents_over_time.png", d.incidentDays, incidentSeverities}} {
		if !d.have[x.table] {
			miss = append(miss, x.table)
			continue
		}
		total := 0
		for _, c := range x.days {
			for _, v := range c {
				total += v
			}
		}
		if total == 0 {
			s.Notes = append(s.Notes, fmt.Sprintf("The %s table is empty.", x.table))
			continue
		}
		b, unit, err := countsOverTime(x.title, x.what, x.days, x.sevs)
		im, err := add(x.name, x.title+" per "+unit+" and severity", b, err)
		if err != nil {
			return s, err
		}
		s.Imgs = append(s.Imgs, im)
		s.Notes = append(s.Notes, fmt.Sprintf("%s: %d in all, by %s of %s (UTC).", x.title, total, unit, map[string]string{"alert": "triggered_at", "incident": "created_at"}[x.table]))
	}
	if len(miss) > 0 {
		s.Missing = missing("run the alerts stage", miss...)
	}
	return s, nil
}

// header is the run metadata and the key numbers.
func (d *data) header(total volume) (meta, key [][2]string) {
	if id := d.identity; id != nil {
		meta = append(meta, [2]string{"root seed", fmt.Sprint(id.RootSeed)}, [2]string{"sites (lake identity)", strings.Join(id.Sites, ", ")})
		var mix []string
		for _, k := range sortedKeys(id.Mix) {
			mix = append(mix, fmt.Sprintf("%s %.2f", k, id.Mix[k]))
		}
		meta = append(meta, [2]string{"profile mix", strings.Join(mix, ", ")})
	} else {
		meta = append(meta, [2]string{"lake identity", "no _lake.json (not written by battlake run)"})
	}
	if !d.window.From.IsZero() {
		days := int(d.window.To.Sub(d.window.From).Hours() / 24)
		meta = append(meta, [2]string{"telemetry", fmt.Sprintf("%s to %s (%d days, telemetry_jar_raw)", d.window.From.Format(time.DateOnly), d.window.To.AddDate(0, 0, -1).Format(time.DateOnly), days)})
	} else {
		meta = append(meta, [2]string{"telemetry", "none"})
	}
	meta = append(meta, [2]string{"versions and rates (manifest inputs)", strings.Join(d.inputs, ", ")})
	var tables []string
	for _, v := range d.volumes {
		tables = append(tables, v.Table)
	}
	meta = append(meta, [2]string{"tables", fmt.Sprintf("%d: %s", len(tables), strings.Join(tables, ", "))})
	key = [][2]string{
		{"sites", fmt.Sprint(len(d.sites))},
		{"strings", fmt.Sprint(d.strings)},
		{"jars in service", fmt.Sprint(d.inService())},
		{"jars ever installed", fmt.Sprint(len(d.jars))},
		{"rows", thousands(total.Rows)},
		{"bytes", humanBytes(total.Bytes)},
	}
	return meta, key
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}
