// Package schema is the single registry of every table in the lake: the
// seed specification's 26 tables plus the extensions the product adds
// (hidden truth, labels, waveform captures, rejects). It knows nothing about
// file formats; pipeline/ maps these definitions to Parquet and Arrow.
package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is a column's logical type as the seed specification names it.
type Kind uint8

const (
	KindUUID        Kind = iota + 1 // UUID
	KindDecimal                     // DECIMAL(p,s)
	KindTimestamptz                 // TIMESTAMPTZ (UTC-adjusted instant)
	KindTimestamp                   // TIMESTAMP (wall clock, not adjusted)
	KindDate                        // DATE
	KindVarchar                     // VARCHAR(n)
	KindText                        // TEXT
	KindEnum                        // ENUM(values...)
	KindJSON                        // JSONB
	KindInt                         // INT (32-bit)
	KindBigInt                      // BIGINT (64-bit), extensions only
	KindBoolean                     // BOOLEAN
	KindDouble                      // DOUBLE, extensions only (waveform samples)
)

func (k Kind) String() string {
	switch k {
	case KindUUID:
		return "UUID"
	case KindDecimal:
		return "DECIMAL"
	case KindTimestamptz:
		return "TIMESTAMPTZ"
	case KindTimestamp:
		return "TIMESTAMP"
	case KindDate:
		return "DATE"
	case KindVarchar:
		return "VARCHAR"
	case KindText:
		return "TEXT"
	case KindEnum:
		return "ENUM"
	case KindJSON:
		return "JSONB"
	case KindInt:
		return "INT"
	case KindBigInt:
		return "BIGINT"
	case KindBoolean:
		return "BOOLEAN"
	case KindDouble:
		return "DOUBLE"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Type is a column type with its parameters.
type Type struct {
	Kind      Kind
	Precision int      // DECIMAL precision
	Scale     int      // DECIMAL scale
	Length    int      // VARCHAR length
	Values    []string // ENUM domain, in the seed's order
}

// Constructors keep table declarations short and readable.
func UUID() Type                 { return Type{Kind: KindUUID} }
func Decimal(p, s int) Type      { return Type{Kind: KindDecimal, Precision: p, Scale: s} }
func Timestamptz() Type          { return Type{Kind: KindTimestamptz} }
func Timestamp() Type            { return Type{Kind: KindTimestamp} }
func Date() Type                 { return Type{Kind: KindDate} }
func Varchar(n int) Type         { return Type{Kind: KindVarchar, Length: n} }
func Text() Type                 { return Type{Kind: KindText} }
func Enum(values ...string) Type { return Type{Kind: KindEnum, Values: values} }
func JSON() Type                 { return Type{Kind: KindJSON} }
func Int() Type                  { return Type{Kind: KindInt} }
func BigInt() Type               { return Type{Kind: KindBigInt} }
func Boolean() Type              { return Type{Kind: KindBoolean} }
func Double() Type               { return Type{Kind: KindDouble} }

// SQL renders the seed's spelling of the type (used by docs and DDL).
func (t Type) SQL() string {
	switch t.Kind {
	case KindDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case KindVarchar:
		return fmt.Sprintf("VARCHAR(%d)", t.Length)
	case KindEnum:
		return "ENUM(" + strings.Join(t.Values, ", ") + ")"
	}
	return t.Kind.String()
}

// Class is the seed's data classification of a table.
type Class string

const (
	ClassMaster  Class = "master"
	ClassRaw     Class = "raw"
	ClassCalc    Class = "calc"
	ClassDerived Class = "derived"
	// ClassTruth holds the synthesizer's hidden truth: only labels and
	// evaluation may read it, never calculated tables, features or predictions.
	ClassTruth Class = "truth"
	// ClassOps holds operational extensions (rejects, run metadata).
	ClassOps Class = "ops"
)

// Encoding is a per-column Parquet encoding hint chosen by measurement
// (see pipeline/ and tooling-notes): the mapping decides the default from the
// kind; a column overrides it only where a benchmark says so.
type Encoding uint8

const (
	EncAuto  Encoding = iota // mapping default for the kind
	EncPlain                 // PLAIN
	EncDelta                 // DELTA_BINARY_PACKED (ints) / DELTA_BYTE_ARRAY (strings)
	EncDict                  // RLE_DICTIONARY
)

// ForeignKey references another registry table's column.
type ForeignKey struct {
	Table  string
	Column string
}

// Column is one column of a table.
type Column struct {
	Name        string
	Type        Type
	NotNull     bool // PK and NOT NULL columns are required in Parquet
	PK          bool
	Unique      bool
	Default     string // SQL default, as the seed writes it (e.g. TRUE)
	FK          *ForeignKey
	Description string
	Method      string // synthesis or calculation method from the seed
	Encoding    Encoding
	// Range is the physically plausible interval of a measurement: ingest
	// rejects values outside it (a 12 V jar read at 250 V). It is
	// documentation and validation only, not part of the stored type, so it
	// does not enter the table's Version.
	Range *Range

	// table is the owning table's name, set when the registry is built, so
	// value errors can name it without the hot path passing it around.
	table string
}

// Range bounds a numeric column: Min <= v <= Max, or Min < v when MinOpen
// (a resistance or conductance is never zero).
type Range struct {
	Min, Max float64
	MinOpen  bool
}

// rng keeps range declarations on one line.
func rng(min, max float64) *Range { return &Range{Min: min, Max: max} }

// positive is (0, max].
func positive(max float64) *Range { return &Range{Min: 0, Max: max, MinOpen: true} }

// Contains reports whether v lies in the range.
func (r *Range) Contains(v float64) bool {
	if r.MinOpen {
		return v > r.Min && v <= r.Max
	}
	return v >= r.Min && v <= r.Max
}

func (r *Range) String() string {
	lo := "["
	if r.MinOpen {
		lo = "("
	}
	return lo + strconv.FormatFloat(r.Min, 'g', -1, 64) + ", " + strconv.FormatFloat(r.Max, 'g', -1, 64) + "]"
}

// Partitioning says how a table's rows are split into partitions (Hive
// directories). A partition is a set of segments, one data file each (a
// file a day, or one history file; see pipeline/lake).
type Partitioning struct {
	// MonthOf names the timestamp column whose UTC month gives month=YYYY-MM;
	// empty means the table is not split by time.
	MonthOf string
	// BucketOf names the UUID column hashed into Buckets buckets (bucket=NN);
	// empty or Buckets<=1 means no bucketing.
	BucketOf string
	Buckets  int
}

// Index is a secondary index from the seed's section 9 (DDL only).
type Index struct {
	Name    string
	Columns []string // may carry " DESC"
}

// Table is a registry entry.
type Table struct {
	Name        string
	Class       Class
	Extension   bool   // not in the seed; added by the product
	Section     string // seed section, e.g. "3.1"
	Description string
	Columns     []Column
	Partition   Partitioning
	SortBy      []string // row order inside each file
	Indexes     []Index
	// Sparse tables have rows on some days only, by design (predictions
	// and anomaly scores exist at month ends and run dates): completeness
	// checks expect no segment for every telemetry day.
	Sparse bool
	// Optional tables may rightly be absent from a complete lake: the
	// model registry is written only when the lake holds enough ends of
	// service to train on.
	Optional bool

	// blob is set for tables stored as one object per parent row (see Blob).
	blob *Blob
}

// Blob describes a table that is not stored as partitions under Dir() but
// as one Parquet object per parent row under _blobs/ (pipeline/lake decides
// the key), because the parent row points at its detail data by URL (the
// seed's data_blob_url and raw_data_url columns).
type Blob struct {
	Parent    string // parent table, e.g. telemetry_event_window
	Key       string // key column shared by parent and blob table, e.g. window_id
	URLColumn string // parent column holding the object's URL, e.g. data_blob_url
}

// Blob returns the per-parent-object layout, or nil for partitioned tables.
func (t *Table) Blob() *Blob {
	if t.blob == nil {
		return nil
	}
	b := *t.blob
	return &b
}

// Area is the lake prefix of the table: hidden truth lives under _truth/ so
// that no calculated job's glob can reach it by accident.
func (t *Table) Area() string {
	if t.Class == ClassTruth {
		return "_truth"
	}
	return ""
}

// Dir is the table's root path inside the lake.
func (t *Table) Dir() string {
	if a := t.Area(); a != "" {
		return a + "/" + t.Name
	}
	return t.Name
}

// Column returns the named column or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// ColumnIndex returns the position of the named column or -1.
func (t *Table) ColumnIndex(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}

// PrimaryKey lists the PK columns in declaration order.
func (t *Table) PrimaryKey() []string {
	var pk []string
	for _, c := range t.Columns {
		if c.PK {
			pk = append(pk, c.Name)
		}
	}
	return pk
}

// ForeignKeys lists (column, reference) pairs in declaration order.
func (t *Table) ForeignKeys() []struct {
	Column string
	Ref    ForeignKey
} {
	var out []struct {
		Column string
		Ref    ForeignKey
	}
	for _, c := range t.Columns {
		if c.FK != nil {
			out = append(out, struct {
				Column string
				Ref    ForeignKey
			}{c.Name, *c.FK})
		}
	}
	return out
}

// Clone returns a deep copy that can be modified without touching the
// registry (tests, what-if checks).
func (t *Table) Clone() *Table {
	c := *t
	c.Columns = make([]Column, len(t.Columns))
	for i, col := range t.Columns {
		col.Type.Values = append([]string(nil), col.Type.Values...)
		if col.FK != nil {
			fk := *col.FK
			col.FK = &fk
		}
		if col.Range != nil {
			r := *col.Range
			col.Range = &r
		}
		c.Columns[i] = col
	}
	c.SortBy = append([]string(nil), t.SortBy...)
	c.Indexes = make([]Index, len(t.Indexes))
	for i, ix := range t.Indexes {
		c.Indexes[i] = Index{Name: ix.Name, Columns: append([]string(nil), ix.Columns...)}
	}
	if t.Indexes == nil {
		c.Indexes = nil
	}
	if t.blob != nil {
		b := *t.blob
		c.blob = &b
	}
	return &c
}

// Equal reports whether two types are the same, parameters and enum domain
// included (a foreign key must match its target exactly).
func (t Type) Equal(u Type) bool {
	if t.Kind != u.Kind || t.Precision != u.Precision || t.Scale != u.Scale ||
		t.Length != u.Length || len(t.Values) != len(u.Values) {
		return false
	}
	for i := range t.Values {
		if t.Values[i] != u.Values[i] {
			return false
		}
	}
	return true
}
