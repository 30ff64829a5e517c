package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits that the lake layout and the Parquet mapping rely on.
const (
	// MaxDecimalPrecision keeps every unscaled decimal in an int64, which is
	// how pipeline/ stores decimals (INT32/INT64 physical types).
	MaxDecimalPrecision = 18
	// MaxBuckets keeps bucket=NN two digits wide so paths sort correctly.
	MaxBuckets = 100
)

// Validate checks the table on its own: names, types, keys, defaults,
// encodings, partitioning, sort order and indexes. References to other
// tables are checked by ValidateTables.
func (t *Table) Validate() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("table %s: "+format, append([]any{t.Name}, args...)...))
	}

	if !isIdent(t.Name) {
		fail("invalid table name %q", t.Name)
	}
	switch t.Class {
	case ClassMaster, ClassRaw, ClassCalc, ClassDerived, ClassTruth, ClassOps:
	default:
		fail("unknown class %q", t.Class)
	}
	if t.Extension && t.Section != "" {
		fail("extension table has seed section %q", t.Section)
	}
	if !t.Extension && t.Section == "" {
		fail("seed table has no seed section")
	}
	if !t.Extension && (t.Class == ClassTruth || t.Class == ClassOps) {
		fail("class %s is for extension tables only", t.Class)
	}
	if t.Description == "" {
		fail("missing description")
	}
	if strings.ContainsAny(t.Description, "\r\n") {
		fail("description spans lines")
	}
	if len(t.Columns) == 0 {
		fail("no columns")
	}

	seen := make(map[string]bool, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		if seen[c.Name] {
			fail("duplicate column %q", c.Name)
		}
		seen[c.Name] = true
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("table %s column %s: %w", t.Name, c.Name, err))
		}
	}

	p := t.Partition
	if p.MonthOf != "" {
		switch c := t.Column(p.MonthOf); {
		case c == nil:
			fail("partition month column %q does not exist", p.MonthOf)
		case c.Type.Kind != KindTimestamptz && c.Type.Kind != KindTimestamp && c.Type.Kind != KindDate:
			fail("partition month column %s is %s, want TIMESTAMPTZ, TIMESTAMP or DATE", p.MonthOf, c.Type.SQL())
		}
	}
	if p.BucketOf != "" {
		switch c := t.Column(p.BucketOf); {
		case c == nil:
			fail("partition bucket column %q does not exist", p.BucketOf)
		case c.Type.Kind != KindUUID:
			fail("partition bucket column %s is %s, want UUID", p.BucketOf, c.Type.SQL())
		}
		if p.Buckets < 2 || p.Buckets > MaxBuckets {
			fail("partition buckets %d out of range 2..%d", p.Buckets, MaxBuckets)
		}
	} else if p.Buckets != 0 {
		fail("partition buckets %d set without a bucket column", p.Buckets)
	}

	checkCols := func(what string, cols []string, allowDesc bool) {
		used := make(map[string]bool, len(cols))
		for _, spec := range cols {
			name := spec
			if allowDesc {
				name = strings.TrimSuffix(strings.TrimSuffix(spec, " DESC"), " ASC")
			}
			if t.Column(name) == nil {
				fail("%s column %q does not exist", what, spec)
			}
			if used[name] {
				fail("%s column %q repeated", what, name)
			}
			used[name] = true
		}
	}
	checkCols("sort", t.SortBy, false)
	if len(t.SortBy) == 0 {
		fail("no sort order")
	}
	for _, ix := range t.Indexes {
		if !isIdent(ix.Name) {
			fail("invalid index name %q", ix.Name)
		}
		if len(ix.Columns) == 0 {
			fail("index %s has no columns", ix.Name)
		}
		checkCols("index "+ix.Name, ix.Columns, true)
	}

	if b := t.blob; b != nil {
		if p != (Partitioning{}) {
			fail("blob table is also partitioned")
		}
		switch c := t.Column(b.Key); {
		case c == nil:
			fail("blob key column %q does not exist", b.Key)
		case c.FK == nil || c.FK.Table != b.Parent || c.FK.Column != b.Key:
			fail("blob key column %s must reference %s.%s", b.Key, b.Parent, b.Key)
		}
	}
	return errors.Join(errs...)
}

// validate checks one column's own declaration.
func (c *Column) validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !isIdent(c.Name) {
		fail("invalid column name %q", c.Name)
	}
	t := c.Type
	if t.Kind < KindUUID || t.Kind > KindDouble {
		fail("unknown type kind %d", t.Kind)
	}
	if t.Kind == KindDecimal {
		if t.Precision < 1 || t.Precision > MaxDecimalPrecision {
			fail("decimal precision %d out of range 1..%d", t.Precision, MaxDecimalPrecision)
		}
		if t.Scale < 0 || t.Scale > t.Precision {
			fail("decimal scale %d out of range 0..%d", t.Scale, t.Precision)
		}
	} else if t.Precision != 0 || t.Scale != 0 {
		fail("precision/scale set on %s", t.Kind)
	}
	if t.Kind == KindVarchar {
		if t.Length <= 0 {
			fail("varchar length %d must be positive", t.Length)
		}
	} else if t.Length != 0 {
		fail("length set on %s", t.Kind)
	}
	if t.Kind == KindEnum {
		if len(t.Values) == 0 {
			fail("enum has no values")
		}
		seen := make(map[string]bool, len(t.Values))
		for _, v := range t.Values {
			if v == "" {
				fail("enum has an empty value")
			}
			if seen[v] {
				fail("enum value %q repeated", v)
			}
			seen[v] = true
		}
	} else if len(t.Values) != 0 {
		fail("enum values set on %s", t.Kind)
	}

	if c.PK && !c.NotNull {
		fail("primary key column must be not null")
	}
	if c.PK && c.Unique {
		fail("unique is redundant on a primary key column")
	}
	if c.Default != "" {
		if err := checkDefault(t.Kind, c.Default); err != nil {
			errs = append(errs, err)
		}
	}
	if c.FK != nil && (c.FK.Table == "" || c.FK.Column == "") {
		fail("foreign key with empty table or column")
	}

	switch c.Encoding {
	case EncAuto, EncPlain:
	case EncDelta:
		// Parquet has no delta encoding for booleans or doubles.
		if t.Kind == KindBoolean || t.Kind == KindDouble {
			fail("delta encoding on %s", t.Kind)
		}
	case EncDict:
		if t.Kind == KindBoolean {
			fail("dictionary encoding on %s", t.Kind)
		}
	default:
		fail("unknown encoding %d", c.Encoding)
	}
	if strings.ContainsAny(c.Description+c.Method, "\r\n") {
		fail("description or method spans lines")
	}
	return errors.Join(errs...)
}

// checkDefault accepts only literals that both DDL dialects spell the same.
func checkDefault(k Kind, def string) error {
	switch k {
	case KindBoolean:
		if def == "TRUE" || def == "FALSE" {
			return nil
		}
	case KindInt:
		if _, err := strconv.ParseInt(def, 10, 32); err == nil {
			return nil
		}
	case KindBigInt:
		if _, err := strconv.ParseInt(def, 10, 64); err == nil {
			return nil
		}
	default:
		return fmt.Errorf("default %q not supported on %s", def, k)
	}
	return fmt.Errorf("default %q is not a %s literal", def, k)
}

// ValidateTables checks every table and everything that spans tables:
// unique table, index and enum type names, foreign keys, blob layouts, and
// that the seed tables and derived data stand without the extensions and
// never reach the hidden truth.
func ValidateTables(tables []*Table) error {
	var errs []error
	byName := make(map[string]*Table, len(tables))
	for _, t := range tables {
		if err := t.Validate(); err != nil {
			errs = append(errs, err)
		}
		if byName[t.Name] != nil {
			errs = append(errs, fmt.Errorf("table %s: declared twice", t.Name))
		}
		byName[t.Name] = t
	}

	indexes := make(map[string]string)
	types := make(map[string]string)
	for _, t := range tables {
		for _, ix := range t.Indexes {
			if other, ok := indexes[ix.Name]; ok {
				errs = append(errs, fmt.Errorf("table %s: index %s already declared on %s", t.Name, ix.Name, other))
			}
			indexes[ix.Name] = t.Name
		}
		for _, c := range t.Columns {
			if c.Type.Kind != KindEnum {
				continue
			}
			name := enumTypeName(t, &c)
			if byName[name] != nil {
				errs = append(errs, fmt.Errorf("table %s column %s: enum type name %s collides with a table", t.Name, c.Name, name))
			}
			if other, ok := types[name]; ok {
				errs = append(errs, fmt.Errorf("table %s column %s: enum type name %s collides with %s", t.Name, c.Name, name, other))
			}
			types[name] = t.Name + "." + c.Name
		}
	}

	for _, t := range tables {
		for _, c := range t.Columns {
			if c.FK == nil {
				continue
			}
			if err := checkRef(t, &c, byName); err != nil {
				errs = append(errs, fmt.Errorf("table %s column %s: %w", t.Name, c.Name, err))
			}
		}
		if b := t.blob; b != nil {
			if err := checkBlob(b, byName); err != nil {
				errs = append(errs, fmt.Errorf("table %s: %w", t.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func checkRef(t *Table, c *Column, byName map[string]*Table) error {
	ref := c.FK
	target := byName[ref.Table]
	if target == nil {
		return fmt.Errorf("foreign key to unknown table %s", ref.Table)
	}
	tc := target.Column(ref.Column)
	if tc == nil {
		return fmt.Errorf("foreign key to unknown column %s.%s", ref.Table, ref.Column)
	}
	if !tc.Type.Equal(c.Type) {
		return fmt.Errorf("foreign key type %s differs from %s.%s type %s", c.Type.SQL(), ref.Table, ref.Column, tc.Type.SQL())
	}
	// SQL engines accept a reference only to a unique key.
	if pk := target.PrimaryKey(); !tc.Unique && !(len(pk) == 1 && pk[0] == ref.Column) {
		return fmt.Errorf("foreign key to %s.%s, which is neither the primary key nor unique", ref.Table, ref.Column)
	}
	if !t.Extension && target.Extension {
		return fmt.Errorf("seed table references extension table %s", ref.Table)
	}
	if target.Class == ClassTruth && t.Class != ClassTruth {
		return fmt.Errorf("class %s table references hidden truth table %s", t.Class, ref.Table)
	}
	return nil
}

func checkBlob(b *Blob, byName map[string]*Table) error {
	parent := byName[b.Parent]
	if parent == nil {
		return fmt.Errorf("blob parent table %s does not exist", b.Parent)
	}
	if pk := parent.PrimaryKey(); len(pk) != 1 || pk[0] != b.Key {
		return fmt.Errorf("blob key %s is not the primary key of %s", b.Key, b.Parent)
	}
	u := parent.Column(b.URLColumn)
	if u == nil {
		return fmt.Errorf("blob url column %s.%s does not exist", b.Parent, b.URLColumn)
	}
	if u.Type.Kind != KindVarchar && u.Type.Kind != KindText {
		return fmt.Errorf("blob url column %s.%s is %s, want VARCHAR or TEXT", b.Parent, b.URLColumn, u.Type.SQL())
	}
	return nil
}

// isIdent accepts lowercase SQL identifiers, which need no case folding in
// either dialect and are safe as Hive path segments.
func isIdent(s string) bool {
	if s == "" || len(s) > 63 { // PostgreSQL truncates longer names
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch == '_':
		case ch >= '0' && ch <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// enumTypeName is the SQL type name of an enum column: <table>_<column>.
func enumTypeName(t *Table, c *Column) string { return t.Name + "_" + c.Name }
