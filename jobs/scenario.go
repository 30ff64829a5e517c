package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"go.yaml.in/yaml/v3"
)

// Date is a calendar day (UTC) that reads and writes as "YYYY-MM-DD".
type Date struct{ time.Time }

func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return Date{}, fmt.Errorf("bad date %q (want YYYY-MM-DD): %w", s, err)
	}
	return Date{t}, nil
}

func (d Date) String() string                { return d.Format("2006-01-02") }
func (d Date) MarshalText() ([]byte, error)  { return []byte(d.String()), nil }
func (d *Date) UnmarshalText(b []byte) error { x, err := ParseDate(string(b)); *d = x; return err }

// Duration reads and writes as a Go duration string ("5s", "5m").
type Duration struct{ time.Duration }

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
func (d *Duration) UnmarshalText(b []byte) error {
	x, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q: %w", b, err)
	}
	d.Duration = x
	return nil
}

// Mix is the fleet's degradation-profile mix (seed section 8.3).
type Mix struct {
	Healthy     float64 `json:"healthy" yaml:"healthy"`
	Accelerated float64 `json:"accelerated" yaml:"accelerated"`
	Failing     float64 `json:"failing" yaml:"failing"`
}

// Scenario configures a run. The zero value is not valid; start from
// DefaultScenario and override.
type Scenario struct {
	// Sites lists location codes; empty means the whole fleet.
	Sites []string `json:"sites,omitempty" yaml:"sites,omitempty"`
	Mix   Mix      `json:"mix" yaml:"mix"`
	// Start and End bound the telemetry window [Start, End). History (life
	// model, maintenance, tests) runs from each site's commissioning to End.
	Start Date `json:"start" yaml:"start"`
	End   Date `json:"end" yaml:"end"`
	// SampleInterval is the raw telemetry rate of detail days (seed: 1-5 s;
	// coarser is allowed for long backfills, up to 1 h).
	SampleInterval Duration `json:"sample_interval" yaml:"sample_interval"`
	// EnvInterval is telemetry_env's rate on detail days (seed: 60 s).
	EnvInterval Duration `json:"env_interval" yaml:"env_interval"`
	// RippleEvery is the cadence of ripple waveform captures per string on
	// detail days.
	RippleEvery Duration `json:"ripple_every" yaml:"ripple_every"`
	// DetailFrom splits telemetry days like a BMS historian that downsamples
	// old data: days on or after it are detail days (SampleInterval,
	// EnvInterval, RippleEvery, high-rate event captures), days before it
	// are history days (HistoryInterval; see RatesOn). A day's rates are a
	// function of the day and the scenario, never of the run's window, so a
	// day regenerated alone equals the same day of any longer run. Zero
	// means every day is a detail day.
	DetailFrom Date `json:"detail_from,omitzero" yaml:"detail_from,omitempty"`
	// HistoryInterval is the historian's sample interval for jar and string
	// telemetry on history days (a snapshot every interval; 1 h by default,
	// from SampleInterval up to 1 h).
	HistoryInterval Duration `json:"history_interval,omitzero" yaml:"history_interval,omitempty"`
}

// DayRates are the telemetry rates of one day.
type DayRates struct {
	// Sample: telemetry_jar_raw and telemetry_string_raw.
	Sample time.Duration
	// Env: telemetry_env.
	Env time.Duration
	// Ripple: the cadence of ripple_capture per string.
	Ripple time.Duration
	// Captures: the day keeps its high-rate event captures
	// (event_window_sample blobs). On history days the event window row
	// stays (type, bounds, rate) but its samples are not retained, as a BMS
	// purges its capture buffers long before its event log.
	Captures bool
	// History: the day is before DetailFrom.
	History bool
}

// RatesOn are the rates of day (a UTC midnight): the detail rates from
// DetailFrom on; before it the historian's: jar and string samples every
// HistoryInterval, the room every max(EnvInterval, HistoryInterval), one
// ripple capture per string a day (enough for a daily THD trend), event
// windows without their samples.
func (s Scenario) RatesOn(day time.Time) DayRates {
	if s.DetailFrom.IsZero() || !day.Before(s.DetailFrom.Time) {
		return DayRates{Sample: s.SampleInterval.Duration, Env: s.EnvInterval.Duration, Ripple: s.RippleEvery.Duration, Captures: true}
	}
	h := s.HistoryInterval.Duration
	return DayRates{Sample: h, Env: max(s.EnvInterval.Duration, h), Ripple: 24 * time.Hour, History: true}
}

// DefaultEnd is the fixed end of the default scenario, so that the default
// run is reproducible whatever the date.
var DefaultEnd = Date{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}

// DefaultDetailDays is the default scenario's detail window: the last
// days before DefaultEnd at the seed's 5 s base rate, like a BMS that keeps
// a few days of raw samples and hands older ones to its historian. Each
// 5 s fleet-day costs 8-13 s of the default run's 120 s on two cores
// (33.6 M jar rows and everything derived from them), the 15 months of
// history about 60 s (README, "The default scenario"). Two days keep a
// margin under the budget and give the last day's 1 h and 24 h feature
// windows, the twin's 1 min SOC filter and the event windows' high-rate
// captures real detail; the 168 h window reaches back into the
// historian's 1 h snapshots. `battlake run --detail-from` widens it.
const DefaultDetailDays = 2

// DefaultDetailFrom is the first detail day of the default scenario.
var DefaultDetailFrom = Date{DefaultEnd.AddDate(0, 0, -DefaultDetailDays)}

// HistoryStart is the default scenario's first telemetry day: 15 months of
// 1 h history before DefaultDetailFrom. A year is not enough: most jars
// are replaced on evidence before or soon after their true end of service,
// so about 90 a year are still in their string when they reach it; from
// 2025-08-01, 111 are (TestDefaultScenarioHasAYearAndEndsOfService).
var HistoryStart = Date{time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)}

// DefaultScenario: the whole fleet at the seed's scale, telemetry from
// HistoryStart to DefaultEnd, the last DefaultDetailDays at the seed's 5 s
// base rate and the days before at the historian's 1 h: every jar in
// service has more than a year of telemetry, and more than 100 jars reach
// their true end of service inside it, which the labelled RUL set learns
// from. The whole default run stays within 120 s on two cores (README).
func DefaultScenario() Scenario {
	return Scenario{
		Mix:             Mix{0.85, 0.12, 0.03},
		Start:           HistoryStart,
		End:             DefaultEnd,
		SampleInterval:  Duration{5 * time.Second},
		EnvInterval:     Duration{60 * time.Second},
		RippleEvery:     Duration{time.Hour},
		DetailFrom:      DefaultDetailFrom,
		HistoryInterval: Duration{time.Hour},
	}
}

// Validate reports every problem at once.
func (s Scenario) Validate() error {
	var errs []error
	if s.Start.IsZero() || s.End.IsZero() {
		errs = append(errs, errors.New("start and end are required"))
	} else if !s.End.After(s.Start.Time) {
		errs = append(errs, fmt.Errorf("end %s must be after start %s", s.End, s.Start))
	}
	if s.End.Year() > 2100 || (!s.Start.IsZero() && s.Start.Year() < 2000) {
		errs = append(errs, fmt.Errorf("window %s..%s outside 2000-2100", s.Start, s.End))
	}
	si := s.SampleInterval.Duration
	if si < time.Second || si > time.Hour {
		errs = append(errs, fmt.Errorf("sample interval %v out of range [1s, 1h]", si))
	} else if (24*time.Hour)%si != 0 {
		errs = append(errs, fmt.Errorf("sample interval %v must divide a day evenly", si))
	}
	ei := s.EnvInterval.Duration
	if ei < time.Second || ei > time.Hour || (24*time.Hour)%ei != 0 {
		errs = append(errs, fmt.Errorf("env interval %v must be within [1s, 1h] and divide a day", ei))
	}
	if s.RippleEvery.Duration < time.Minute || (24*time.Hour)%s.RippleEvery.Duration != 0 {
		errs = append(errs, fmt.Errorf("ripple cadence %v must be at least 1m and divide a day", s.RippleEvery.Duration))
	}
	if !s.DetailFrom.IsZero() {
		hi := s.HistoryInterval.Duration
		if s.DetailFrom.Year() < 2000 || s.DetailFrom.Year() > 2100 {
			errs = append(errs, fmt.Errorf("detail_from %s outside 2000-2100", s.DetailFrom))
		}
		if hi < si || hi > time.Hour || hi <= 0 || (24*time.Hour)%hi != 0 {
			errs = append(errs, fmt.Errorf("history interval %v must be within [sample interval %v, 1h] and divide a day", hi, si))
		}
	}
	m := s.Mix
	if m.Healthy < 0 || m.Accelerated < 0 || m.Failing < 0 || abs(m.Healthy+m.Accelerated+m.Failing-1) > 1e-6 {
		errs = append(errs, fmt.Errorf("profile mix %+v must be non-negative and sum to 1", m))
	}
	valid := map[string]bool{}
	for _, c := range fleet.SiteCodes() {
		valid[c] = true
	}
	for _, c := range s.Sites {
		if !valid[c] {
			errs = append(errs, fmt.Errorf("unknown site %q (valid: %s)", c, strings.Join(fleet.SiteCodes(), ", ")))
		}
	}
	return errors.Join(errs...)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Hash identifies the scenario's content for manifests.
func (s Scenario) Hash() string {
	b, _ := json.Marshal(s)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}

// FleetHash identifies the fleet a scenario builds (sites and mix), the
// part of it every partition depends on.
func (s Scenario) FleetHash() string {
	sites := append([]string(nil), s.Sites...)
	sort.Strings(sites)
	b, _ := json.Marshal(struct {
		Sites []string
		Mix   Mix
	}{sites, s.Mix})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}

// LoadScenario reads a YAML or JSON scenario file over the defaults, so a
// file only names what it changes. Unknown fields are errors.
func LoadScenario(path string) (Scenario, error) {
	s := DefaultScenario()
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("load scenario: %w", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&s)
	default:
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		err = dec.Decode(&s)
	}
	if err != nil {
		return s, fmt.Errorf("load scenario %s: %w", path, err)
	}
	return s, nil
}
