package schema

// extensionTables are not in the seed. They are declared here so that
// writers, readers, DDL and docs treat them exactly like seed tables.
func extensionTables() []*Table {
	return []*Table{
		{
			Name: "truth_battery", Class: ClassTruth, Extension: true,
			Description: "Hidden truth per battery: the degradation profile and parameters the synthesizer drew, and when the battery really reaches end of life or fails. Exists so labels and evaluation can score predictions against what actually happened; calculated tables, features and predictions must never read it.",
			Columns: []Column{
				{Name: "battery_id", Type: UUID(), PK: true, NotNull: true, FK: fk("battery", "battery_id"), Description: "Battery reference"},
				{Name: "profile", Type: Enum("healthy", "accelerated", "failing"), NotNull: true, Encoding: EncDict, Description: "Degradation profile the jar is in at its end of service: healthy unless its wear accelerated at a hazard-drawn onset (seed section 8.3)"},
				{Name: "installed_date", Type: Date(), NotNull: true, Description: "Installation date (start of ageing)"},
				{Name: "true_capacity_ah0", Type: Decimal(6, 2), NotNull: true, Description: "True capacity at installation (Ah)"},
				{Name: "true_resistance_mohm0", Type: Decimal(8, 3), NotNull: true, Description: "True internal resistance at installation, at 25 °C (mΩ)"},
				{Name: "soh_decline_pct_per_year", Type: Decimal(6, 2), NotNull: true, Description: "Drawn SOH decline rate of that profile at 25 °C (% per year, before process noise)"},
				{Name: "resistance_increase_pct_per_year", Type: Decimal(6, 2), NotNull: true, Description: "Drawn resistance rise rate at 25 °C (% per year)"},
				{Name: "aging_factor", Type: Decimal(6, 3), NotNull: true, Description: "Effective years of ageing per calendar year: room temperature, time above 30 °C, discharges, float above setpoint, ripple"},
				{Name: "eol_date", Type: Date(), NotNull: true, Description: "Date the true SOH falls below 80 % (IEEE 1188 end of life)"},
				{Name: "failure_kind", Type: Enum("none", "dry_out", "open_cell", "short", "thermal_runaway"), NotNull: true, Encoding: EncDict, Description: "Sudden failure drawn for the battery, `none` if it only wears out"},
				{Name: "failure_at", Type: Timestamptz(), Description: "When the sudden failure happens; null when failure_kind is `none`"},
				{Name: "end_of_service_date", Type: Date(), NotNull: true, Description: "Earlier of eol_date and the failure date: the date rul_days counts to"},
				{Name: "replaced_date", Type: Date(), Description: "When the battery was replaced in the simulation; null if still in service"},
			},
			SortBy: []string{"battery_id"},
		},
		{
			Name: "truth_battery_daily", Class: ClassTruth, Extension: true,
			Description: "Hidden truth per battery and day: true state of health, capacity, resistance and remaining life. Exists as the label source for RUL/SOH training and for scoring rul_prediction and digital_twin_state.",
			Columns: []Column{
				{Name: "day", Type: Date(), PK: true, NotNull: true, Description: "UTC day the state holds for (end of day)"},
				{Name: "battery_id", Type: UUID(), PK: true, NotNull: true, FK: fk("battery", "battery_id"), Encoding: EncDict, Description: "Battery reference"},
				{Name: "soh_pct", Type: Decimal(5, 2), NotNull: true, Description: "True state of health (%)"},
				{Name: "capacity_ah", Type: Decimal(6, 2), NotNull: true, Description: "True capacity (Ah)"},
				{Name: "resistance_mohm", Type: Decimal(8, 3), NotNull: true, Description: "True internal resistance at 25 °C (mΩ)"},
				{Name: "rul_days", Type: Decimal(6, 1), NotNull: true, Description: "Days to end_of_service_date; negative once past it"},
			},
			Partition: Partitioning{MonthOf: "day"},
			SortBy:    []string{"battery_id", "day"},
		},
		{
			Name: "truth_event", Class: ClassTruth, Extension: true,
			Description: "Hidden truth of every injected event (outages, tests, HVAC faults, failures, sensor faults) with its true extent. Exists so alerts, anomaly detection and data-quality rejects can be scored against what was injected.",
			Columns: []Column{
				{Name: "event_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "battery_id", Type: UUID(), FK: fk("battery", "battery_id"), Description: "Affected battery (null for string- or site-wide events)"},
				{Name: "string_id", Type: UUID(), FK: fk("string", "string_id"), Description: "Affected string (null for site-wide events)"},
				{Name: "location_id", Type: UUID(), NotNull: true, FK: fk("location", "location_id"), Description: "Affected location"},
				{Name: "event_kind", Type: Enum("outage", "generator_test", "equalize", "discharge_test", "surge", "hvac_fault", "dry_out", "open_cell", "short", "thermal_runaway", "sensor_dropout", "sensor_stuck", "sensor_spike"), NotNull: true, Encoding: EncDict, Description: "What was injected"},
				{Name: "start_ts", Type: Timestamptz(), NotNull: true, Description: "Event start"},
				{Name: "end_ts", Type: Timestamptz(), Description: "Event end; null for events that do not end (failures)"},
				{Name: "details_json", Type: JSON(), Description: "Kind-specific parameters (magnitudes, affected sensor, ...)"},
			},
			Partition: Partitioning{MonthOf: "start_ts"},
			SortBy:    []string{"location_id", "start_ts", "event_id"},
		},
		{
			Name: "event_window_sample", Class: ClassRaw, Extension: true,
			Description: "Per-jar samples of a telemetry_event_window capture. The seed stores them behind data_blob_url without a schema; this table gives them one, stored as one Parquet object per window under `_blobs/`.",
			Columns: []Column{
				{Name: "window_id", Type: UUID(), PK: true, NotNull: true, FK: fk("telemetry_event_window", "window_id"), Encoding: EncDict, Description: "Window reference"},
				{Name: "ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Sample timestamp"},
				{Name: "battery_id", Type: UUID(), PK: true, NotNull: true, FK: fk("battery", "battery_id"), Encoding: EncDict, Description: "Battery reference"},
				{Name: "voltage_v", Type: Decimal(5, 3), Encoding: EncDelta, Description: "Jar voltage (V)"},
				{Name: "current_a", Type: Decimal(7, 3), Encoding: EncDelta, Description: "String current through the jar (A)"},
				{Name: "temperature_c", Type: Decimal(4, 1), Encoding: EncDelta, Description: "Jar surface temperature (°C)"},
			},
			SortBy: []string{"window_id", "battery_id", "ts"},
			blob:   &Blob{Parent: "telemetry_event_window", Key: "window_id", URLColumn: "data_blob_url"},
		},
		{
			Name: "ripple_capture", Class: ClassRaw, Extension: true,
			Description: "Short ripple-voltage waveform captures per string. Exists because telemetry_string_calc.thd_pct is an FFT of the ripple waveform, which the seed does not store.",
			Columns: []Column{
				{Name: "capture_ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Capture start"},
				{Name: "string_id", Type: UUID(), PK: true, NotNull: true, FK: fk("string", "string_id"), Encoding: EncDict, Description: "String reference"},
				{Name: "sample_idx", Type: Int(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Sample number within the capture, from 0"},
				{Name: "sample_rate_hz", Type: Int(), NotNull: true, Description: "Sampling rate of the capture (Hz)"},
				{Name: "ripple_voltage_v", Type: Decimal(6, 4), Encoding: EncDelta, Description: "Instantaneous AC ripple on the DC bus (V)"},
			},
			Partition: Partitioning{MonthOf: "capture_ts", BucketOf: "string_id", Buckets: 2},
			SortBy:    []string{"string_id", "capture_ts", "sample_idx"},
		},
		{
			Name: "capacity_test_curve", Class: ClassRaw, Extension: true,
			Description: "Per-jar discharge curves of a capacity test. The seed stores them behind raw_data_url without a schema; this table gives them one, stored as one Parquet object per test under `_blobs/`.",
			Columns: []Column{
				{Name: "test_id", Type: UUID(), PK: true, NotNull: true, FK: fk("capacity_test_raw", "test_id"), Encoding: EncDict, Description: "Test reference"},
				{Name: "elapsed_s", Type: Int(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Seconds since the test started"},
				{Name: "battery_id", Type: UUID(), PK: true, NotNull: true, FK: fk("battery", "battery_id"), Encoding: EncDict, Description: "Battery reference"},
				{Name: "voltage_v", Type: Decimal(5, 3), Encoding: EncDelta, Description: "Jar voltage (V)"},
				{Name: "current_a", Type: Decimal(7, 3), Encoding: EncDelta, Description: "Discharge current (A)"},
			},
			SortBy: []string{"test_id", "battery_id", "elapsed_s"},
			blob:   &Blob{Parent: "capacity_test_raw", Key: "test_id", URLColumn: "raw_data_url"},
		},
		{
			Name: "rejects", Class: ClassOps, Extension: true,
			Description: "Input records that failed validation, with the reason. Exists so a bad value is kept and explained instead of silently dropped or failing a whole load.",
			Columns: []Column{
				{Name: "rejected_at", Type: Timestamptz(), NotNull: true, Description: "When the record was rejected"},
				{Name: "source_file", Type: Varchar(500), NotNull: true, Description: "Input file or object the record came from"},
				{Name: "source_row", Type: BigInt(), Description: "Row or line number in the source, from 1"},
				{Name: "source_column", Type: Varchar(100), Description: "Offending column, if one"},
				{Name: "target_table", Type: Varchar(100), NotNull: true, Description: "Registry table the record was meant for"},
				{Name: "reason", Type: Text(), NotNull: true, Description: "Validation error message"},
				{Name: "raw_record", Type: Text(), Description: "The record as read"},
			},
			Partition: Partitioning{MonthOf: "rejected_at"},
			SortBy:    []string{"rejected_at", "source_file", "source_row"},
		},
	}
}
