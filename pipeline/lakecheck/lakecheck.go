// Package lakecheck verifies a local lake the way its users read it: with
// a real DuckDB. It checks that every table's Parquet files read back with
// the registry's types, that primary keys are unique and that foreign keys
// resolve. Tests use it; it links DuckDB (cgo), so the CLI does not.
package lakecheck

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/battlake/battlake/schema"
	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
)

// Open returns an in-memory DuckDB.
func Open() (*sql.DB, error) { return sql.Open("duckdb", "") }

// DuckType is the type DuckDB reports for a registry column read from our
// Parquet files.
func DuckType(t schema.Type) string {
	switch t.Kind {
	case schema.KindUUID:
		return "UUID"
	case schema.KindDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case schema.KindTimestamptz:
		return "TIMESTAMP WITH TIME ZONE"
	case schema.KindTimestamp:
		return "TIMESTAMP"
	case schema.KindDate:
		return "DATE"
	case schema.KindVarchar, schema.KindText, schema.KindEnum:
		return "VARCHAR"
	case schema.KindJSON:
		return "JSON"
	case schema.KindInt:
		return "INTEGER"
	case schema.KindBigInt:
		return "BIGINT"
	case schema.KindBoolean:
		return "BOOLEAN"
	case schema.KindDouble:
		return "DOUBLE"
	}
	return "?"
}

// dir is where a table's files live: blob tables (one object per parent
// row) sit under _blobs/<parent table>/.
func dir(t *schema.Table) string {
	if b := t.Blob(); b != nil {
		return "_blobs/" + b.Parent
	}
	return t.Dir()
}

// Glob is the read_parquet glob of a table in a local lake.
func Glob(lakeDir string, t *schema.Table) string {
	return filepath.Join(lakeDir, dir(t), "**", "*.parquet")
}

// Files lists t's Parquet files in a local lake, in lexical order.
func Files(lakeDir string, t *schema.Table) []string {
	var out []string
	filepath.WalkDir(filepath.Join(lakeDir, dir(t)), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// Present reports whether the lake holds any data file of t.
func Present(lakeDir string, t *schema.Table) bool { return len(Files(lakeDir, t)) > 0 }

// Scan is the SQL of a table scan without Hive columns (the registry's
// columns only).
func Scan(lakeDir string, t *schema.Table) string {
	return fmt.Sprintf("read_parquet('%s', hive_partitioning=false, union_by_name=false)", Glob(lakeDir, t))
}

// Describe returns DuckDB's (column, type) list of a table.
func Describe(db *sql.DB, lakeDir string, t *schema.Table) ([][2]string, error) {
	rows, err := db.Query("DESCRIBE SELECT * FROM " + Scan(lakeDir, t))
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", t.Name, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][2]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, [2]string{fmt.Sprint(vals[0]), fmt.Sprint(vals[1])})
	}
	return out, rows.Err()
}

// CheckTypes compares DuckDB's view of t with the registry.
func CheckTypes(db *sql.DB, lakeDir string, t *schema.Table) error {
	got, err := Describe(db, lakeDir, t)
	if err != nil {
		return err
	}
	if len(got) != len(t.Columns) {
		return fmt.Errorf("table %s: duckdb sees %d columns, registry has %d: %v", t.Name, len(got), len(t.Columns), got)
	}
	for i, c := range t.Columns {
		want := DuckType(c.Type)
		if got[i][0] != c.Name || got[i][1] != want {
			return fmt.Errorf("table %s column %d: duckdb reads %s %s, registry says %s %s", t.Name, i, got[i][0], got[i][1], c.Name, want)
		}
	}
	return nil
}

// Count returns the row count of a table.
func Count(db *sql.DB, lakeDir string, t *schema.Table) (int64, error) {
	var n int64
	err := db.QueryRow("SELECT count(*) FROM " + Scan(lakeDir, t)).Scan(&n)
	return n, err
}

// CheckPK verifies that t's primary key is unique and not null.
func CheckPK(db *sql.DB, lakeDir string, t *schema.Table) error {
	pk := t.PrimaryKey()
	if len(pk) == 0 {
		return nil
	}
	q := fmt.Sprintf("SELECT count(*) FROM (SELECT %s, count(*) AS n FROM %s GROUP BY ALL HAVING n > 1)", quoteList(pk), Scan(lakeDir, t))
	var dup int64
	if err := db.QueryRow(q).Scan(&dup); err != nil {
		return fmt.Errorf("pk %s: %w", t.Name, err)
	}
	if dup != 0 {
		return fmt.Errorf("table %s: %d duplicated primary keys (%s)", t.Name, dup, strings.Join(pk, ", "))
	}
	return nil
}

// CheckFKs verifies that every foreign key of t whose parent table is in
// the lake resolves. It returns the FKs it could not check (parent absent).
func CheckFKs(db *sql.DB, lakeDir string, t *schema.Table) (skipped []string, err error) {
	for _, fk := range t.ForeignKeys() {
		parent := schema.MustLookup(fk.Ref.Table)
		if !Present(lakeDir, parent) {
			skipped = append(skipped, t.Name+"."+fk.Column)
			continue
		}
		q := fmt.Sprintf(`SELECT count(*) FROM %s c WHERE c.%q IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s p WHERE p.%q = c.%q)`,
			Scan(lakeDir, t), fk.Column, Scan(lakeDir, parent), fk.Ref.Column, fk.Column)
		var n int64
		if err := db.QueryRow(q).Scan(&n); err != nil {
			return skipped, fmt.Errorf("fk %s.%s: %w", t.Name, fk.Column, err)
		}
		if n != 0 {
			return skipped, fmt.Errorf("table %s: %d rows with %s not found in %s.%s", t.Name, n, fk.Column, fk.Ref.Table, fk.Ref.Column)
		}
	}
	return skipped, nil
}

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = fmt.Sprintf("%q", c)
	}
	return strings.Join(q, ", ")
}

// CheckAll runs every check on every registry table present in the lake and
// returns the tables it found.
func CheckAll(db *sql.DB, lakeDir string) ([]string, error) {
	var found []string
	for _, t := range schema.All() {
		if !Present(lakeDir, t) {
			continue
		}
		found = append(found, t.Name)
		if err := CheckTypes(db, lakeDir, t); err != nil {
			return found, err
		}
		if err := CheckPK(db, lakeDir, t); err != nil {
			return found, err
		}
		if _, err := CheckFKs(db, lakeDir, t); err != nil {
			return found, err
		}
	}
	return found, nil
}
