package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Version is the table's schema version recorded in manifests: the first
// 12 hex digits of the SHA-256 of a canonical rendering of what a reader of
// the data depends on — column names, order, types, nullability and the
// file layout. Descriptions, methods, indexes and encoding hints are left
// out so that documentation edits do not invalidate data already written.
func (t *Table) Version() string {
	sum := sha256.Sum256([]byte(t.canonical()))
	return hex.EncodeToString(sum[:6])
}

func (t *Table) canonical() string {
	var b strings.Builder
	b.WriteString("table ")
	b.WriteString(t.Name)
	b.WriteByte('\n')
	for _, c := range t.Columns {
		b.WriteString("column ")
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.Kind.String())
		switch c.Type.Kind {
		case KindDecimal:
			b.WriteString("(" + strconv.Itoa(c.Type.Precision) + "," + strconv.Itoa(c.Type.Scale) + ")")
		case KindVarchar:
			b.WriteString("(" + strconv.Itoa(c.Type.Length) + ")")
		case KindEnum:
			// Quoted so that no value can imitate a separator.
			b.WriteByte('(')
			for i, v := range c.Type.Values {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Quote(v))
			}
			b.WriteByte(')')
		}
		if c.NotNull {
			b.WriteString(" not null")
		}
		b.WriteByte('\n')
	}
	p := t.Partition
	b.WriteString("partition month=" + p.MonthOf + " bucket=" + p.BucketOf + "/" + strconv.Itoa(p.Buckets) + "\n")
	if t.blob != nil {
		b.WriteString("blob " + t.blob.Parent + "." + t.blob.Key + "\n")
	}
	return b.String()
}
