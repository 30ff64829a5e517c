package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/battlake/battlake/schema"
)

// Mapping adapts an export whose names or units differ from the registry.
// It is a JSON file:
//
//	{
//	  "columns":  {"Timestamp": "ts", "Jar": "battery_code", "Cell V (mV)": "voltage_v"},
//	  "units":    {"voltage_v": "mV", "temperature_c": "F", "resistance_mohm": "uohm"},
//	  "timezone": "Asia/Bangkok",
//	  "ignore":   ["Comment"]
//	}
//
// columns renames source columns to target columns (or to a referenced
// table's code column, such as battery_code or string_code, which ingest
// resolves to the id through the lake's master data); units names the unit
// a source column is in, converted to the target column's unit (its name's
// suffix: _v volts, _mohm milliohms, _c degrees Celsius, _a amperes, _s
// siemens); timezone places timestamps that carry no offset; ignore lists
// source columns to drop without a warning.
type Mapping struct {
	Columns  map[string]string `json:"columns"`
	Units    map[string]string `json:"units"`
	TimeZone string            `json:"timezone"`
	Ignore   []string          `json:"ignore"`

	loc *time.Location
}

// LoadMapping reads and checks a mapping file against table t.
func LoadMapping(path string, t *schema.Table) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	m, err := ParseMapping(b, t)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return m, nil
}

// ParseMapping decodes a mapping and checks it against t.
func ParseMapping(b []byte, t *schema.Table) (*Mapping, error) {
	var m Mapping
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if m.TimeZone != "" {
		loc, err := time.LoadLocation(m.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("%w: timezone %q: %w", ErrConfig, m.TimeZone, err)
		}
		m.loc = loc
	}
	for col, unit := range m.Units {
		c := t.Column(col)
		if c == nil {
			return nil, fmt.Errorf("%w: units: table %s has no column %s", ErrConfig, t.Name, col)
		}
		if _, err := unitConversion(c, unit); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return &m, nil
}

// conv converts a source value to the target unit: v*scale + offset.
type conv struct {
	scale, offset float64
}

func (c conv) identity() bool { return c.scale == 1 && c.offset == 0 }

// unitConversion returns the conversion from unit to column c's unit.
func unitConversion(c *schema.Column, unit string) (conv, error) {
	if c.Type.Kind != schema.KindDecimal && c.Type.Kind != schema.KindDouble {
		return conv{}, fmt.Errorf("units: column %s is %s, not a measurement", c.Name, c.Type.SQL())
	}
	u := strings.ToLower(strings.TrimSpace(unit))
	u = strings.NewReplacer("°", "", "µ", "u", "μ", "u", "ω", "ohm", "Ω", "ohm").Replace(u)
	type table map[string]conv
	var tab table
	switch {
	case strings.HasSuffix(c.Name, "_mohm"):
		tab = table{"mohm": {1, 0}, "uohm": {1e-3, 0}, "ohm": {1e3, 0}}
	case strings.HasSuffix(c.Name, "_v"):
		tab = table{"v": {1, 0}, "mv": {1e-3, 0}, "kv": {1e3, 0}}
	case strings.HasSuffix(c.Name, "_c"):
		tab = table{"c": {1, 0}, "f": {5.0 / 9, -32 * 5.0 / 9}, "k": {1, -273.15}}
	case strings.HasSuffix(c.Name, "_a"):
		tab = table{"a": {1, 0}, "ma": {1e-3, 0}, "ka": {1e3, 0}}
	case strings.HasSuffix(c.Name, "_s"):
		tab = table{"s": {1, 0}, "ms": {1e-3, 0}}
	default:
		return conv{}, fmt.Errorf("units: column %s has no known unit", c.Name)
	}
	cv, ok := tab[u]
	if !ok {
		return conv{}, fmt.Errorf("units: column %s cannot be converted from %q", c.Name, unit)
	}
	return cv, nil
}
