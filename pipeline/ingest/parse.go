package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Reason codes of rejects (the prefix of rejects.reason and the keys of
// Summary.ByReason).
const (
	ReasonType          = "wrong_type"        // text that does not parse as the column's type
	ReasonNotNull       = "not_null"          // empty field in a NOT NULL column
	ReasonEnum          = "unknown_enum"      // not in the ENUM domain
	ReasonDecimal       = "decimal_overflow"  // more digits than DECIMAL(p,s) holds (never rounded)
	ReasonNaN           = "nan"               // NaN or infinity
	ReasonRange         = "out_of_range"      // outside the column's physical range (schema.Column.Range)
	ReasonReference     = "unknown_reference" // foreign key or code not in the lake's master data
	ReasonDuplicate     = "duplicate_key"     // primary key repeated in the input, or held by another partition of the lake
	ReasonTimeZone      = "bad_timezone"      // offset malformed or missing without a mapping time zone
	ReasonTruncated     = "truncated"         // last record cut short (no final newline, fields or quote missing)
	ReasonFieldCount    = "field_count"       // a record with more or fewer fields than the header
	ReasonMissingColumn = "missing_column"    // the file has no column for a required target column
	ReasonMalformed     = "malformed_csv"     // bad quoting
	ReasonText          = "bad_text"          // invalid UTF-8, VARCHAR too long, invalid JSON
	ReasonWindow        = "outside_window"    // partition time outside the load's window or the lake's range
)

// fieldError is one rejected value.
type fieldError struct {
	reason string
	msg    string
}

func ferr(reason, format string, a ...any) *fieldError {
	return &fieldError{reason: reason, msg: fmt.Sprintf(format, a...)}
}

// quote renders a field for a message, bounded.
func quote(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "..."
	}
	return strconv.Quote(string(b))
}

var pow10 = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// parseDecimal reads plain decimal text into an unscaled integer at scale,
// rejecting (never rounding) digits beyond DECIMAL(p,s).
func parseDecimal(b []byte, p, s int) (int64, *fieldError) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	var u int64
	intDigits, fracDigits, digits := 0, 0, 0
	seenDot := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if !seenDot {
				if u == 0 && c == '0' {
					continue // leading zeros
				}
				intDigits++
				if intDigits > p-s {
					return 0, ferr(ReasonDecimal, "value %s has more than %d integer digits: does not fit DECIMAL(%d,%d)", quote(b), p-s, p, s)
				}
				u = u*10 + int64(c-'0')
				continue
			}
			fracDigits++
			if fracDigits > s {
				if c != '0' {
					return 0, ferr(ReasonDecimal, "value %s has more than %d decimal places: does not fit DECIMAL(%d,%d) (not rounded)", quote(b), s, p, s)
				}
				continue
			}
			u = u*10 + int64(c-'0')
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return parseDecimalSlow(b, p, s)
		}
	}
	if digits == 0 {
		return 0, ferr(ReasonType, "value %s is not a decimal number", quote(b))
	}
	u *= pow10[s-min(fracDigits, s)]
	if neg {
		u = -u
	}
	return u, nil
}

// parseDecimalSlow handles what the fast path does not: NaN, infinities
// and exponents (accepted when exact at the scale).
func parseDecimalSlow(b []byte, p, s int) (int64, *fieldError) {
	f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, ferr(ReasonDecimal, "value %s does not fit DECIMAL(%d,%d)", quote(b), p, s)
		}
		return 0, ferr(ReasonType, "value %s is not a decimal number", quote(b))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, ferr(ReasonNaN, "value %s is not a finite number", quote(b))
	}
	x := f * float64(pow10[s])
	if math.Abs(x) >= float64(pow10[p]) {
		return 0, ferr(ReasonDecimal, "value %s does not fit DECIMAL(%d,%d)", quote(b), p, s)
	}
	u := math.Round(x)
	if math.Abs(x-u) > 1e-6*math.Max(1, math.Abs(x)) {
		return 0, ferr(ReasonDecimal, "value %s has more than %d decimal places: does not fit DECIMAL(%d,%d) (not rounded)", quote(b), s, p, s)
	}
	return int64(u), nil
}

func parseInt(b []byte, bits int) (int64, *fieldError) {
	if len(b) == 0 || len(b) > 20 {
		return 0, ferr(ReasonType, "value %s is not an integer", quote(b))
	}
	i, neg := 0, false
	if b[0] == '-' || b[0] == '+' {
		neg, i = b[0] == '-', 1
	}
	if i == len(b) {
		return 0, ferr(ReasonType, "value %s is not an integer", quote(b))
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, ferr(ReasonType, "value %s is not an integer", quote(b))
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, ferr(ReasonType, "value %s overflows a %d-bit integer", quote(b), bits)
		}
		u = u*10 + uint64(c-'0')
	}
	lim := uint64(1) << (bits - 1)
	if (!neg && u >= lim) || (neg && u > lim) {
		return 0, ferr(ReasonType, "value %s overflows a %d-bit integer", quote(b), bits)
	}
	if neg {
		return -int64(u), nil
	}
	return int64(u), nil
}

func parseBool(b []byte) (int64, *fieldError) {
	switch strings.ToLower(string(b)) {
	case "true", "t", "1", "yes":
		return 1, nil
	case "false", "f", "0", "no":
		return 0, nil
	}
	return 0, ferr(ReasonType, "value %s is not a boolean (true or false)", quote(b))
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func parseUUID(b []byte) ([16]byte, *fieldError) {
	var u [16]byte
	if len(b) == 36 && b[8] == '-' && b[13] == '-' && b[18] == '-' && b[23] == '-' {
		j := 0
		for i := 0; i < 36; {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				i++
				continue
			}
			h, ok1 := hexVal(b[i])
			l, ok2 := hexVal(b[i+1])
			if !ok1 || !ok2 {
				return u, ferr(ReasonType, "value %s is not a UUID", quote(b))
			}
			u[j] = h<<4 | l
			j++
			i += 2
		}
		return u, nil
	}
	x, err := uuid.ParseBytes(b)
	if err != nil {
		return u, ferr(ReasonType, "value %s is not a UUID", quote(b))
	}
	return x, nil
}

func digits(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// daysFromCivil is the days since 1970-01-01 of a proleptic Gregorian date
// (H. Hinnant's algorithm): no time.Date on the hot path.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func parseDate(b []byte) (int64, *fieldError) {
	y, ok1 := digits(b, 4)
	if len(b) != 10 || !ok1 || b[4] != '-' || b[7] != '-' {
		return 0, ferr(ReasonType, "value %s is not a date (YYYY-MM-DD)", quote(b))
	}
	m, ok2 := digits(b[5:], 2)
	d, ok3 := digits(b[8:], 2)
	if !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, ferr(ReasonType, "value %s is not a valid date", quote(b))
	}
	return daysFromCivil(y, m, d), nil
}

// parseTimestamp reads RFC 3339 text (T or space between date and time)
// into microseconds since the epoch. wall: the column is TIMESTAMP (wall
// clock): any offset is ignored. Without an offset, loc (the mapping's
// time zone) places the wall clock; with no loc that is a bad_timezone
// reject for TIMESTAMPTZ.
func parseTimestamp(b []byte, wall bool, loc *time.Location) (int64, *fieldError) {
	bad := func() (int64, *fieldError) {
		return 0, ferr(ReasonType, "value %s is not an RFC 3339 timestamp", quote(b))
	}
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return bad()
	}
	y, ok1 := digits(b, 4)
	mo, ok2 := digits(b[5:], 2)
	d, ok3 := digits(b[8:], 2)
	h, ok4 := digits(b[11:], 2)
	mi, ok5 := digits(b[14:], 2)
	s, ok6 := digits(b[17:], 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59 {
		return bad()
	}
	rest := b[19:]
	var micros int64
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if n <= 6 {
				micros = micros*10 + int64(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return bad()
		}
		for k := n; k <= 6; k++ {
			micros *= 10
		}
		rest = rest[n:]
	}
	local := (daysFromCivil(y, mo, d)*86400+int64(h*3600+mi*60+s))*1e6 + micros
	switch {
	case len(rest) == 0:
		if wall {
			return local, nil
		}
		if loc == nil {
			return 0, ferr(ReasonTimeZone, "timestamp %s has no offset and the mapping names no time zone", quote(b))
		}
		t := time.Date(y, time.Month(mo), d, h, mi, s, int(micros)*1000, loc)
		return t.UnixMicro(), nil
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		return local, nil
	case rest[0] == '+' || rest[0] == '-':
		oh, okh := digits(rest[1:], 2)
		om := 0
		okm := true
		switch len(rest) {
		case 3:
		case 5:
			om, okm = digits(rest[3:], 2)
		case 6:
			if rest[3] != ':' {
				okm = false
			}
			om, okm = digits(rest[4:], 2)
		default:
			okm = false
		}
		if !okh || !okm || oh > 14 || om > 59 {
			return 0, ferr(ReasonTimeZone, "timestamp %s has a malformed or impossible UTC offset", quote(b))
		}
		if wall {
			return local, nil
		}
		off := int64(oh*3600+om*60) * 1e6
		if rest[0] == '-' {
			off = -off
		}
		return local - off, nil
	}
	return 0, ferr(ReasonTimeZone, "timestamp %s: unknown time zone designator %s (want Z or ±HH:MM)", quote(b), quote(rest))
}

// parseValue converts one non-empty field into v for column c.
func parseValue(c *schema.Column, b []byte, loc *time.Location, v *val) *fieldError {
	switch c.Type.Kind {
	case schema.KindUUID:
		u, e := parseUUID(b)
		v.u = u
		return e
	case schema.KindDecimal:
		u, e := parseDecimal(b, c.Type.Precision, c.Type.Scale)
		v.i = u
		return e
	case schema.KindTimestamptz, schema.KindTimestamp:
		x, e := parseTimestamp(b, c.Type.Kind == schema.KindTimestamp, loc)
		v.i = x
		return e
	case schema.KindDate:
		x, e := parseDate(b)
		v.i = x
		return e
	case schema.KindInt:
		x, e := parseInt(b, 32)
		v.i = x
		return e
	case schema.KindBigInt:
		x, e := parseInt(b, 64)
		v.i = x
		return e
	case schema.KindBoolean:
		x, e := parseBool(b)
		v.i = x
		return e
	case schema.KindDouble:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return ferr(ReasonType, "value %s is not a number", quote(b))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return ferr(ReasonNaN, "value %s is not a finite number", quote(b))
		}
		v.f = f
		return nil
	case schema.KindEnum:
		for _, x := range c.Type.Values {
			if x == string(b) {
				v.b = b
				return nil
			}
		}
		return ferr(ReasonEnum, "value %s is not one of %s", quote(b), c.Type.SQL())
	case schema.KindVarchar, schema.KindText:
		if !utf8.Valid(b) {
			return ferr(ReasonText, "value %s is not valid UTF-8", quote(b))
		}
		if c.Type.Kind == schema.KindVarchar && len(b) > c.Type.Length {
			if n := utf8.RuneCount(b); n > c.Type.Length {
				return ferr(ReasonText, "value %s is longer than %s (%d characters)", quote(b), c.Type.SQL(), n)
			}
		}
		v.b = b
		return nil
	case schema.KindJSON:
		if !json.Valid(b) {
			return ferr(ReasonText, "value %s is not valid JSON", quote(b))
		}
		v.b = b
		return nil
	}
	return ferr(ReasonType, "column type %s cannot be ingested", c.Type.SQL())
}

// decimalFloat is an unscaled decimal as a float, for range checks.
func decimalFloat(u int64, scale int) float64 { return float64(u) / float64(pow10[scale]) }

// unscaledRange is a DECIMAL column's physical range as unscaled integers:
// lo <= u <= hi exactly when r.Contains(decimalFloat(u, scale)), so the
// hot path compares integers instead of dividing.
type unscaledRange struct {
	ok     bool
	lo, hi int64
}

func newUnscaledRange(c *schema.Column) unscaledRange {
	r := c.Range
	if r == nil || c.Type.Kind != schema.KindDecimal {
		return unscaledRange{}
	}
	s := c.Type.Scale
	p := float64(pow10[s])
	if math.IsInf(r.Min, 0) || math.IsInf(r.Max, 0) || math.Abs(r.Min*p) > 1e17 || math.Abs(r.Max*p) > 1e17 {
		return unscaledRange{}
	}
	in := func(u int64) bool { return r.Contains(decimalFloat(u, s)) }
	// decimalFloat is monotonic in u: step from just outside each bound.
	lo := int64(math.Floor(r.Min*p)) - 2
	for !in(lo) {
		if lo++; lo > int64(math.Ceil(r.Min*p))+2 {
			return unscaledRange{}
		}
	}
	hi := int64(math.Ceil(r.Max*p)) + 2
	for !in(hi) {
		if hi--; hi < int64(math.Floor(r.Max*p))-2 {
			return unscaledRange{}
		}
	}
	if in(lo-1) || in(hi+1) {
		return unscaledRange{}
	}
	return unscaledRange{ok: true, lo: lo, hi: hi}
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func fmtMicros(us int64) string { return time.UnixMicro(us).UTC().Format(time.RFC3339Nano) }

func (e *engine) window() string {
	return "[" + fmtMicros(e.lo) + ", " + fmtMicros(e.hi) + ")"
}
