package schema

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValueError says why a value does not fit a column. Writers turn it into a
// rejects row, so it names the table and column and quotes the value.
type ValueError struct {
	Table  string // "" for a column outside the registry
	Column string
	Value  string // rendered for humans: quoted strings, shortest floats
	Reason string // e.g. "does not fit DECIMAL(10,7)"
}

func (e *ValueError) Error() string {
	var b strings.Builder
	if e.Table != "" {
		b.WriteString("table ")
		b.WriteString(e.Table)
		b.WriteByte(' ')
	}
	b.WriteString("column ")
	b.WriteString(e.Column)
	b.WriteString(": value ")
	b.WriteString(e.Value)
	b.WriteByte(' ')
	b.WriteString(e.Reason)
	return b.String()
}

// maxQuotedRunes bounds the value quoted in an error; raw_record keeps the rest.
const maxQuotedRunes = 64

func (c *Column) valueError(value, reason string) error {
	return &ValueError{Table: c.table, Column: c.Name, Value: value, Reason: reason}
}

func quoteValue(v string) string {
	n := 0
	for i := range v {
		if n == maxQuotedRunes {
			return strconv.Quote(v[:i]) + "..."
		}
		n++
	}
	return strconv.Quote(v)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func (c *Column) kindError(value string, want Kind) error {
	return c.valueError(value, "cannot be checked as "+want.String()+": column is "+c.Type.SQL())
}

// CheckEnum reports whether v is in the column's ENUM domain (exact,
// case-sensitive match). It does not allocate when v is valid.
func (c *Column) CheckEnum(v string) error {
	if c.Type.Kind != KindEnum {
		return c.kindError(quoteValue(v), KindEnum)
	}
	// Domains have at most a dozen short values: a scan beats a map.
	for _, x := range c.Type.Values {
		if x == v {
			return nil
		}
	}
	return c.valueError(quoteValue(v), "is not one of "+c.Type.SQL())
}

// CheckVarchar reports whether v is valid UTF-8 (Parquet strings must be)
// and, for VARCHAR(n), at most n characters (runes) long. TEXT columns are
// checked for UTF-8 only. It does not allocate when v is valid.
func (c *Column) CheckVarchar(v string) error {
	k := c.Type.Kind
	if k != KindVarchar && k != KindText {
		return c.kindError(quoteValue(v), KindVarchar)
	}
	if !utf8.ValidString(v) {
		return c.valueError(quoteValue(v), "is not valid UTF-8")
	}
	// len(v) bytes >= runes, so short strings skip the count.
	if k == KindVarchar && len(v) > c.Type.Length {
		if n := utf8.RuneCountInString(v); n > c.Type.Length {
			return c.valueError(quoteValue(v), "is longer than "+c.Type.SQL()+" ("+strconv.Itoa(n)+" characters)")
		}
	}
	return nil
}

var pow10 = [...]int64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// pow10f are exact: every 10^k with k <= 22 is a float64.
var pow10f = [...]float64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// DecimalBounds returns the largest unscaled value a DECIMAL(p,s) column
// holds, 10^p - 1 (the smallest is its negation); 0 for other kinds.
func (c *Column) DecimalBounds() (maxUnscaled int64) {
	if c.Type.Kind != KindDecimal || c.Type.Precision < 1 || c.Type.Precision > MaxDecimalPrecision {
		return 0
	}
	return pow10[c.Type.Precision] - 1
}

// ScaleDecimal converts v to the column's unscaled decimal (v × 10^scale),
// rounding half away from zero. Ties are judged on the shortest decimal
// that reads back as v, so 2.675 becomes 268 at scale 2 as a person would
// expect, although the float64 nearest 2.675 is slightly below it. It fails
// for NaN, ±Inf and values with |unscaled| >= 10^precision, and does not
// allocate on success.
func (c *Column) ScaleDecimal(v float64) (int64, error) {
	t := &c.Type
	if t.Kind != KindDecimal || t.Precision < 1 || t.Precision > MaxDecimalPrecision || t.Scale < 0 || t.Scale > t.Precision {
		return 0, c.kindError(formatFloat(v), KindDecimal)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, c.valueError(formatFloat(v), "is not a finite number")
	}
	x := v * pow10f[t.Scale]
	limit := pow10f[t.Precision]
	// Out of range even before rounding; also keeps the integer math below
	// inside int64.
	if !(math.Abs(x) < limit+1) {
		return 0, c.overflow(v)
	}
	var u int64
	frac := math.Abs(x - math.Trunc(x))
	// x carries at most ~2.2e-16 relative error from v's binary
	// representation and the multiplication; only near a tie can that flip
	// the result, so only then pay for the exact decimal digits.
	if math.Abs(frac-0.5) <= math.Abs(x)*1e-15+1e-12 {
		u = roundShortest(v, t.Scale)
	} else {
		u = int64(math.Round(x))
	}
	if max := pow10[t.Precision]; u >= max || u <= -max {
		return 0, c.overflow(v)
	}
	return u, nil
}

func (c *Column) overflow(v float64) error {
	return c.valueError(formatFloat(v), "does not fit "+c.Type.SQL())
}

// roundShortest rounds v × 10^scale half away from zero using the shortest
// decimal digits that identify v. The caller guarantees the result fits an
// int64 comfortably (|v × 10^scale| < 10^18 + 1).
func roundShortest(v float64, scale int) int64 {
	var buf [32]byte
	// Shortest form "d.ddde±XX": at most 17 digits, so it fits buf.
	s := strconv.AppendFloat(buf[:0], math.Abs(v), 'e', -1, 64)
	e := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == 'e' {
			for _, ch := range s[i+2:] { // skip 'e' and the sign
				e = e*10 + int(ch-'0')
			}
			if s[i+1] == '-' {
				e = -e
			}
			s = s[:i]
			break
		}
	}
	// Collect the mantissa digits; digit i has weight 10^(e-i) in v, so
	// 10^(e-i+scale) in the scaled value.
	var digits [20]byte
	n := 0
	for _, ch := range s {
		if ch >= '0' && ch <= '9' && n < len(digits) {
			digits[n] = ch - '0'
			n++
		}
	}
	last := e + scale // index of the units digit of the scaled value
	var u int64
	for i := 0; i <= last; i++ {
		d := int64(0)
		if i < n {
			d = int64(digits[i])
		}
		u = u*10 + d
	}
	if r := last + 1; r >= 0 && r < n && digits[r] >= 5 {
		u++
	}
	if v < 0 {
		u = -u
	}
	return u
}
