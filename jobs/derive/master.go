package derive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/battlake/battlake/jobs/features"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Master is the master data derived jobs read from the lake (never from
// the synthesizer's fleet): what an operator's asset register holds.
type Master struct {
	Batteries []Battery // sorted by id
	Strings   map[uuid.UUID]*String
	Models    map[uuid.UUID]*Model
	Systems   map[uuid.UUID]*System
	// RoomSensor maps a string to the temperature sensor of its battery
	// room (see roomSensors).
	RoomSensor map[uuid.UUID]uuid.UUID
	battery    map[uuid.UUID]int

	// dayText holds each jar's part of DayInput's digest, formatted once:
	// formatting every jar for every day was most of the twin's plan
	// (4.4 s of CPU over a 15-month history).
	dayTextOnce sync.Once
	dayText     [][]byte
}

// Battery is one jar of the battery table.
type Battery struct {
	ID, StringID, ModelID uuid.UUID
	Position              int
	Installed             time.Time // zero when NULL
	InitialCapacityAh     float64   // 0 when NULL
	InitialResistanceMOhm float64   // 0 when NULL
}

// String is one string of the string table.
type String struct {
	ID, SystemID   uuid.UUID
	BatteriesCount int
}

// Model is one battery_model row.
type Model struct {
	ID                     uuid.UUID
	NominalV, CapacityAh   float64
	FloatMinV, FloatMaxV   float64
	TempWarnC, TempCritC   float64
	ExpectedLifeYears      float64
	BoostMinV, BoostMaxV   float64
	MaxChargeCurrentAmpere float64
}

// System is one battery_system row.
type System struct{ ID, LocationID uuid.UUID }

// Battery returns the jar with id.
func (m *Master) Battery(id uuid.UUID) (*Battery, bool) {
	i, ok := m.battery[id]
	if !ok {
		return nil, false
	}
	return &m.Batteries[i], true
}

// ModelOf returns the model of jar b.
func (m *Master) ModelOf(b *Battery) (*Model, error) {
	md, ok := m.Models[b.ModelID]
	if !ok {
		return nil, fmt.Errorf("battery %s: model %s not in battery_model", b.ID, b.ModelID)
	}
	return md, nil
}

// DayInput is the lineage of the master rows that matter to one day of
// the jars in keep (nil: all): the jars installed by the end of the day
// with their string, model, baseline and room sensor. Status, removal and
// later replacements are not in it, so the daily as-of rewrite of the
// master snapshot does not make every derived day stale.
func (m *Master) DayInput(day time.Time, keep func(*Battery) bool) lake.Input {
	end := day.AddDate(0, 0, 1)
	m.dayTextOnce.Do(func() {
		m.dayText = make([][]byte, len(m.Batteries))
		for i := range m.Batteries {
			b := &m.Batteries[i]
			parts := []any{b.ID, b.StringID, b.Position, b.InitialCapacityAh, b.InitialResistanceMOhm, m.RoomSensor[b.StringID]}
			if md := m.Models[b.ModelID]; md != nil {
				parts = append(parts, *md)
			}
			var t []byte
			for _, p := range parts {
				t = fmt.Appendf(t, "%v\x00", p) // as Digest writes each part
			}
			m.dayText[i] = t
		}
	})
	h := sha256.New()
	for i := range m.Batteries {
		b := &m.Batteries[i]
		if (keep != nil && !keep(b)) || (!b.Installed.IsZero() && !b.Installed.Before(end)) {
			continue
		}
		h.Write(m.dayText[i])
	}
	return lake.Input{Table: "master", Partition: "", Segment: day.Format(time.DateOnly), SHA256: hex.EncodeToString(h.Sum(nil))}
}

// DayInputs is DayInput for every day at once: a chain over the jars in
// keep by install date (one pass), for jobs that plan many days. Its
// digests differ from DayInput's but identify the same rows.
func (m *Master) DayInputs(keep func(*Battery) bool) func(day time.Time) lake.Input {
	rows := make([]ChainRow, 0, len(m.Batteries))
	for i := range m.Batteries {
		b := &m.Batteries[i]
		if keep != nil && !keep(b) {
			continue
		}
		at := int64(math.MinInt64)
		if !b.Installed.IsZero() {
			at = b.Installed.UnixMicro()
		}
		parts := []any{b.ID, b.StringID, b.Position, b.InitialCapacityAh, b.InitialResistanceMOhm, m.RoomSensor[b.StringID]}
		if md := m.Models[b.ModelID]; md != nil {
			parts = append(parts, *md)
		}
		rows = append(rows, ChainRow{At: at, Key: RowKey(parts...)})
	}
	c := NewDayChain("master", rows)
	return func(day time.Time) lake.Input { return c.Input(day, day.AddDate(0, 0, 1)) }
}

// LoadMaster reads the master tables the derived jobs need.
func LoadMaster(ctx context.Context, l *lake.Lake) (*Master, error) {
	m := &Master{Strings: map[uuid.UUID]*String{}, Models: map[uuid.UUID]*Model{}, Systems: map[uuid.UUID]*System{}, battery: map[uuid.UUID]int{}}
	if err := eachMasterSlice(ctx, l, "battery", []string{"battery_id", "string_id", "model_id", "position_in_string", "installed_date", "initial_capacity_ah", "initial_resistance_mohm"}, func(b *parquetio.SliceBatch) error {
		c := b.Cols
		for i := 0; i < b.Rows; i++ {
			m.Batteries = append(m.Batteries, Battery{
				ID: c[0].UUID[i], StringID: c[1].UUID[i], ModelID: c[2].UUID[i], Position: int(c[3].Int32[i]),
				Installed: date(&c[4], i), InitialCapacityAh: dec32(&c[5], i, 2), InitialResistanceMOhm: dec32(&c[6], i, 3),
			})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	sort.Slice(m.Batteries, func(i, j int) bool { return lessUUID(m.Batteries[i].ID, m.Batteries[j].ID) })
	for i, b := range m.Batteries {
		m.battery[b.ID] = i
	}
	if err := eachMasterSlice(ctx, l, "string", []string{"string_id", "system_id", "batteries_count"}, func(b *parquetio.SliceBatch) error {
		c := b.Cols
		for i := 0; i < b.Rows; i++ {
			m.Strings[c[0].UUID[i]] = &String{ID: c[0].UUID[i], SystemID: c[1].UUID[i], BatteriesCount: int(c[2].Int32[i])}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := eachMasterSlice(ctx, l, "battery_model", []string{"model_id", "nominal_voltage_v", "capacity_ah", "float_voltage_min_v", "float_voltage_max_v",
		"temp_warning_c", "temp_critical_c", "expected_life_years", "boost_voltage_min_v", "boost_voltage_max_v", "max_charge_current_a"}, func(b *parquetio.SliceBatch) error {
		c := b.Cols
		for i := 0; i < b.Rows; i++ {
			m.Models[c[0].UUID[i]] = &Model{ID: c[0].UUID[i], NominalV: dec32(&c[1], i, 2), CapacityAh: dec32(&c[2], i, 2),
				FloatMinV: dec32(&c[3], i, 2), FloatMaxV: dec32(&c[4], i, 2), TempWarnC: dec32(&c[5], i, 1), TempCritC: dec32(&c[6], i, 1),
				ExpectedLifeYears: dec32(&c[7], i, 1), BoostMinV: dec32(&c[8], i, 2), BoostMaxV: dec32(&c[9], i, 2), MaxChargeCurrentAmpere: dec32(&c[10], i, 2)}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := eachMasterSlice(ctx, l, "battery_system", []string{"system_id", "location_id"}, func(b *parquetio.SliceBatch) error {
		for i := 0; i < b.Rows; i++ {
			m.Systems[b.Cols[0].UUID[i]] = &System{ID: b.Cols[0].UUID[i], LocationID: b.Cols[1].UUID[i]}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	sensors, err := loadSensors(ctx, l)
	if err != nil {
		return nil, err
	}
	m.RoomSensor = roomSensors(m, sensors)
	return m, nil
}

// ErrNoMaster says the lake lacks master data a derived job needs.
var ErrNoMaster = errors.New("master data missing: run the master stage (or ingest the master tables) first")

func masterFile(ctx context.Context, l *lake.Lake, table string) (lake.SegmentFile, error) {
	ix, err := Load(ctx, l, schema.MustLookup(table))
	if err != nil {
		return lake.SegmentFile{}, err
	}
	all := ix.All()
	if len(all) != 1 {
		return lake.SegmentFile{}, fmt.Errorf("table %s: %d committed files: %w", table, len(all), ErrNoMaster)
	}
	return all[0], nil
}

func eachMasterSlice(ctx context.Context, l *lake.Lake, table string, cols []string, fn func(b *parquetio.SliceBatch) error) error {
	f, err := masterFile(ctx, l, table)
	if err != nil {
		return err
	}
	return EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: cols}, fn)
}

type sensor struct {
	id, location     uuid.UUID
	code, zone, kind string
	active           bool
}

// loadSensors reads environmental_sensor through Arrow (it has strings).
func loadSensors(ctx context.Context, l *lake.Lake) ([]sensor, error) {
	f, err := masterFile(ctx, l, "environmental_sensor")
	if err != nil {
		return nil, err
	}
	var out []sensor
	err = EachRecord(ctx, l, f, []string{"sensor_id", "location_id", "sensor_code", "sensor_type", "zone", "is_active"}, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			id, _ := uuidAt(rec.Column(0), i)
			loc, _ := uuidAt(rec.Column(1), i)
			s := sensor{id: id, location: loc, code: str(rec.Column(2), i), kind: str(rec.Column(3), i), zone: str(rec.Column(4), i), active: true}
			if b, ok := rec.Column(5).(*array.Boolean); ok && !b.IsNull(i) {
				s.active = b.Value(i)
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// uuidAt reads a UUID value (the UUID extension type or its storage);
// false when NULL.
func uuidAt(a arrow.Array, i int) (uuid.UUID, bool) {
	if ext, ok := a.(array.ExtensionArray); ok {
		a = ext.Storage()
	}
	fb, ok := a.(*array.FixedSizeBinary)
	if !ok || fb.IsNull(i) {
		return uuid.UUID{}, false
	}
	return uuid.UUID(fb.Value(i)), true
}

// str reads a string-like Arrow value (plain or dictionary-encoded).
func str(a arrowArray, i int) string {
	if a.IsNull(i) {
		return ""
	}
	return a.ValueStr(i)
}

type arrowArray interface {
	IsNull(int) bool
	ValueStr(int) string
}

// roomSensors maps each string to the temperature sensor of its battery
// room, by the rule features.RoomSensors documents.
func roomSensors(m *Master, sensors []sensor) map[uuid.UUID]uuid.UUID {
	strs := make([]features.StringRef, 0, len(m.Strings))
	for _, st := range m.Strings {
		strs = append(strs, features.StringRef{ID: st.ID, SystemID: st.SystemID})
	}
	systems := make([]features.SystemRef, 0, len(m.Systems))
	for _, sy := range m.Systems {
		systems = append(systems, features.SystemRef{ID: sy.ID, LocationID: sy.LocationID})
	}
	refs := make([]features.SensorRef, len(sensors))
	for i, s := range sensors {
		refs[i] = features.SensorRef{ID: s.id, LocationID: s.location, Code: s.code, Zone: s.zone, SensorType: s.kind, IsActive: s.active}
	}
	return features.RoomSensors(strs, systems, refs)
}

func dec32(c *parquetio.ColumnSlice, i, scale int) float64 {
	if c.Valid != nil && !c.Valid[i] {
		return 0
	}
	return float64(c.Int32[i]) / math.Pow10(scale)
}

func date(c *parquetio.ColumnSlice, i int) time.Time {
	if c.Valid != nil && !c.Valid[i] {
		return time.Time{}
	}
	return time.Unix(int64(c.Int32[i])*86400, 0).UTC()
}

func lessUUID(a, b uuid.UUID) bool { return bytes.Compare(a[:], b[:]) < 0 }
