package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, for schedulers (also in README and --help).
const (
	exitOK          = 0
	exitFailed      = 1   // a stage or task failed (after its retries)
	exitUsage       = 2   // bad flags or configuration: fix the command line
	exitLake        = 3   // the lake cannot be used: storage unreachable, no or rejected credentials, another fleet or format
	exitInterrupted = 130 // SIGINT or SIGTERM: rerun to resume (written partitions are kept)
)

const exitCodesHelp = `Exit codes:
  0    success
  1    a stage or task failed (after its retries); rerun resumes
  2    invalid flags or configuration
  3    the lake cannot be used: storage unreachable, no or rejected S3
       credentials, a lake of another fleet or format
  130  interrupted (SIGINT/SIGTERM); rerun resumes`

// codedError carries an exit code through cobra.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	var ce *codedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, new(*jobs.LakeError)):
		return exitLake
	}
	return exitFailed
}

// opsFlags are the flags of run and backfill beyond the scenario.
type opsFlags struct {
	shard        string
	leases       bool
	leaseOwner   string
	leaseTTL     time.Duration
	summaryJSON  string
	output       string
	taskRetries  int
	s3MaxBackoff time.Duration
}

func addOpsFlags(fl *pflag.FlagSet, f *opsFlags) {
	fl.StringVar(&f.shard, "shard", "", "run shard i/N of every stage (0-based; a weight-balanced, deterministic subset; implies --leases)")
	fl.BoolVar(&f.leases, "leases", false, "hold a lease on every partition while writing it (safe concurrent runs on one lake)")
	fl.StringVar(&f.leaseOwner, "lease-owner", "", "this writer's name in leases (default host/pid; a restarted worker with the same name reclaims its leases)")
	fl.DurationVar(&f.leaseTTL, "lease-ttl", pipeline.DefaultLeaseTTL, "lease lifetime; renewed every third of it")
	fl.StringVar(&f.summaryJSON, "summary-json", "", "write the run summary as JSON to this file (- for stdout)")
	fl.StringVar(&f.output, "output", "table", "summary format on stdout: table or json")
	fl.DurationVar(&f.s3MaxBackoff, "s3-max-backoff", 10*time.Second, "cap of the S3 client's jittered retry backoff")
	fl.IntVar(&f.taskRetries, "task-retries", jobs.DefaultTaskRetries, "re-run a failed task up to this many times before failing the run")
}

func (o *opsFlags) apply(cfg *jobs.RunConfig) error {
	if o.shard != "" {
		s, err := pipeline.ParseShard(o.shard)
		if err != nil {
			return fmt.Errorf("--shard: %w", err)
		}
		cfg.Shard = s
	}
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("--output %q: want table or json", o.output)
	}
	if o.taskRetries < 0 {
		return fmt.Errorf("--task-retries %d must be >= 0", o.taskRetries)
	}
	cfg.TaskRetries = o.taskRetries
	if o.taskRetries == 0 {
		cfg.TaskRetries = -1
	}
	cfg.Leases, cfg.LeaseOwner, cfg.LeaseTTL, cfg.S3MaxBackoff = o.leases, o.leaseOwner, o.leaseTTL, o.s3MaxBackoff
	return nil
}

// runSummary is the JSON run summary for schedulers.
type runSummary struct {
	Command      string        `json:"command"`
	Lake         string        `json:"lake"`
	Stages       []string      `json:"stages"`
	Month        string        `json:"month,omitempty"`
	Shard        string        `json:"shard"`
	Start        string        `json:"start"` // telemetry window
	End          string        `json:"end"`
	StartedAt    time.Time     `json:"started_at"`
	WallSeconds  float64       `json:"wall_seconds"`
	PeakRSSBytes int64         `json:"peak_rss_bytes"`
	ExitCode     int           `json:"exit_code"`
	Error        string        `json:"error,omitempty"`
	Tables       []tableReport `json:"tables"`
	Totals       tableReport   `json:"totals"`
}

type tableReport struct {
	Table      string  `json:"table"`
	Partitions int     `json:"partitions"`
	Files      int     `json:"files"`
	Skipped    int     `json:"skipped"`
	Rows       int64   `json:"rows"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	Retries    int     `json:"retries"`
}

func report(t pipeline.TableStats) tableReport {
	return tableReport{Table: t.Table, Partitions: t.Partitions, Files: t.Segments, Skipped: t.Skipped, Rows: t.Rows,
		Bytes: t.Bytes, Seconds: t.Seconds, Retries: t.Retries}
}

// peakRSS is the process's peak resident set size in bytes (Linux reports
// ru_maxrss in KiB).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// execute runs cfg and reports: the table or JSON summary on stdout, the
// JSON summary file, the exit code through the error.
func execute(cmd *cobra.Command, name string, f *runFlags, stdout, stderr io.Writer, prep func(*jobs.RunConfig) error) error {
	cfg, log, err := f.config(stderr)
	if err == nil {
		err = f.opsFlags.apply(&cfg)
	}
	if err == nil && prep != nil {
		err = prep(&cfg)
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := setMemoryLimit(f.memoryLimit); err != nil {
		return withCode(exitUsage, err)
	}
	if f.progress {
		cfg.Progress = progressPrinter(stderr)
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--cpuprofile: %w", err))
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return withCode(exitUsage, fmt.Errorf("--cpuprofile: %w", err))
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	sum, runErr := jobs.Run(cmd.Context(), cfg)
	if f.progress {
		fmt.Fprintln(stderr)
	}
	wall := time.Since(start)
	rs := runSummary{Command: name, Lake: cfg.Lake, Stages: cfg.Stages, Month: cfg.Month, Shard: cfg.Shard.String(),
		Start: cfg.Scenario.Start.Format(time.DateOnly), End: cfg.Scenario.End.Format(time.DateOnly),
		StartedAt: start.UTC(), WallSeconds: wall.Seconds(), PeakRSSBytes: peakRSS(), ExitCode: exitCode(runErr),
		Totals: report(sum.Totals()), Tables: []tableReport{}}
	if len(rs.Stages) == 0 {
		rs.Stages = jobs.StageNames()
	}
	if runErr != nil {
		rs.Error = runErr.Error()
	}
	for _, t := range sum.Tables {
		rs.Tables = append(rs.Tables, report(t))
	}
	if f.output == "json" {
		if err := writeJSON(stdout, rs); err != nil {
			return err
		}
	} else if runErr == nil || len(sum.Tables) > 0 {
		printSummary(stdout, sum, wall)
	}
	if err := writeSummaryFile(f.summaryJSON, stdout, rs); err != nil {
		return errors.Join(runErr, err)
	}
	if runErr != nil {
		return runErr
	}
	log.Info(name+" finished", "seconds", wall.Seconds(), "peak_rss_bytes", rs.PeakRSSBytes)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeSummaryFile(path string, stdout io.Writer, rs runSummary) error {
	switch path {
	case "":
		return nil
	case "-":
		return writeJSON(stdout, rs)
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--summary-json: %w", err)
	}
	if err := writeJSON(fh, rs); err != nil {
		fh.Close()
		return fmt.Errorf("--summary-json: %w", err)
	}
	return fh.Close()
}

// progressDefault: a progress bar only on an interactive terminal, never
// in CI logs or on a dumb terminal.
func progressDefault(stderr io.Writer) bool {
	return isTerminal(stderr) && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb"
}

func newBackfillCmd(stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	var month string
	cmd := &cobra.Command{
		Use:   "backfill --month YYYY-MM",
		Short: "Rebuild one month partition of every time-series and derived table, in phase order",
		Long: "Backfill runs the stages (default all, in phase order) over one calendar month and writes only that\n" +
			"month's partitions, plus the unpartitioned master tables. It is resumable and idempotent: partitions\n" +
			"whose manifest records the same inputs are skipped (--force rewrites them). Master data and other\n" +
			"as-of histories written to a later end are left alone, so a backfill never rolls current state back.\n" +
			"Derived partitions of other months that read this one (feature look-backs) refresh on their own runs.\n\n" +
			exitCodesHelp,
		Example: `  battlake backfill --month 2026-03
  battlake backfill --month 2026-03 --stages telemetry,calc --force
  battlake backfill --month 2026-03 --stages telemetry --shard 0/4 --lake s3://bucket/lake`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return execute(cmd, "backfill", &f, stdout, stderr, func(c *jobs.RunConfig) error {
				if month == "" {
					return errors.New("--month is required")
				}
				from, to, err := jobs.MonthWindow(month)
				if err != nil {
					return fmt.Errorf("--month: %w", err)
				}
				c.Scenario.Start, c.Scenario.End, c.Month = from, to, month
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&month, "month", "", "the month to rebuild, YYYY-MM (required)")
	addRunFlags(fl, &f, stderr)
	// The month sets the window.
	for _, n := range []string{"start", "end"} {
		_ = fl.MarkHidden(n)
	}
	return cmd
}

func newPlanCmd(stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	var month string
	var shards int
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the task list (job, table, partition, segments, inputs, weight, shard) as JSON",
		Long: "Plan prints the tasks a run (or, with --month, a backfill) would execute, stage by stage in run\n" +
			"order, each with the shard of --shards that runs it (greedy longest-first over weight, then key).\n" +
			"Derived stages plan from what the lake holds: plan them after the phases they read have run, as a\n" +
			"cluster runs phase by phase. --shard i/N prints only shard i's tasks.",
		Example: `  battlake plan --stages telemetry --shards 4
  battlake plan --month 2026-03 --stages telemetry --shard 1/4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := f.config(stderr)
			if err == nil {
				err = f.opsFlags.apply(&cfg)
			}
			if err == nil && month != "" {
				var from, to jobs.Date
				from, to, err = jobs.MonthWindow(month)
				cfg.Scenario.Start, cfg.Scenario.End, cfg.Month = from, to, month
			}
			n := shards
			if cfg.Shard.Count > 1 {
				n = cfg.Shard.Count
			}
			if err == nil && n < 1 {
				err = fmt.Errorf("--shards %d must be >= 1", shards)
			}
			if err != nil {
				return withCode(exitUsage, err)
			}
			tasks, err := jobs.Plan(cmd.Context(), cfg, n)
			if err != nil {
				return err
			}
			out := []pipeline.PlannedTask{}
			for _, t := range tasks {
				if cfg.Shard.Count <= 1 || t.Shard == cfg.Shard.Index {
					out = append(out, t)
				}
			}
			return writeJSON(stdout, struct {
				Shards int                    `json:"shards"`
				Tasks  []pipeline.PlannedTask `json:"tasks"`
			}{n, out})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&month, "month", "", "plan a backfill of this month, YYYY-MM")
	fl.IntVar(&shards, "shards", 1, "number of shards to assign tasks to")
	addRunFlags(fl, &f, stderr)
	for _, n := range []string{"force", "summary-json", "output", "leases", "lease-owner", "lease-ttl", "task-retries", "progress", "memory-limit", "staging-ttl", "workers"} {
		_ = fl.MarkHidden(n)
	}
	return cmd
}

// usageErrors makes cobra's flag errors exit with exitUsage.
func usageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })
	if !strings.Contains(root.Long, "Exit codes") {
		root.Long = root.Short + ".\n\n" + exitCodesHelp
	}
}
