package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/validate"
	"github.com/spf13/cobra"
)

// Exit codes of battlake validate, for schedulers.
const (
	exitValid      = 0 // every check passed
	exitViolations = 1 // the lake has violations; the report on stdout says which
	exitNoValidate = 2 // validation could not run: bad flags, no lake, store unreachable
)

// exitProcess ends the process with a validate exit code; tests replace it.
var exitProcess = os.Exit

type validateFlags struct {
	lake, endpoint, tables, start, end string
	json                               bool
	maxExamples, workers               int
}

func newValidateCmd(stdout, stderr io.Writer) *cobra.Command {
	var f validateFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a lake: keys, references, domains, checksums, completeness, lineage",
		Long: `Validate reads the lake through its manifests and checks:
  primary keys unique; foreign keys resolved; enum domains, DECIMAL(p,s) ranges, VARCHAR lengths,
  NOT NULL and the registry's column types; rows in SortBy order and inside their partition's month,
  bucket and day segment; every file present with the manifest's size and SHA-256, and no data file
  that no manifest lists; the master snapshot and every day segment of the window in every month and
  bucket; no derived segment computed from an input that has changed since.

Exit codes: 0 no violations, 1 violations (report on stdout), 2 could not validate (message on stderr).`,
		Example: `  battlake validate                                   # the whole ./lake
  battlake validate --lake s3://my-bucket/lake --endpoint http://127.0.0.1:7070
  battlake validate --tables telemetry_jar_raw,battery --start 2026-10-30 --end 2026-11-01
  battlake validate --json > report.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code := runValidate(cmd.Context(), f, stdout, stderr); code != exitValid {
				exitProcess(code)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.lake, "lake", "./lake", "lake location: a directory or s3://bucket/prefix")
	fl.StringVar(&f.endpoint, "endpoint", "", "S3 endpoint URL (default: $AWS_ENDPOINT_URL_S3 or AWS)")
	fl.StringVar(&f.tables, "tables", "", "comma-separated tables to check (default: every table the lake holds, and the master tables)")
	fl.StringVar(&f.start, "start", "", "completeness window start, YYYY-MM-DD (default: the lake's first telemetry day)")
	fl.StringVar(&f.end, "end", "", "completeness window end, exclusive, YYYY-MM-DD (default: after the lake's last telemetry day)")
	fl.BoolVar(&f.json, "json", false, "write the report as JSON")
	fl.IntVar(&f.maxExamples, "max-examples", validate.DefaultMaxExamples, "examples kept per finding (counts stay exact)")
	fl.IntVar(&f.workers, "workers", 0, "files read in parallel (default: number of CPUs)")
	return cmd
}

// runValidate validates and writes the report; it returns the exit code.
func runValidate(ctx context.Context, f validateFlags, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "battlake validate:", err)
		return exitNoValidate
	}
	o := validate.Options{Tables: splitList(f.tables), MaxExamples: f.maxExamples, Workers: f.workers}
	for _, d := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--start", f.start, &o.From}, {"--end", f.end, &o.To}} {
		if d.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.v)
		if err != nil {
			return fail(fmt.Errorf("%s %q: want YYYY-MM-DD", d.flag, d.v))
		}
		*d.dst = t
	}
	if f.maxExamples < 1 {
		return fail(fmt.Errorf("--max-examples %d: want at least 1", f.maxExamples))
	}
	if !strings.HasPrefix(f.lake, "s3://") {
		// Opening a local lake creates its directory: a typo must not
		// validate an empty folder as clean.
		if fi, err := os.Stat(f.lake); err != nil || !fi.IsDir() {
			return fail(fmt.Errorf("no lake directory at %s", f.lake))
		}
	}
	lk, err := pipeline.OpenLake(ctx, f.lake, pipeline.LakeOptions{Endpoint: f.endpoint, Retries: 4, Concurrency: 64})
	if err != nil {
		return fail(err)
	}
	defer lk.Store.Close()
	rep, err := validate.Validate(ctx, lk, f.lake, o)
	if err != nil {
		return fail(err)
	}
	if f.json {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fail(fmt.Errorf("write report: %w", err))
	}
	if !rep.OK() {
		return exitViolations
	}
	return exitValid
}
