package export_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/schema"
)

// duckColumns is DuckDB's (name, type) list of a scan.
func duckColumns(t *testing.T, scan string) []string {
	t.Helper()
	db, err := lakecheck.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + scan + ")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		out = append(out, n+" "+ty)
	}
	return out
}

// Every table of the small lake, exported as one Parquet file, holds
// exactly the rows DuckDB reads from the table's lake files (EXCEPT ALL
// both ways), with the same column names and types.
func TestParquetExportMatchesDuckDBReadOfLake(t *testing.T) {
	exportEqualsLake(t, func(t *testing.T, lk *lake.Lake, dir string, tb *schema.Table, out string) (export.Stats, string) {
		path := filepath.Join(out, tb.Name+".parquet")
		st, err := export.ParquetFile(t.Context(), lk, tb, path, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != st.Bytes {
			t.Fatalf("stat %v: stats say %d bytes", err, st.Bytes)
		}
		pq := fmt.Sprintf("read_parquet('%s')", path)
		if a, b := duckColumns(t, lakecheck.Scan(dir, tb)), duckColumns(t, pq); !slices.Equal(a, b) {
			t.Errorf("columns differ:\nlake   %v\nexport %v", a, b)
		}
		return st, pq
	})
}

// A month filter keeps that month's rows; a data file that no longer
// matches its manifest fails the export, naming it, and leaves no file.
func TestParquetExportMonthAndIntegrity(t *testing.T) {
	dir := tinyLake(t)
	jar := schema.MustLookup("telemetry_jar_raw")
	out := t.TempDir()
	all, err := export.ParquetFile(t.Context(), openLake(t, dir), jar, filepath.Join(out, "all.parquet"), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	march, err := export.ParquetFile(t.Context(), openLake(t, dir), jar, filepath.Join(out, "march.parquet"), export.Options{Month: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	april, err := export.ParquetFile(t.Context(), openLake(t, dir), jar, filepath.Join(out, "april.parquet"), export.Options{Month: "2026-04"})
	if err != nil {
		t.Fatal(err)
	}
	if all.Rows == 0 || march.Rows != all.Rows || april.Rows != 0 || april.Files != 0 {
		t.Errorf("rows: all %d, 2026-03 %d, 2026-04 %d (%d files)", all.Rows, march.Rows, april.Rows, april.Files)
	}
	if _, err := export.ParquetFile(t.Context(), openLake(t, dir), schema.MustLookup("battery"), filepath.Join(out, "x.parquet"), export.Options{Month: "2026-03"}); !errors.Is(err, export.ErrNotExportable) {
		t.Errorf("month filter on master data: err %v, want ErrNotExportable", err)
	}

	cp := t.TempDir()
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	files := lakecheck.Files(cp, jar)
	f, err := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	bad := t.TempDir()
	_, err = export.ParquetFile(t.Context(), openLake(t, cp), jar, filepath.Join(bad, "jar.parquet"), export.Options{})
	rel, _ := filepath.Rel(cp, files[len(files)-1])
	if !errors.Is(err, export.ErrFileChanged) || !strings.Contains(err.Error(), filepath.ToSlash(rel)) {
		t.Errorf("tampered file: err %v, want ErrFileChanged naming %s", err, rel)
	}
	if ents, _ := os.ReadDir(bad); len(ents) != 0 {
		t.Errorf("failed export left %v", ents)
	}
}
