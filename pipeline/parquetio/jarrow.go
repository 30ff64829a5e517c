package parquetio

// JarRawRow is the hot-path row of telemetry_jar_raw, shared by the
// synthesizer and ingest's presorted path so both write the same bytes.
// Decimals are unscaled integers at the column's scale; an optional
// field's zero is NULL in parquet-go (3x faster than pointers), so a
// producer must never emit a physical zero through it. NewTypedWriter
// checks it against the registry's schema when the writer opens.
type JarRawRow struct {
	TS             int64    `parquet:"ts,timestamp(microsecond)"`
	BatteryID      [16]byte `parquet:"battery_id,uuid"`
	VoltageV       int32    `parquet:"voltage_v,decimal(3:5),optional"`
	TemperatureC   int32    `parquet:"temperature_c,decimal(1:4),optional"`
	ResistanceMOhm int32    `parquet:"resistance_mohm,decimal(3:8),optional"`
	ConductanceS   int32    `parquet:"conductance_s,decimal(5:8),optional"`
}

// JarRawNullableRow is telemetry_jar_raw's row where a zero is a real
// reading: its optional decimals are pointers (nil is NULL). Ingest writes
// exports that hold real zeros through it; for the same values it writes
// the same bytes as JarRawRow.
type JarRawNullableRow struct {
	TS             int64    `parquet:"ts,timestamp(microsecond)"`
	BatteryID      [16]byte `parquet:"battery_id,uuid"`
	VoltageV       *int32   `parquet:"voltage_v,decimal(3:5),optional"`
	TemperatureC   *int32   `parquet:"temperature_c,decimal(1:4),optional"`
	ResistanceMOhm *int32   `parquet:"resistance_mohm,decimal(3:8),optional"`
	ConductanceS   *int32   `parquet:"conductance_s,decimal(5:8),optional"`
}

// StringRawRow is the row of telemetry_string_raw, shared by the
// synthesizer and ingest so both write the same bytes. Optional numbers and
// flags are pointers (nil is NULL); an empty Mode is NULL.
type StringRawRow struct {
	TS                int64    `parquet:"ts,timestamp(microsecond)"`
	StringID          [16]byte `parquet:"string_id,uuid"`
	VoltageV          *int32   `parquet:"voltage_v,decimal(2:6),optional"`
	CurrentA          *int32   `parquet:"current_a,decimal(3:7),optional"`
	Mode              string   `parquet:"mode,optional"`
	RippleVoltageRMSV *int32   `parquet:"ripple_voltage_rms_v,decimal(3:5),optional"`
	RippleCurrentRMSA *int32   `parquet:"ripple_current_rms_a,decimal(3:6),optional"`
	EqualizeFlag      *bool    `parquet:"equalize_flag,optional"`
	GeneratorTestFlag *bool    `parquet:"generator_test_flag,optional"`
	TransferEventFlag *bool    `parquet:"transfer_event_flag,optional"`
}

// TruthDailyRow is the row of truth_battery_daily (hidden truth: written by
// the synthesizer only).
type TruthDailyRow struct {
	Day            int32    `parquet:"day,date"`
	BatteryID      [16]byte `parquet:"battery_id,uuid"`
	SOHPct         int32    `parquet:"soh_pct,decimal(2:5)"`
	CapacityAh     int32    `parquet:"capacity_ah,decimal(2:6)"`
	ResistanceMOhm int32    `parquet:"resistance_mohm,decimal(3:8)"`
	RULDays        int32    `parquet:"rul_days,decimal(1:6)"`
}

// JarCalcRow is the row of telemetry_jar_calc; an optional decimal's zero
// is NULL (the calc kernel maps a real 0.00 % to one unit).
type JarCalcRow struct {
	TS        int64    `parquet:"ts,timestamp(microsecond)"`
	BatteryID [16]byte `parquet:"battery_id,uuid"`
	SOCPct    int32    `parquet:"soc_pct,decimal(2:5),optional"`
	SOHPct    int32    `parquet:"soh_pct,decimal(2:5),optional"`
}
