package export

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// ErrSchema classifies a data file whose Parquet schema is not the
// registry's for its table.
var ErrSchema = errors.New("data file schema differs from the registry")

// Parquet writes table t of lake lk to w as one Parquet file with the
// registry's schema (the lake's logical types, zstd, footer metadata; no
// sort order is declared, since partitions are concatenated). Each
// committed data file, found through the manifests, is checked against its
// manifest entry (size, rows) and its schema against the registry, and its
// row groups are copied in export order (month, bucket, day): memory is
// bounded by a row group.
func Parquet(ctx context.Context, lk *lake.Lake, t *schema.Table, w io.Writer, o Options) (Stats, error) {
	st, files, err := start(ctx, lk, t, o)
	if err != nil {
		return st, err
	}
	want, err := parquetio.Schema(t)
	if err != nil {
		return st, fmt.Errorf("export %s: %w", t.Name, err)
	}
	cw := &parquetio.CountingWriter{W: w}
	pw, err := parquetio.NewRowWriter(cw, t)
	if err != nil {
		return st, fmt.Errorf("export %s: %w", t.Name, err)
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("export %s: %w", t.Name, err)
		}
		n, err := copyFile(ctx, lk, f, want, pw)
		st.Rows += n
		if err != nil {
			return st, fmt.Errorf("export %s: %s: %w", t.Name, f.Data.Key, err)
		}
	}
	if err := pw.Close(); err != nil {
		return st, fmt.Errorf("export %s: write: %w", t.Name, err)
	}
	st.Bytes = cw.N
	return st, nil
}

// copyFile appends the row groups of one data file to pw.
func copyFile(ctx context.Context, lk *lake.Lake, f lake.SegmentFile, want *parquet.Schema, pw *parquetio.RowWriter) (int64, error) {
	obj, err := openChecked(ctx, lk, f)
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	pf, err := parquet.OpenFile(obj, obj.Size(), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return 0, err
	}
	if pf.NumRows() != f.Data.Rows {
		return 0, fmt.Errorf("%d rows, the manifest says %d: %w", pf.NumRows(), f.Data.Rows, ErrFileChanged)
	}
	if !parquet.EqualNodes(pf.Schema(), want) {
		return 0, fmt.Errorf("%w: %v", ErrSchema, pf.Schema())
	}
	var rows int64
	for _, rg := range pf.RowGroups() {
		n, err := pw.WriteRowGroup(rg)
		rows += n
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// ParquetFile writes table t to the local file path through a temporary
// file renamed on success, as CSVFile does.
func ParquetFile(ctx context.Context, lk *lake.Lake, t *schema.Table, path string, o Options) (Stats, error) {
	return toFile(t, path, func(w io.Writer) (Stats, error) { return Parquet(ctx, lk, t, w, o) })
}

// toFile runs write into a temporary file beside path, renamed to path on
// success, so a failed or interrupted export never leaves a truncated
// file under the final name.
func toFile(t *schema.Table, path string, write func(w io.Writer) (Stats, error)) (Stats, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return Stats{Table: t.Name}, fmt.Errorf("export %s: %w", t.Name, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	bw := bufio.NewWriterSize(tmp, 1<<20)
	st, err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return st, fmt.Errorf("export %s to %s: %w", t.Name, path, err)
	}
	return st, nil
}
