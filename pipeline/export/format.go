package export

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Hand-rolled value formatting: each helper appends to a reused buffer, so
// a row costs no allocation. The text is the CSV contract's (see doc.go).

const hexDigits = "0123456789abcdef"

// appendUUID appends the canonical 8-4-4-4-12 lowercase form.
func appendUUID(dst []byte, id []byte) []byte {
	for i, b := range id[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse); time.Time would cost a
// division chain and a zone lookup per value.
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

// appendDate appends YYYY-MM-DD for days since the epoch.
func appendDate(dst []byte, days int64) []byte {
	y, m, d := civil(days)
	if y >= 0 && y <= 9999 {
		dst = append2(dst, int(y/100))
		dst = append2(dst, int(y%100))
	} else {
		dst = strconv.AppendInt(dst, y, 10)
	}
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

const usPerDay = 86_400_000_000

// appendTimestamp appends RFC 3339 in UTC (suffix Z) for microseconds since
// the epoch, with sub-second digits only when non-zero (trailing zeros
// trimmed, as time.RFC3339Nano does).
func appendTimestamp(dst []byte, us int64) []byte { return append(appendWallClock(dst, us), 'Z') }

// appendWallClock is appendTimestamp without the zone: a TIMESTAMP column
// holds a wall-clock reading, not an instant.
func appendWallClock(dst []byte, us int64) []byte {
	days := us / usPerDay
	rem := us % usPerDay
	if rem < 0 {
		days--
		rem += usPerDay
	}
	dst = appendDate(dst, days)
	sec := rem / 1_000_000
	frac := int(rem % 1_000_000)
	dst = append(dst, 'T')
	dst = append2(dst, int(sec/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(sec/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(sec%60))
	if frac != 0 {
		var digits [6]byte
		for i := 5; i >= 0; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 6
		for digits[n-1] == '0' {
			n--
		}
		dst = append(dst, '.')
		dst = append(dst, digits[:n]...)
	}
	return dst
}

// appendDecimal appends an unscaled value at scale as plain decimal text
// with exactly scale fractional digits (13621 at scale 3 is 13.621). One
// backward pass over a stack buffer: decimals are most of telemetry's
// fields.
func appendDecimal(dst []byte, unscaled int64, scale int) []byte {
	var buf [48]byte
	i := len(buf)
	u := uint64(unscaled)
	if unscaled < 0 {
		u = -u // two's complement: also right for MinInt64
	}
	if scale > 0 {
		for range scale {
			i--
			buf[i] = byte('0' + u%10)
			u /= 10
		}
		i--
		buf[i] = '.'
	}
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if unscaled < 0 {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}

// appendText appends s as one CSV field, quoted by encoding/csv's rules
// (delimiter, quote, CR or LF inside, a leading space, or `\.`) and also
// when empty: an unquoted empty field is NULL in this contract, so an empty
// string must be told apart.
func appendText(dst []byte, s []byte) []byte {
	if !needsQuotes(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		i := indexByte(s, '"')
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, '"')
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

func indexByte(s []byte, c byte) int {
	for i, b := range s {
		if b == c {
			return i
		}
	}
	return -1
}

func needsQuotes(s []byte) bool {
	if len(s) == 0 || (len(s) == 2 && s[0] == '\\' && s[1] == '.') {
		return true
	}
	for _, b := range s {
		if b == ',' || b == '"' || b == '\n' || b == '\r' {
			return true
		}
	}
	r, _ := utf8.DecodeRune(s)
	return unicode.IsSpace(r)
}
