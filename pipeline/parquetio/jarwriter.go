package parquetio

import (
	"fmt"
	"io"
	"slices"
	"unsafe"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// fastWriter is a table's own page writer (colWriter) behind TypedWriter.
type fastWriter interface {
	write(rows any) error
	close() error
}

// newFastWriter returns the page writer of table t for row type T, or nil
// when T goes through parquet-go.
func newFastWriter[T any](w io.Writer, t *schema.Table, s *parquet.Schema, extra []parquet.WriterOption) (fastWriter, error) {
	switch any((*T)(nil)).(type) {
	case *JarRawRow, *JarRawNullableRow:
		if t.Name == "telemetry_jar_raw" {
			return newJarWriter(w, t, s, extra, len(jarOffsets))
		}
	case *JarCalcRow:
		if t.Name == "telemetry_jar_calc" {
			return newJarWriter(w, t, s, extra, len(jarCalcOffsets))
		}
	case *StringRawRow:
		if t.Name == "telemetry_string_raw" && enumsFitIndex(t) {
			return newStringWriter(w, t, s, extra)
		}
	case *TruthDailyRow:
		if t.Name == "truth_battery_daily" {
			return newTruthWriter(w, t, s, extra)
		}
	}
	return nil, nil
}

// enumsFitIndex reports whether every enum value of t fits a column index
// entry whole (parquet-go truncates longer bounds there; the enum column
// writes them whole).
func enumsFitIndex(t *schema.Table) bool {
	for _, c := range t.Columns {
		for _, v := range c.Type.Values {
			if len(v) > parquet.DefaultColumnIndexSizeLimit {
				return false
			}
		}
	}
	return true
}

// jarWriter writes telemetry_jar_raw: the lake's largest table, so its rows
// are copied column by column in tight loops.
type jarWriter struct {
	*colWriter
	ts  int64Column
	ids uuidColumn
	opt []int32Column // the optional decimals, in column order
}

// newJarWriter writes a table of (ts, battery_id, nOpt optional decimals).
func newJarWriter(w io.Writer, t *schema.Table, s *parquet.Schema, extra []parquet.WriterOption, nOpt int) (*jarWriter, error) {
	jw := &jarWriter{opt: make([]int32Column, nOpt)}
	cols := []column{&jw.ts, &jw.ids}
	for k := range jw.opt {
		cols = append(cols, &jw.opt[k])
	}
	cw, err := newColWriter(w, t, s, extra, cols...)
	if err != nil {
		return nil, err
	}
	jw.colWriter = cw
	return jw, nil
}

func (jw *jarWriter) write(rows any) error {
	switch r := rows.(type) {
	case []JarRawRow:
		return writeJarRows(jw, r, jarOffsets[:], false)
	case []JarRawNullableRow:
		return writeJarRows(jw, r, jarNullableOffsets[:], true)
	case []JarCalcRow:
		return writeJarRows(jw, r, jarCalcOffsets, false)
	}
	return fmt.Errorf("jar writer: rows of type %T", rows)
}

// jarRowType is a row type the jar writer takes: JarRawRow and JarCalcRow
// (zero is NULL) or JarRawNullableRow (nil is NULL, zero a reading). All
// start with TS and BatteryID; their optional decimals are read at their
// offsets.
type jarRowType interface {
	JarRawRow | JarRawNullableRow | JarCalcRow
}

var (
	jarOffsets = [4]uintptr{unsafe.Offsetof(JarRawRow{}.VoltageV), unsafe.Offsetof(JarRawRow{}.TemperatureC),
		unsafe.Offsetof(JarRawRow{}.ResistanceMOhm), unsafe.Offsetof(JarRawRow{}.ConductanceS)}
	jarCalcOffsets     = []uintptr{unsafe.Offsetof(JarCalcRow{}.SOCPct), unsafe.Offsetof(JarCalcRow{}.SOHPct)}
	jarNullableOffsets = [4]uintptr{unsafe.Offsetof(JarRawNullableRow{}.VoltageV), unsafe.Offsetof(JarRawNullableRow{}.TemperatureC),
		unsafe.Offsetof(JarRawNullableRow{}.ResistanceMOhm), unsafe.Offsetof(JarRawNullableRow{}.ConductanceS)}
)

// A compile-time check of the prefix writeJarRows reads through unsafe
// pointers: TS at offset 0 and BatteryID at the same offset in both types
// (the index is out of range otherwise).
var _ = [1]struct{}{}[unsafe.Offsetof(JarRawRow{}.TS)+unsafe.Offsetof(JarRawNullableRow{}.TS)+unsafe.Offsetof(JarCalcRow{}.TS)+
	(unsafe.Offsetof(JarRawRow{}.BatteryID)^unsafe.Offsetof(JarRawNullableRow{}.BatteryID))+
	(unsafe.Offsetof(JarRawRow{}.BatteryID)^unsafe.Offsetof(JarCalcRow{}.BatteryID))]

// writeJarRows appends rows column by column, a page's worth at a time:
// the optional decimals at offs (pointers when nullable).
func writeJarRows[R jarRowType](jw *jarWriter, rows []R, offs []uintptr, nullable bool) error {
	if len(offs) != len(jw.opt) {
		return fmt.Errorf("jar writer: %d optional columns, rows of %T have %d", len(jw.opt), rows, len(offs))
	}
	idOff := unsafe.Offsetof(JarRawRow{}.BatteryID)
	for len(rows) > 0 {
		n := min(len(rows), jw.room())
		chunk := rows[:n]
		rows = rows[n:]
		base := len(jw.ts.vals)
		jw.ts.vals = slices.Grow(jw.ts.vals, n)[:base+n]
		for i, ts := 0, jw.ts.vals[base:]; i < len(chunk) && i < len(ts); i++ {
			ts[i] = *(*int64)(unsafe.Pointer(&chunk[i]))
		}
		ids := &jw.ids
		ids.idx = slices.Grow(ids.idx, n)[:base+n]
		for i, idx := 0, ids.idx[base:]; i < len(chunk) && i < len(idx); i++ {
			idx[i] = ids.index((*[16]byte)(unsafe.Add(unsafe.Pointer(&chunk[i]), idOff)), i+base == 0)
		}
		for k := range jw.opt {
			if nullable {
				addPtrs(&jw.opt[k], chunk, offs[k])
			} else {
				addInts(&jw.opt[k], chunk, offs[k])
			}
		}
		if err := jw.added(n); err != nil {
			return err
		}
	}
	return nil
}

// addInts appends the int32 field at offset off of every row; 0 is NULL.
func addInts[R jarRowType](c *int32Column, rows []R, off uintptr) {
	if c.lv.lvl == nil {
		// no NULL in the page yet: values in place until the first one
		base := len(c.vals)
		c.vals = slices.Grow(c.vals, len(rows))[:base+len(rows)]
		dst := c.vals[base:]
		for i := 0; i < len(rows) && i < len(dst); i++ {
			v := *(*int32)(unsafe.Add(unsafe.Pointer(&rows[i]), off))
			if v == 0 {
				c.vals = c.vals[:base+i]
				c.lv.present += i
				rows = rows[i:]
				goto levels
			}
			dst[i] = v
		}
		c.lv.present += len(rows)
		return
	}
levels:
	for i := range rows {
		if v := *(*int32)(unsafe.Add(unsafe.Pointer(&rows[i]), off)); v != 0 {
			c.vals = append(c.vals, v)
			c.lv.add(true)
		} else {
			c.lv.add(false)
		}
	}
}

// addPtrs appends the *int32 field at offset off of every row; nil is NULL.
func addPtrs[R jarRowType](c *int32Column, rows []R, off uintptr) {
	for i := range rows {
		c.add(*(**int32)(unsafe.Add(unsafe.Pointer(&rows[i]), off)))
	}
}

// stringWriter writes telemetry_string_raw.
type stringWriter struct {
	*colWriter
	ts                  int64Column
	ids                 uuidColumn
	volt, cur, rv, ra   int32Column
	mode                enumColumn
	equalize, gen, xfer boolColumn
}

func newStringWriter(w io.Writer, t *schema.Table, s *parquet.Schema, extra []parquet.WriterOption) (*stringWriter, error) {
	sw := &stringWriter{}
	cw, err := newColWriter(w, t, s, extra, &sw.ts, &sw.ids, &sw.volt, &sw.cur, &sw.mode, &sw.rv, &sw.ra, &sw.equalize, &sw.gen, &sw.xfer)
	if err != nil {
		return nil, err
	}
	sw.colWriter = cw
	return sw, nil
}

func (sw *stringWriter) write(rows any) error {
	r, ok := rows.([]StringRawRow)
	if !ok {
		return fmt.Errorf("string writer: rows of type %T", rows)
	}
	for i := range r {
		row := &r[i]
		sw.ts.vals = append(sw.ts.vals, row.TS)
		sw.ids.add(&row.StringID, sw.n == 0)
		sw.volt.add(row.VoltageV)
		sw.cur.add(row.CurrentA)
		sw.mode.add(row.Mode)
		sw.rv.add(row.RippleVoltageRMSV)
		sw.ra.add(row.RippleCurrentRMSA)
		sw.equalize.add(row.EqualizeFlag)
		sw.gen.add(row.GeneratorTestFlag)
		sw.xfer.add(row.TransferEventFlag)
		if err := sw.added(1); err != nil {
			return err
		}
	}
	return nil
}

// truthWriter writes truth_battery_daily: 5.7 M rows on a lake's first run.
type truthWriter struct {
	*colWriter
	day, soh, capAh, res, rul int32Column
	ids                       uuidColumn
}

func newTruthWriter(w io.Writer, t *schema.Table, s *parquet.Schema, extra []parquet.WriterOption) (*truthWriter, error) {
	tw := &truthWriter{}
	cw, err := newColWriter(w, t, s, extra, &tw.day, &tw.ids, &tw.soh, &tw.capAh, &tw.res, &tw.rul)
	if err != nil {
		return nil, err
	}
	tw.colWriter = cw
	return tw, nil
}

func (tw *truthWriter) write(rows any) error {
	r, ok := rows.([]TruthDailyRow)
	if !ok {
		return fmt.Errorf("truth writer: rows of type %T", rows)
	}
	for len(r) > 0 {
		n := min(len(r), tw.room())
		for i := range r[:n] {
			row := &r[i]
			tw.day.vals = append(tw.day.vals, row.Day)
			tw.ids.add(&row.BatteryID, tw.n+i == 0)
			tw.soh.vals = append(tw.soh.vals, row.SOHPct)
			tw.capAh.vals = append(tw.capAh.vals, row.CapacityAh)
			tw.res.vals = append(tw.res.vals, row.ResistanceMOhm)
			tw.rul.vals = append(tw.rul.vals, row.RULDays)
		}
		r = r[n:]
		if err := tw.added(n); err != nil {
			return err
		}
	}
	return nil
}
