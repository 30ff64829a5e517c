package schema

import "fmt"

// registry is built once at package init and never modified afterwards:
// callers get shared *Table pointers and must treat them as read-only
// (use Clone for a private copy).
var registry = mustBuild(
	masterTables(),
	rawTimeSeriesTables(),
	rawTransactionalTables(),
	calcTables(),
	derivedTables(),
	extensionTables(),
)

type tableRegistry struct {
	tables []*Table
	byName map[string]*Table
}

// mustBuild binds columns to their tables and validates the whole set. A
// failure is a programming error in the declarations, so it panics.
func mustBuild(groups ...[]*Table) tableRegistry {
	var r tableRegistry
	for _, g := range groups {
		r.tables = append(r.tables, g...)
	}
	r.byName = make(map[string]*Table, len(r.tables))
	for _, t := range r.tables {
		for i := range t.Columns {
			t.Columns[i].table = t.Name
		}
		r.byName[t.Name] = t
	}
	if err := ValidateTables(r.tables); err != nil {
		panic(fmt.Sprintf("schema: invalid registry: %v", err))
	}
	return r
}

// All returns every table in seed phase order: master, raw time series, raw
// transactional, calc, derived, then the extensions. The slice is a fresh
// copy; the tables are shared and read-only.
func All() []*Table {
	return append([]*Table(nil), registry.tables...)
}

// Lookup returns the named table.
func Lookup(name string) (*Table, bool) {
	t, ok := registry.byName[name]
	return t, ok
}

// MustLookup returns the named table and panics if there is none; for
// callers that name tables with constants.
func MustLookup(name string) *Table {
	t, ok := registry.byName[name]
	if !ok {
		panic(fmt.Sprintf("schema: unknown table %q", name))
	}
	return t
}
