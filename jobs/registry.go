package jobs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/rul"
	"github.com/battlake/battlake/pipeline"
)

// Stage is one step of the seed's section 7 synthesis order. Every job of
// the product is registered here, and only here.
type Stage struct {
	Name  string
	Phase int // seed section 7 phase
	Help  string
	Jobs  func(e *Env) []pipeline.Job
	// Reads lists the earlier stages whose tables the jobs read: nil means
	// all, empty none (synthesized from the fleet). A stage reading none of
	// the stages just before it runs with them (pipeline.Runner.Reads);
	// TestStageReads holds every declaration to the truth.
	Reads []string
}

// Stages in phase order. Later stages (calc, features, twin, rul, ops) are
// appended here as they are built.
var Stages = []Stage{
	{Name: "master", Phase: 1, Help: "master data (locations, models, systems, strings, batteries, sensors, users, ml models) and per-battery hidden truth", Jobs: masterJobs},
	{Name: "telemetry", Phase: 2, Help: "physics-based raw time series: jar, string, environment, event windows, ripple captures, daily truth", Jobs: telemetryJobs, Reads: []string{}},
	{Name: "transactions", Phase: 3, Help: "maintenance events, capacity tests with discharge curves, impedance measurements, audit log", Jobs: transactionJobs, Reads: []string{}},
	// Derived stages read only the lake (package derive imports neither
	// physics nor the fleet): they run on synthesized and ingested data alike.
	{Name: "calc", Phase: 4, Help: "calculated tables from raw data: SOC/SOH per jar sample, string power and THD, capacity and impedance results", Jobs: func(e *Env) []pipeline.Job { return derive.CalcJobs(e.Lake) }},
	{Name: "features", Phase: 5, Help: "feature_store: 17 features over 1, 24 and 168 h windows, every hour for every battery", Jobs: func(e *Env) []pipeline.Job { return derive.FeatureJobs(e.Lake) }},
	{Name: "twin", Phase: 6, Help: "digital_twin_state: ECM identified from event windows, EKF SOC, capacity and power fade, per battery per day and after each window", Jobs: func(e *Env) []pipeline.Job { return derive.TwinJobsLog(e.Lake, e.Log) },
		Reads: []string{"master", "telemetry", "transactions", "calc"}},
	// rul reads the truth for labels and evaluation only; its predictions
	// read the registered models and derive's point-in-time features.
	{Name: "rul", Phase: 7, Help: "labelled RUL training set, models trained in Go (ml_model, artifacts, test metrics), rul_prediction and anomaly_score", Jobs: func(e *Env) []pipeline.Job { return rul.Jobs(e.Lake, e.RootSeed) }},
	{Name: "alerts", Phase: 8, Help: "alert, incident and work_order: threshold rules with hysteresis and debounce over features, raw strings, impedance, capacity tests and predictions; correlated incidents; CMMS work orders", Jobs: func(e *Env) []pipeline.Job { return derive.AlertJobs(e.Lake) }},
}

// StageNames lists the registered stages in phase order.
func StageNames() []string {
	out := make([]string, len(Stages))
	for i, s := range Stages {
		out[i] = s.Name
	}
	return out
}

// Select returns the jobs of the named stages in phase order (empty means all).
func Select(e *Env, names []string) ([]pipeline.Job, error) {
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(StageNames(), n) {
			return nil, fmt.Errorf("unknown stage %q (valid: %s)", n, strings.Join(StageNames(), ", "))
		}
		want[n] = true
	}
	var jobs []pipeline.Job
	for _, s := range Stages {
		if len(want) == 0 || want[s.Name] {
			jobs = append(jobs, s.Jobs(e)...)
		}
	}
	return jobs, nil
}
