package validate

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Check names one kind of violation.
type Check string

// The checks, in report order.
const (
	CheckManifest     Check = "manifest"      // manifest unreadable, or disagrees with its partition or files
	CheckFile         Check = "file"          // listed file missing or resized, unlisted file visible to globs
	CheckChecksum     Check = "checksum"      // file bytes do not hash to the manifest's SHA-256
	CheckSchema       Check = "schema"        // file unreadable or not the registry's columns and types
	CheckNotNull      Check = "not_null"      // NOT NULL column nullable in the file
	CheckPrimaryKey   Check = "primary_key"   // duplicate primary key
	CheckUnique       Check = "unique"        // duplicate value in a UNIQUE column
	CheckSortOrder    Check = "sort_order"    // rows not in the table's SortBy order
	CheckPartitionKey Check = "partition_key" // row outside its partition's month or bucket, or its day segment
	CheckForeignKey   Check = "foreign_key"   // reference to a key the parent table lacks
	CheckEnum         Check = "enum"          // value outside the ENUM domain
	CheckDecimal      Check = "decimal"       // unscaled value outside DECIMAL(p,s)
	CheckVarchar      Check = "varchar"       // string longer than VARCHAR(n) or not UTF-8; JSON that does not parse
	CheckCompleteness Check = "completeness"  // missing master snapshot, partition or day segment
	CheckLineage      Check = "lineage"       // derived segment computed from an input that has changed since
)

var checkOrder = []Check{CheckManifest, CheckFile, CheckChecksum, CheckSchema, CheckNotNull, CheckPrimaryKey,
	CheckUnique, CheckSortOrder, CheckPartitionKey, CheckForeignKey, CheckEnum, CheckDecimal, CheckVarchar, CheckCompleteness, CheckLineage}

func checkRank(c Check) int {
	for i, x := range checkOrder {
		if x == c {
			return i
		}
	}
	return len(checkOrder)
}

// Violation is one thing wrong, located as precisely as the check can.
type Violation struct {
	Check     Check  `json:"check"`
	Table     string `json:"table"`
	Partition string `json:"partition,omitempty"` // Hive path below the table, e.g. month=2026-10/bucket=03
	Segment   string `json:"segment,omitempty"`   // e.g. 2026-10-31 or 00000
	File      string `json:"file,omitempty"`      // lake-relative key
	Row       int64  `json:"row"`                 // 0-based row in File; -1 when not about one row
	Column    string `json:"column,omitempty"`
	Value     string `json:"value,omitempty"`
	Message   string `json:"message"`
}

// Finding groups the violations of one check on one table column (or on
// the whole table): every one is counted, the first few are kept as
// examples.
type Finding struct {
	Check    Check       `json:"check"`
	Table    string      `json:"table"`
	Column   string      `json:"column,omitempty"`
	Count    int64       `json:"count"`
	Examples []Violation `json:"examples"`
}

// TableStats is what validate read of one table.
type TableStats struct {
	Table      string `json:"table"`
	Partitions int    `json:"partitions"`
	Files      int    `json:"files"`   // data and blob files checked
	Rows       int64  `json:"rows"`    // rows scanned
	Bytes      int64  `json:"bytes"`   // bytes hashed
	PKMode     string `json:"pk_mode"` // how uniqueness was checked: sorted, hash, blob or none
}

// Report is the outcome of Validate. Violations counts every violation;
// Findings keeps at most Options.MaxExamples examples of each group.
type Report struct {
	Lake       string       `json:"lake"`
	From       string       `json:"from,omitempty"` // completeness window [From, To), YYYY-MM-DD
	To         string       `json:"to,omitempty"`
	Tables     []TableStats `json:"tables"`
	Rows       int64        `json:"rows"`
	Bytes      int64        `json:"bytes"`
	Violations int64        `json:"violations"`
	Findings   []Finding    `json:"findings"`
	// Notes say what could not be checked and why (not violations).
	Notes []string `json:"notes,omitempty"`
}

// OK reports whether the lake passed every check.
func (r *Report) OK() bool { return r.Violations == 0 }

// Count returns the number of violations of check c on table (any table
// when table is "").
func (r *Report) Count(c Check, table string) int64 {
	var n int64
	for _, f := range r.Findings {
		if f.Check == c && (table == "" || f.Table == table) {
			n += f.Count
		}
	}
	return n
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people: a summary line, then every
// finding with its examples.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	window := ""
	if r.From != "" {
		window = fmt.Sprintf(", window %s..%s", r.From, r.To)
	}
	files := 0
	for _, t := range r.Tables {
		files += t.Files
	}
	fmt.Fprintf(&b, "validate %s: %d tables, %d files, %d rows, %d bytes checked%s\n", r.Lake, len(r.Tables), files, r.Rows, r.Bytes, window)
	for _, f := range r.Findings {
		col := ""
		if f.Column != "" {
			col = "." + f.Column
		}
		fmt.Fprintf(&b, "\nFAIL %-13s %s%s: %d violation%s\n", f.Check, f.Table, col, f.Count, plural(f.Count))
		for _, v := range f.Examples {
			b.WriteString("  ")
			loc := v.Table
			if v.Partition != "" {
				loc += " " + v.Partition
			}
			if v.Segment != "" {
				loc += " #" + v.Segment
			}
			b.WriteString(loc)
			if v.File != "" {
				fmt.Fprintf(&b, " file %s", v.File)
			}
			if v.Row >= 0 {
				fmt.Fprintf(&b, " row %d", v.Row)
			}
			if v.Column != "" {
				fmt.Fprintf(&b, " column %s", v.Column)
			}
			if v.Value != "" {
				fmt.Fprintf(&b, " value %s", v.Value)
			}
			fmt.Fprintf(&b, ": %s\n", v.Message)
		}
		if n := f.Count - int64(len(f.Examples)); n > 0 {
			fmt.Fprintf(&b, "  ... and %d more\n", n)
		}
	}
	if len(r.Notes) > 0 && len(r.Findings) > 0 {
		b.WriteByte('\n')
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.OK() {
		b.WriteString("OK: no violations\n")
	} else {
		fmt.Fprintf(&b, "\n%d violation%s in %d finding%s\n", r.Violations, plural(r.Violations), len(r.Findings), plural(int64(len(r.Findings))))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// collector groups violations by (check, table, column), counting all and
// keeping the first max of each group in the order they are added. The
// validator adds them in a deterministic order (tables in registry order,
// partitions and files in key order, rows in file order), so the same lake
// gives the same report.
type collector struct {
	max    int
	groups map[findingKey]*Finding
	total  int64
}

type findingKey struct {
	check         Check
	table, column string
}

func newCollector(max int) *collector {
	return &collector{max: max, groups: map[findingKey]*Finding{}}
}

func (c *collector) add(v Violation) {
	k := findingKey{v.Check, v.Table, v.Column}
	f := c.groups[k]
	if f == nil {
		f = &Finding{Check: v.Check, Table: v.Table, Column: v.Column}
		c.groups[k] = f
	}
	f.Count++
	c.total++
	if len(f.Examples) < c.max {
		f.Examples = append(f.Examples, v)
	}
}

// merge adds o's findings (already capped) to c, keeping c's cap.
func (c *collector) merge(o *collector) {
	for _, f := range o.sorted() {
		k := findingKey{f.Check, f.Table, f.Column}
		g := c.groups[k]
		if g == nil {
			g = &Finding{Check: f.Check, Table: f.Table, Column: f.Column}
			c.groups[k] = g
		}
		g.Count += f.Count
		c.total += f.Count
		for _, v := range f.Examples {
			if len(g.Examples) < c.max {
				g.Examples = append(g.Examples, v)
			}
		}
	}
}

// sorted lists the findings by check, table and column (map order never
// reaches the report).
func (c *collector) sorted() []Finding {
	out := make([]Finding, 0, len(c.groups))
	for _, f := range c.groups {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Check != b.Check {
			return checkRank(a.Check) < checkRank(b.Check)
		}
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		return a.Column < b.Column
	})
	return out
}
