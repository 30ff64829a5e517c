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
	memoryLimit                                                             string
	strict                                                                  bool
	workers, bufferRows                                                     int
}

func newIngestCmd(stdout io.Writer) *cobra.Command {
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

The blob tables (event_window_sample, capacity_test_curve: one row per sample with its parent key)
need their parent rows in the lake (ingest telemetry_event_window or capacity_test_raw first); a
sample outside its parent's span is rejected. Each parent's samples become one object, published
with the parent's segment and its rows' data_blob_url / samples_count (raw_data_url): a corrected
file replaces the samples of the parents it covers and keeps the others'.

Exit codes:
  0    success (rows may have been rejected: see the summary and the rejects table)
  1    the ingest failed (unreadable input, storage error)
  2    invalid flags, configuration or mapping
  3    the lake cannot be used
  4    --strict and some rows are bad: nothing was written`,
		Example: `  battlake ingest --table telemetry_jar_raw --file export/jar-2026-10-25.csv
  battlake ingest --table battery --file master/battery.csv --strict
  battlake ingest --table event_window_sample --file bms/windows-2026-10.csv
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
	fl.StringVar(&f.table, "table", "", "target table (master or raw, blob tables included)")
	fl.StringVar(&f.file, "file", "", "input: a file, a folder of .csv/.parquet files, or an s3:// object or prefix")
	fl.StringVar(&f.format, "format", "", "input format: csv or parquet (default: from the extension)")
	fl.StringVar(&f.mapping, "mapping", "", "mapping file (JSON): column renames, units, time zone")
	fl.BoolVar(&f.strict, "strict", false, "any bad row: write nothing and exit 4")
	fl.StringVar(&f.from, "from", "", "reject rows whose partition time is before this, YYYY-MM-DD or RFC 3339")
	fl.StringVar(&f.to, "to", "", "reject rows whose partition time is at or after this, YYYY-MM-DD or RFC 3339")
	fl.IntVar(&f.workers, "workers", 0, "parse and validate workers (default: number of CPUs)")
	fl.IntVar(&f.bufferRows, "buffer-rows", ingest.DefaultMemoryRows, "records buffered in memory before sorted runs spill to --temp-dir")
	fl.StringVar(&f.tempDir, "temp-dir", "", "local folder for sorted runs and staged files (default: the system's)")
	fl.StringVar(&f.output, "output", "table", "summary format on stdout: table or json")
	fl.StringVar(&f.memoryLimit, "memory-limit", "400MiB", "soft limit of the Go heap (GOMEMLIMIT syntax; off to disable; GOMEMLIMIT in the environment wins)")
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
	if f.table == "" || f.file == "" {
		return withCode(exitUsage, errors.New("--table and --file are required"))
	}
	if f.output != "table" && f.output != "json" {
		return withCode(exitUsage, fmt.Errorf("--output %q: want table or json", f.output))
	}
	if err := setMemoryLimit(f.memoryLimit); err != nil {
		return withCode(exitUsage, err)
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
		From: from, To: to, TempDir: f.tempDir, MemoryRows: f.bufferRows}
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
	var b strings.Builder
	fmt.Fprintf(&b, "table     %s\n", s.Table)
	fmt.Fprintf(&b, "files     %d\n", s.Files)
	fmt.Fprintf(&b, "rows      %d\n", s.Rows)
	fmt.Fprintf(&b, "accepted  %d\n", s.Accepted)
	fmt.Fprintf(&b, "rejected  %d\n", s.Rejected)
	reasons := make([]string, 0, len(s.ByReason))
	for r := range s.ByReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, r := range reasons {
		fmt.Fprintf(tw, "  %s\t%d\n", r, s.ByReason[r])
	}
	tw.Flush()
	switch {
	case s.Unchanged:
		b.WriteString("written   nothing (the lake already holds this content)\n")
	case len(s.Partitions) == 0:
		b.WriteString("written   nothing\n")
	default:
		fmt.Fprintf(&b, "written   %d files\n", len(s.Partitions))
		for _, p := range s.Partitions {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	if s.Presorted > 0 || s.FellBack > 0 {
		fmt.Fprintf(&b, "presorted %d segments streamed in sort order, %d fell back to sorted runs\n", s.Presorted, s.FellBack)
	}
	for _, x := range s.Warnings {
		fmt.Fprintf(&b, "warning   %s\n", x)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
