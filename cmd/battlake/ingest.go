package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/ingest"
	"github.com/spf13/cobra"
)

// exitRejected: a --strict ingest found bad rows and wrote nothing.
const exitRejected = 4

type ingestFlags struct {
	lake, endpoint, table, file, format, mapping, output, from, to, tempDir string
	strict                                                                  bool
	workers                                                                 int
}

func newIngestCmd(stdout, stderr io.Writer) *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Load a CSV or Parquet export into a raw or master table, with validation and rejects",
		Long: `Ingest loads real exports (BMS, SCADA, CMMS) into one table of the lake: columns by name (a mapping
file renames them and converts units), each row checked against the registry (types, NOT NULL, enum
domains, DECIMAL precision and scale, physical ranges, foreign keys against the lake's master data,
duplicate keys). Good rows are merged into their partitions by primary key (a corrected file replaces
the rows it covers and keeps the others) through the lake's commit protocol; bad rows go to the
rejects table with file, line, column and reason. Ingesting the same file twice writes nothing.

Exit codes:
  0    success (rows may have been rejected: see the summary and the rejects table)
  1    the ingest failed (unreadable input, storage error)
  2    invalid flags, configuration or mapping
  3    the lake cannot be used
  4    --strict and some rows are bad: nothing was written`,
		Example: `  battlake ingest --table telemetry_jar_raw --file export/jar-2026-10-25.csv
  battlake ingest --table battery --file master/battery.csv --strict
  battlake ingest --table telemetry_jar_raw --file bms/ --mapping bms-mapping.json
  battlake ingest --table maintenance_event --file s3://exports/cmms/ --lake s3://lake/prod --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIngest(cmd, f, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.lake, "lake", "./lake", "lake location: a directory or s3://bucket/prefix")
	fl.StringVar(&f.endpoint, "endpoint", "", "S3 endpoint URL (default: $AWS_ENDPOINT_URL_S3 or AWS)")
	fl.StringVar(&f.table, "table", "", "target table (master or raw)")
	fl.StringVar(&f.file, "file", "", "input: a file, a folder of .csv/.parquet files, or an s3:// object or prefix")
	fl.StringVar(&f.format, "format", "", "input format: csv or parquet (default: from the extension)")
	fl.StringVar(&f.mapping, "mapping", "", "mapping file (JSON): column renames, units, time zone")
	fl.BoolVar(&f.strict, "strict", false, "any bad row: write nothing and exit 4")
	fl.StringVar(&f.from, "from", "", "reject rows whose partition time is before this, YYYY-MM-DD or RFC 3339")
	fl.StringVar(&f.to, "to", "", "reject rows whose partition time is at or after this, YYYY-MM-DD or RFC 3339")
	fl.IntVar(&f.workers, "workers", 0, "parse and validate workers (default: number of CPUs)")
	fl.StringVar(&f.tempDir, "temp-dir", "", "local folder for sorted runs and staged files (default: the system's)")
	fl.StringVar(&f.output, "output", "table", "summary format on stdout: table or json")
	_ = cmd.MarkFlagRequired("table")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want YYYY-MM-DD or RFC 3339", flag, s)
	}
	return t, nil
}

func runIngest(cmd *cobra.Command, f ingestFlags, stdout io.Writer) error {
	if f.output != "table" && f.output != "json" {
		return withCode(exitUsage, fmt.Errorf("--output %q: want table or json", f.output))
	}
	from, err := parseWhen("--from", f.from)
	if err != nil {
		return withCode(exitUsage, err)
	}
	to, err := parseWhen("--to", f.to)
	if err != nil {
		return withCode(exitUsage, err)
	}
	cfg := ingest.Config{Lake: f.lake, LakeOptions: pipeline.LakeOptions{Endpoint: f.endpoint, Retries: 4, Concurrency: 64},
		Table: f.table, Source: f.file, Format: f.format, Mapping: f.mapping, Strict: f.strict, Workers: f.workers,
		From: from, To: to, TempDir: f.tempDir}
	if err := cfg.Validate(); err != nil {
		return withCode(exitUsage, err)
	}
	sum, err := ingest.Run(cmd.Context(), cfg)
	if err != nil && !errors.Is(err, ingest.ErrRejected) {
		switch {
		case errors.Is(err, ingest.ErrConfig):
			return withCode(exitUsage, err)
		}
		return err
	}
	if werr := writeIngestSummary(stdout, f.output, sum); werr != nil {
		return werr
	}
	if err != nil {
		return withCode(exitRejected, err)
	}
	return nil
}

func writeIngestSummary(w io.Writer, format string, s ingest.Summary) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "table\t%s\n", s.Table)
	fmt.Fprintf(tw, "files\t%d\n", s.Files)
	fmt.Fprintf(tw, "rows\t%d\n", s.Rows)
	fmt.Fprintf(tw, "accepted\t%d\n", s.Accepted)
	fmt.Fprintf(tw, "rejected\t%d\n", s.Rejected)
	reasons := make([]string, 0, len(s.ByReason))
	for r := range s.ByReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(tw, "  %s\t%d\n", r, s.ByReason[r])
	}
	if s.Unchanged {
		fmt.Fprintf(tw, "written\tnothing (the lake already holds this content)\n")
	} else {
		fmt.Fprintf(tw, "written\t%d files\n", len(s.Partitions))
		for _, p := range s.Partitions {
			fmt.Fprintf(tw, "  %s\t\n", p)
		}
	}
	for _, x := range s.Warnings {
		fmt.Fprintf(tw, "warning\t%s\n", strings.ReplaceAll(x, "\t", " "))
	}
	return tw.Flush()
}
