package parquetio

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/schema"
)

// DuckDB reads every table the Arrow writer produces with the registry's
// types (UUID, DECIMAL(p,s), TIMESTAMP WITH TIME ZONE, DATE, JSON, VARCHAR,
// ...) and sees the same rows and NULLs.
func TestArrowWriterReadsBackInDuckDB(t *testing.T) {
	db, err := lakecheck.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	for _, tb := range schema.All() {
		t.Run(tb.Name, func(t *testing.T) {
			rec := fixture(tb, 50, memory.DefaultAllocator)
			defer rec.Release()
			path := filepath.Join(dir, tb.Name+".parquet")
			if err := os.WriteFile(path, writeArrow(t, tb, ArrowWriterOptions{RowGroupRows: 16}, rec), 0o644); err != nil {
				t.Fatal(err)
			}
			scan := fmt.Sprintf("read_parquet('%s')", path)
			rows, err := db.Query("DESCRIBE SELECT * FROM " + scan)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var name, typ string
				var null, key, def, extra any
				if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
					t.Fatal(err)
				}
				got = append(got, name+" "+typ)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			var want, counts []string
			for _, c := range tb.Columns {
				want = append(want, c.Name+" "+lakecheck.DuckType(c.Type))
				counts = append(counts, fmt.Sprintf("count(%q)", c.Name))
			}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Fatalf("duckdb reads\n  %s\nregistry\n  %s", strings.Join(got, ", "), strings.Join(want, ", "))
			}
			vals := make([]int64, len(counts)+1)
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := db.QueryRow("SELECT count(*), " + strings.Join(counts, ", ") + " FROM " + scan).Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			if vals[0] != rec.NumRows() {
				t.Fatalf("duckdb counts %d rows, want %d", vals[0], rec.NumRows())
			}
			for i, c := range tb.Columns {
				if want := rec.NumRows() - int64(rec.Column(i).NullN()); vals[i+1] != want {
					t.Errorf("column %s: duckdb counts %d non-NULL values, want %d", c.Name, vals[i+1], want)
				}
			}
		})
	}
}
