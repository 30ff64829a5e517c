package report_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/report"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
)

// smallLake builds one site over three days at 10 min with every stage:
// enough history (capacity tests since commissioning) for every section.
func smallLake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sc := jobs.DefaultScenario()
	sc.Sites = []string{"DC-BKK-01"}
	d, _ := jobs.ParseDate("2026-10-25")
	sc.Start, sc.DetailFrom = d, jobs.Date{}
	sc.End = jobs.Date{Time: d.AddDate(0, 0, 3)}
	sc.SampleInterval = jobs.Duration{Duration: 10 * time.Minute}
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 8, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeReport(t *testing.T, dir, out string) report.Result {
	t.Helper()
	lk, err := pipeline.OpenLake(context.Background(), dir, pipeline.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := report.Write(context.Background(), lk, report.Options{Location: dir, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// reportWithout reports a copy of the lake at full without the named
// top-level folders; it returns the output folder and the page.
func reportWithout(t *testing.T, full string, drop ...string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(full)); err != nil {
		t.Fatal(err)
	}
	for _, name := range drop {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	writeReport(t, dir, out)
	html, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	return out, html
}

var (
	imgRe = regexp.MustCompile(`<img src="([^"]+)" alt="[^"]*" width="(\d+)" height="(\d+)">`)
	rowRe = regexp.MustCompile(`<tr data-table="([^"]+)">(.*?)</tr>`)
	colRe = regexp.MustCompile(`data-col="(\w+)">([\d,]+)<`)
)

type pageImage struct {
	src  string
	w, h int
}

// pageImages lists the page's images, checking each is a PNG beside the
// page of the size its attributes say, and a plot's size.
func pageImages(t *testing.T, out string, html []byte) []pageImage {
	t.Helper()
	var imgs []pageImage
	for _, m := range imgRe.FindAllSubmatch(html, -1) {
		src := string(m[1])
		w, _ := strconv.Atoi(string(m[2]))
		h, _ := strconv.Atoi(string(m[3]))
		b, err := os.ReadFile(filepath.Join(out, src))
		if err != nil {
			t.Fatalf("<img src=%q>: %v", src, err)
		}
		im, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if sz := im.Bounds().Size(); sz.X != w || sz.Y != h || w < 600 || w > 2000 || h < 250 || h > 2000 {
			t.Errorf("%s: %v pixels, attributes %dx%d (want 600-2000 x 250-2000, equal)", src, sz, w, h)
		}
		if !varied(im) {
			t.Errorf("%s is blank", src)
		}
		imgs = append(imgs, pageImage{src, w, h})
	}
	if n := strings.Count(string(html), "<img"); n != len(imgs) {
		t.Fatalf("%d <img> tags, %d in the expected form", n, len(imgs))
	}
	return imgs
}

// varied says an image is not one flat color: its luminance varies.
func varied(im image.Image) bool {
	var n, sum, sq float64
	b := im.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := im.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			n++
			sum += l
			sq += l * l
		}
	}
	mean := sum / n
	return math.Sqrt(sq/n-mean*mean) > 5
}

// manifestTotals sums the lake's manifests per table, read straight from
// the files.
func manifestTotals(t *testing.T, dir string) map[string]map[string]int64 {
	t.Helper()
	out := map[string]map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != lake.ManifestFile || strings.Contains(p, "_staging") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m, err := lake.DecodeManifest(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if out[m.Table] == nil {
			out[m.Table] = map[string]int64{}
		}
		tt := out[m.Table]
		tt["partitions"]++
		tt["files"] += int64(len(m.Files))
		tt["rows"] += m.Rows
		tt["bytes"] += m.Bytes
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReport(t *testing.T) {
	dir := smallLake(t)
	t.Run("every stage", func(t *testing.T) { everyStage(t, dir) })
	t.Run("partial lake", func(t *testing.T) { partialLake(t, dir) })
	t.Run("no truth", func(t *testing.T) { noTruth(t, dir) })
}

// A lake without _truth/ (an ingested fleet): every plot from observed
// data, and the page says the truth is absent.
func noTruth(t *testing.T, full string) {
	out, html := reportWithout(t, full, "_truth")
	page := string(html)
	for _, s := range []string{"No hidden truth in this lake (_truth/truth_battery_daily)", "No hidden truth in this lake (_truth/truth_battery)", "lowest latest twin SOH (no truth in this lake)"} {
		if !strings.Contains(page, s) {
			t.Errorf("page does not say %q", s)
		}
	}
	if strings.Contains(page, "TRUTH") {
		t.Error("a page without truth labels something as truth")
	}
	if got := len(pageImages(t, out, html)); got != 6 {
		t.Errorf("%d images, want all 6 from observed data", got)
	}
}

func everyStage(t *testing.T, dir string) {
	out := t.TempDir()
	res := writeReport(t, dir, out)
	html, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)

	// Every section drew its plots, and every file written is on the page.
	imgs := pageImages(t, out, html)
	var srcs []string
	for _, im := range imgs {
		srcs = append(srcs, im.src)
	}
	want := []string{"soh_by_site.png", "worst_jars.png", "rul_pred_vs_true.png", "alerts_over_time.png", "incidents_over_time.png", "data_volume.png"}
	if !slices.Equal(srcs, want) || !slices.Equal(res.Files[1:], want) {
		t.Fatalf("page images %v, files %v; want %v", srcs, res.Files, want)
	}
	// Self-contained: no section missing, nothing fetched, no script.
	for _, bad := range []string{`class="missing"`, "http://", "https://", "<script", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	for _, src := range srcs {
		if strings.ContainsAny(src, "/:") {
			t.Errorf("image %q is not a file beside the page", src)
		}
	}
	for _, s := range []string{"TRUTH: the hidden true SOH", "TRUTH: the true RUL", "DC-BKK-01", "root seed</th><td>8<"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}

	// The data-volume table equals the manifests, table by table.
	totals := manifestTotals(t, dir)
	shown := map[string]bool{}
	for _, m := range rowRe.FindAllStringSubmatch(page, -1) {
		name := m[1]
		got := map[string]int64{}
		for _, c := range colRe.FindAllStringSubmatch(m[2], -1) {
			v, err := strconv.ParseInt(strings.ReplaceAll(c[2], ",", ""), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			got[c[1]] = v
		}
		if name == "total" {
			continue
		}
		shown[name] = true
		for _, k := range []string{"partitions", "files", "rows", "bytes"} {
			if got[k] != totals[name][k] {
				t.Errorf("table %s: %s = %d on the page, %d in the manifests", name, k, got[k], totals[name][k])
			}
		}
	}
	for name := range totals {
		if !shown[name] {
			t.Errorf("table %s has manifests but no row on the page", name)
		}
	}
	if len(shown) < 30 {
		t.Errorf("%d tables on the page, want every stage's (30+)", len(shown))
	}

	// Same lake, same bytes.
	again := t.TempDir()
	writeReport(t, dir, again)
	for _, f := range res.Files {
		a, _ := os.ReadFile(filepath.Join(out, f))
		b, err := os.ReadFile(filepath.Join(again, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two reports of one lake (%v)", f, err)
		}
	}

	renderInChromium(t, out, imgs)
}

// A lake of the first stages only: the later sections say what is
// missing, and the page still renders.
func partialLake(t *testing.T, full string) {
	out, html := reportWithout(t, full, "digital_twin_state", "rul_prediction", "alert", "incident")
	page := string(html)
	for _, s := range []string{"no rul_prediction (run the rul stage)", "no alert, incident (run the alerts stage)", "no digital_twin_state (run the twin stage)"} {
		if !strings.Contains(page, s) {
			t.Errorf("page does not say %q", s)
		}
	}
	var srcs []string
	for _, im := range pageImages(t, out, html) {
		srcs = append(srcs, im.src)
	}
	// The truth still draws the SOH plots.
	if want := []string{"soh_by_site.png", "worst_jars.png", "data_volume.png"}; !slices.Equal(srcs, want) {
		t.Errorf("images %v, want %v", srcs, want)
	}
	// An empty location is an error, not an empty page.
	lk, err := pipeline.OpenLake(context.Background(), t.TempDir(), pipeline.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := report.Write(context.Background(), lk, report.Options{Out: t.TempDir()}); !errors.Is(err, report.ErrNoLake) {
		t.Errorf("empty lake: err = %v, want ErrNoLake", err)
	}
}

// chromium finds Debian's chromium: skipped locally without it, a
// failure in CI (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed in CI: .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium (apt-get install chromium)")
	return ""
}

// browser runs headless chromium with the flags this closed network
// needs (no sandbox as root, no background traffic).
func browser(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// probeScript records, once the page has loaded, every image's state in
// the DOM that --dump-dom prints.
const probeScript = `<script>
window.addEventListener('load', function () {
  var lines = [];
  document.querySelectorAll('img').forEach(function (im) {
    lines.push(im.getAttribute('src') + ' ' + im.complete + ' ' + im.naturalWidth + ' ' + im.naturalHeight);
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = 'PROBE\n' + lines.join('\n') + '\nEND';
  document.body.appendChild(pre);
});
</script>
`

var probeRe = regexp.MustCompile(`(?s)PROBE\n(.*?)\nEND`)

func renderInChromium(t *testing.T, out string, imgs []pageImage) {
	bin := chromium(t)
	html, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}

	// Every image loaded in the browser, at its PNG's size.
	probe := filepath.Join(out, "probe.html")
	if err := os.WriteFile(probe, bytes.Replace(html, []byte("</body>"), []byte(probeScript+"</body>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := browser(t, bin, "--dump-dom", "--virtual-time-budget=10000", "file://"+probe)
	m := probeRe.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("no probe output in the DOM chromium dumped:\n%.2000s", dom)
	}
	loaded := strings.Split(string(m[1]), "\n")
	if len(loaded) != len(imgs) {
		t.Fatalf("chromium saw %d images, the page has %d: %q", len(loaded), len(imgs), loaded)
	}
	for i, line := range loaded {
		if want := fmt.Sprintf("%s true %d %d", imgs[i].src, imgs[i].w, imgs[i].h); line != want {
			t.Errorf("image %d in chromium: %q, want %q (loaded, at its size)", i, line, want)
		}
	}

	// The screenshot, attached to the test output, tall enough for the
	// whole page: its images, and a line per table row.
	tall := 700 + 28*strings.Count(string(html), "<tr")
	for _, im := range imgs {
		tall += im.h + 120
	}
	dst := os.Getenv("BATTLAKE_TEST_ARTIFACTS")
	if dst == "" {
		dst = os.TempDir()
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dst, "battlake-report-screenshot.png")
	os.Remove(shot)
	browser(t, bin, "--screenshot="+shot, fmt.Sprintf("--window-size=1280,%d", tall), "file://"+filepath.Join(out, "index.html"))
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	im, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if sz := im.Bounds().Size(); sz.X != 1280 || sz.Y != tall {
		t.Errorf("screenshot is %v, want 1280x%d", sz, tall)
	}
	if !varied(im) {
		t.Errorf("screenshot %s is blank", shot)
	}
	t.Logf("screenshot of the report in headless chromium: %s (%d bytes, %dx%d)", shot, len(b), im.Bounds().Dx(), im.Bounds().Dy())
}
