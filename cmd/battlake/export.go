package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/schema"
	"github.com/spf13/cobra"
)

type exportFlags struct {
	lake, endpoint, table, format, out, month string
	workers                                   int
}

func newExportCmd(stdout, stderr io.Writer) *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a lake table as CSV (the format battlake ingest reads) or as one Parquet file",
		Long: `Export reads a table's committed files through their manifests and writes them as CSV:
a header of the registry's columns, timestamps in RFC 3339 UTC, decimals at the column's scale,
NULL as an empty field (package pipeline/export documents the contract). Rows follow the
partitions (month, bucket), days and the table's sort order. The summary goes to stderr.

The blob tables (event_window_sample, capacity_test_curve) come out one row per sample with its
parent key, read from the objects the parent's manifests list (each checked against its entry),
in the parent's partition and day order, then by parent key.

--format parquet writes the same rows as one Parquet file with the registry's schema (the
lake's standard logical types, zstd): each file is checked against its manifest entry and its
row groups are copied in the same order.

` + exitCodesHelp,
		Example: `  battlake export --table battery --format csv > battery.csv
  battlake export --table telemetry_jar_raw --month 2026-10 --out jar-2026-10.csv
  battlake export --lake s3://my-bucket/lake --table maintenance_event --out -
  battlake export --table telemetry_jar_raw --month 2026-10 --format parquet --out jar-2026-10.parquet
  battlake export --table event_window_sample --month 2026-10 --out samples-2026-10.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runExport(cmd, f, stdout, stderr) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.lake, "lake", "./lake", "lake location: a directory or s3://bucket/prefix")
	fl.StringVar(&f.endpoint, "endpoint", "", "S3 endpoint URL (default: $AWS_ENDPOINT_URL_S3 or AWS)")
	fl.StringVar(&f.table, "table", "", "table to export (required; battlake schema list)")
	fl.StringVar(&f.format, "format", "csv", "output format: csv or parquet")
	fl.StringVar(&f.out, "out", "-", "output file, or - for stdout (a file appears only when complete)")
	fl.StringVar(&f.month, "month", "", "only this month's partitions, YYYY-MM")
	fl.IntVar(&f.workers, "workers", 0, "files formatted in parallel (default: number of CPUs; csv only)")
	return cmd
}

func runExport(cmd *cobra.Command, f exportFlags, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	if f.table == "" {
		return withCode(exitUsage, fmt.Errorf("--table: required (battlake schema list)"))
	}
	t, ok := schema.Lookup(f.table)
	if !ok {
		return withCode(exitUsage, fmt.Errorf("--table %q: no such table (battlake schema list)", f.table))
	}
	if f.format != "csv" && f.format != "parquet" {
		return withCode(exitUsage, fmt.Errorf("--format %q: want csv or parquet", f.format))
	}
	o := export.Options{Month: f.month, Workers: f.workers}
	if err := o.Validate(t); err != nil {
		return withCode(exitUsage, err)
	}
	if !strings.HasPrefix(f.lake, "s3://") {
		// Opening a local lake creates its directory: a typo must not
		// export an empty table.
		if fi, err := os.Stat(f.lake); err != nil || !fi.IsDir() {
			return withCode(exitLake, fmt.Errorf("no lake directory at %s", f.lake))
		}
	}
	lk, err := pipeline.OpenLake(ctx, f.lake, pipeline.LakeOptions{Endpoint: f.endpoint, Retries: 4, Concurrency: 64})
	if err != nil {
		return withCode(exitLake, err)
	}
	defer lk.Store.Close()

	start := time.Now()
	var st export.Stats
	write, toFile, kind := export.CSV, export.CSVFile, "CSV"
	if f.format == "parquet" {
		write, toFile, kind = export.Parquet, export.ParquetFile, "Parquet"
	}
	if f.out == "-" {
		bw := bufio.NewWriterSize(stdout, 1<<20)
		if st, err = write(ctx, lk, t, bw, o); err == nil {
			err = bw.Flush()
		}
	} else {
		st, err = toFile(ctx, lk, t, f.out, o)
	}
	if err != nil {
		return err
	}
	sec := time.Since(start).Seconds()
	fmt.Fprintf(stderr, "exported %s: %d rows from %d files, %.1f MB of %s in %.1fs (%.0f rows/s)\n",
		t.Name, st.Rows, st.Files, float64(st.Bytes)/1e6, kind, sec, float64(st.Rows)/max(sec, 1e-9))
	return nil
}
