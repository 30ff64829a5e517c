package jobs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadScenarioOverridesOnlyWhatItNames(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "s.yaml")
	os.WriteFile(yml, []byte("sites: [DC-BKK-01, DC-CNX-01]\nstart: 2026-01-01\nend: 2026-02-01\nsample_interval: 1m\n"), 0o644)
	s, err := LoadScenario(yml)
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultScenario()
	if len(s.Sites) != 2 || s.Start.String() != "2026-01-01" || s.End.String() != "2026-02-01" ||
		s.SampleInterval.Duration != time.Minute || s.EnvInterval != def.EnvInterval || s.Mix != def.Mix {
		t.Fatalf("loaded %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "s.json")
	os.WriteFile(js, []byte(`{"mix":{"healthy":0.5,"accelerated":0.3,"failing":0.2},"sample_interval":"2s"}`), 0o644)
	s, err = LoadScenario(js)
	if err != nil {
		t.Fatal(err)
	}
	if s.Mix.Failing != 0.2 || s.SampleInterval.Duration != 2*time.Second || s.Start != def.Start {
		t.Fatalf("loaded %+v", s)
	}
	if s.Hash() == def.Hash() {
		t.Fatal("a different scenario must hash differently")
	}
}

func TestLoadScenarioRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"typo.yaml":    "sample_intervall: 5s\n",
		"badend.yaml":  "end: 2026-13-01\n",
		"badint.json":  `{"sample_interval": "five seconds"}`,
		"unknown.json": `{"sites": ["DC-BKK-01"], "bogus": 1}`,
		"notjson.json": `{`,
		"missing.yaml": "",
	}
	for name, body := range cases {
		p := filepath.Join(dir, name)
		if name != "missing.yaml" {
			os.WriteFile(p, []byte(body), 0o644)
		}
		_, err := LoadScenario(p)
		if err == nil || !strings.Contains(err.Error(), name) && name != "missing.yaml" {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
		if name == "missing.yaml" && err == nil {
			t.Errorf("missing file accepted")
		}
	}
}

func TestScenarioValidateReportsEveryProblem(t *testing.T) {
	s := DefaultScenario()
	s.SampleInterval = Duration{7 * time.Second}
	s.Mix = Mix{0.9, 0.9, 0}
	s.Sites = []string{"DC-NOPE-01"}
	err := s.Validate()
	if err == nil {
		t.Fatal("invalid scenario accepted")
	}
	for _, want := range []string{"divide a day", "profile mix", `unknown site "DC-NOPE-01"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A day's rates depend on the day and the scenario only: history days
// before DetailFrom at the historian's rates, detail days at the seed's,
// whatever the window.
func TestRatesOnSplitsHistoryFromDetail(t *testing.T) {
	s := DefaultScenario()
	last := s.DetailFrom.AddDate(0, 0, -1)
	h, d := s.RatesOn(last), s.RatesOn(s.DetailFrom.Time)
	if !h.History || h.Captures || h.Sample != time.Hour || h.Env != time.Hour || h.Ripple != 24*time.Hour {
		t.Fatalf("history day %s: %+v", last.Format(time.DateOnly), h)
	}
	if d.History || !d.Captures || d.Sample != 5*time.Second || d.Env != time.Minute || d.Ripple != time.Hour {
		t.Fatalf("detail day %s: %+v", s.DetailFrom, d)
	}
	narrow := s
	narrow.Start, narrow.End = Date{last}, Date{last.AddDate(0, 0, 1)}
	if narrow.RatesOn(last) != h {
		t.Fatal("a one-day window changed the day's rates")
	}
	// A history interval below the room's 60 s leaves the room at 60 s.
	fine := s
	fine.HistoryInterval = Duration{15 * time.Minute}
	if r := fine.RatesOn(last); r.Sample != 15*time.Minute || r.Env != 15*time.Minute {
		t.Fatalf("15 min history: %+v", r)
	}
	fine.HistoryInterval = Duration{10 * time.Second}
	if r := fine.RatesOn(last); r.Env != time.Minute {
		t.Fatalf("10 s history: env %v, want the detail 60 s", r.Env)
	}
	none := s
	none.DetailFrom = Date{}
	if r := none.RatesOn(last); r.History || r.Sample != 5*time.Second {
		t.Fatalf("no detail_from: %+v, want every day at the detail rates", r)
	}
}

// The default scenario gives the RUL set a year of history for every jar
// and at least 100 true ends of service inside the telemetry, and ends with
// its detail days.
func TestDefaultScenarioHasAYearAndEndsOfService(t *testing.T) {
	s := DefaultScenario()
	if s.DetailFrom.Sub(s.Start.Time) < 365*24*time.Hour || s.End.Sub(s.DetailFrom.Time) != DefaultDetailDays*24*time.Hour {
		t.Fatalf("window %s..%s, detail from %s: want a year of history and %d detail days", s.Start, s.End, s.DetailFrom, DefaultDetailDays)
	}
	if r := s.RatesOn(s.Start.Time); !r.History || r.Sample != time.Hour {
		t.Fatalf("first day %s: %+v, want the 1 h historian", s.Start, r)
	}
	e, err := NewEnv(s, DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	ends, reached := 0, 0
	for _, b := range e.Fleet.Batteries {
		// truth_battery.end_of_service_date inside the window, after the
		// jar's install; reached: the jar is still in its string that day
		// (not replaced before: its telemetry shows the end).
		if eos := b.Life.End; !eos.IsZero() && !eos.Before(s.Start.Time) && eos.Before(s.End.Time) && b.InstalledDate.Before(eos) {
			ends++
			if b.Removed.IsZero() || b.Removed.After(eos) {
				reached++
			}
		}
	}
	if reached < 100 {
		t.Fatalf("%d jars reach their true end of service inside %s..%s (%d ends in all), want at least 100", reached, s.Start, s.End, ends)
	}
	t.Logf("%d jars reach their true end of service inside the telemetry (%d ends in all)", reached, ends)
}

func TestScenarioValidateHistory(t *testing.T) {
	for _, c := range []struct {
		hist time.Duration
		want string
	}{{2 * time.Second, "history interval"}, {2 * time.Hour, "history interval"}, {7 * time.Minute, "divide a day"}, {0, "history interval"}} {
		s := DefaultScenario()
		s.HistoryInterval = Duration{c.hist}
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("history interval %v: err %v, want %q", c.hist, err, c.want)
		}
	}
	s := DefaultScenario()
	s.DetailFrom, s.HistoryInterval = Date{}, Duration{}
	if err := s.Validate(); err != nil {
		t.Errorf("no history: %v", err)
	}
	s.DetailFrom = Date{time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.HistoryInterval = Duration{time.Hour}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "detail_from") {
		t.Errorf("detail_from 1990: err %v", err)
	}
}
