package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// readTable calls fn for every row of every committed segment of t (found
// through the manifests, as the derived jobs find their inputs). vals is
// reused between calls.
func readTable(ctx context.Context, lk *lake.Lake, t *schema.Table, fn func(p lake.Partition, seg string, vals []val) error) error {
	parts, err := lk.Partitions(ctx, t)
	if err != nil {
		return err
	}
	c := newCodec(t, nil)
	for _, cp := range parts {
		for _, f := range cp.Manifest.Files {
			if f.Role != "data" {
				continue
			}
			err := readFileRows(ctx, lk, c, f.Key, func(vals []val) error { return fn(cp.Partition, f.Segment, vals) })
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// readFileRows streams the rows of one lake data file as vals.
func readFileRows(ctx context.Context, lk *lake.Lake, c *codec, key string, fn func(vals []val) error) error {
	obj, err := lk.Store.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer obj.Close()
	return readParquetRows(obj, obj.Size(), key, c, fn)
}

// readParquetRows streams the rows of one Parquet file of c.t as vals.
func readParquetRows(r io.ReaderAt, size int64, key string, c *codec, fn func(vals []val) error) error {
	pf, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if got := len(pf.Schema().Columns()); got != len(c.t.Columns) {
		return fmt.Errorf("read %s: %d columns, table %s has %d", key, got, c.t.Name, len(c.t.Columns))
	}
	vals := make([]val, len(c.t.Columns))
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				c.fromParquet(r, vals)
				if ferr := fn(vals); ferr != nil {
					rows.Close()
					return ferr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("read %s: %w", key, err)
			}
		}
		rows.Close()
	}
	return nil
}

// addSelfKeys adds the primary keys the input itself holds to the sets of
// self-referencing foreign keys (battery.replacement_of names another
// battery of the same load). A light first pass over CSV sources reads the
// key column only; a bad key is left for the main pass to reject.
func (e *engine) addSelfKeys(ctx context.Context) error {
	var self []int
	for i := range e.t.Columns {
		if fk := e.t.Columns[i].FK; fk != nil && fk.Table == e.t.Name && e.fkSets[i] != nil {
			self = append(self, i)
		}
	}
	pk := e.t.PrimaryKey()
	if len(self) == 0 || len(pk) != 1 {
		return nil
	}
	keys := map[[16]byte]struct{}{}
	for _, f := range e.files {
		if err := scanColumn(ctx, f, e.mapping, pk[0], func(b []byte) {
			if u, fe := parseUUID(b); fe == nil {
				keys[u] = struct{}{}
			}
		}); err != nil {
			return err
		}
	}
	for _, i := range self {
		set := make(map[[16]byte]struct{}, len(e.fkSets[i])+len(keys))
		for k := range e.fkSets[i] {
			set[k] = struct{}{}
		}
		for k := range keys {
			set[k] = struct{}{}
		}
		e.fkSets[i] = set
	}
	return nil
}
