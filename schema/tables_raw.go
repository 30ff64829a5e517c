package schema

// rawTimeSeriesTables are the seed's section 3. Telemetry is the bulk of the
// lake: timestamps and measurements get DELTA (they change slowly within a
// sorted entity run) and entity ids get a dictionary (few distinct values
// per file, and DuckDB's point lookups need it; see tooling-notes).
func rawTimeSeriesTables() []*Table {
	return []*Table{
		{
			Name: "telemetry_jar_raw", Class: ClassRaw, Section: "3.1",
			Description: "Per-battery **raw sensor readings** (high volume).",
			Columns: []Column{
				{Name: "ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Measurement timestamp", Method: "Time series generator"},
				{Name: "battery_id", Type: UUID(), PK: true, NotNull: true, FK: fk("battery", "battery_id"), Encoding: EncDict, Description: "Battery reference", Method: "From master data"},
				{Name: "voltage_v", Type: Decimal(5, 3), Encoding: EncDelta, Range: rng(0, 20), Description: "Jar voltage (V)", Method: "ECM model + noise"},
				{Name: "temperature_c", Type: Decimal(4, 1), Encoding: EncDelta, Range: rng(-40, 100), Description: "Jar surface temperature (°C)", Method: "Thermal model + ambient"},
				{Name: "resistance_mohm", Type: Decimal(8, 3), Encoding: EncDelta, Range: positive(1000), Description: "Internal resistance (mΩ)", Method: "Degradation model"},
				{Name: "conductance_s", Type: Decimal(8, 5), Encoding: EncDelta, Range: positive(1000), Description: "Conductance (S)", Method: "1/resistance"},
			},
			Partition: Partitioning{MonthOf: "ts", BucketOf: "battery_id", Buckets: 8},
			SortBy:    []string{"battery_id", "ts"},
			Indexes:   []Index{{Name: "idx_telemetry_jar_raw_battery_ts", Columns: []string{"battery_id", "ts DESC"}}},
		},
		{
			Name: "telemetry_string_raw", Class: ClassRaw, Section: "3.2",
			Description: "Per-string **raw sensor readings**.",
			Columns: []Column{
				{Name: "ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Measurement timestamp", Method: "Time series generator"},
				{Name: "string_id", Type: UUID(), PK: true, NotNull: true, FK: fk("string", "string_id"), Encoding: EncDict, Description: "String reference", Method: "From master data"},
				{Name: "voltage_v", Type: Decimal(6, 2), Encoding: EncDelta, Range: rng(0, 1000), Description: "String total voltage (V)", Method: "Sum of jar voltages"},
				{Name: "current_a", Type: Decimal(7, 3), Encoding: EncDelta, Range: rng(-5000, 5000), Description: "String current (A)", Method: "Load profile model"},
				{Name: "mode", Type: Enum("float", "boost", "discharge", "idle", "equalize"), Encoding: EncDict, Description: "`float`, `boost`, `discharge`, `idle`, `equalize`", Method: "State machine"},
				{Name: "ripple_voltage_rms_v", Type: Decimal(5, 3), Encoding: EncDelta, Range: rng(0, 50), Description: "AC ripple on DC bus (V RMS)", Method: "Rectifier model"},
				{Name: "ripple_current_rms_a", Type: Decimal(6, 3), Encoding: EncDelta, Range: rng(0, 500), Description: "AC ripple current (A RMS)", Method: "Rectifier model"},
				{Name: "equalize_flag", Type: Boolean(), Description: "Equalization in progress", Method: "Schedule-based"},
				{Name: "generator_test_flag", Type: Boolean(), Description: "Generator test active", Method: "Schedule-based"},
				{Name: "transfer_event_flag", Type: Boolean(), Description: "Transfer switch event", Method: "Event generator"},
			},
			Partition: Partitioning{MonthOf: "ts", BucketOf: "string_id", Buckets: 2},
			SortBy:    []string{"string_id", "ts"},
			Indexes:   []Index{{Name: "idx_telemetry_string_raw_string_ts", Columns: []string{"string_id", "ts DESC"}}},
		},
		{
			Name: "telemetry_env", Class: ClassRaw, Section: "3.3",
			Description: "Environmental sensor **raw readings**.",
			Columns: []Column{
				{Name: "ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Measurement timestamp", Method: "Time series generator"},
				{Name: "sensor_id", Type: UUID(), PK: true, NotNull: true, FK: fk("environmental_sensor", "sensor_id"), Encoding: EncDict, Description: "Sensor reference", Method: "From master data"},
				{Name: "temperature_c", Type: Decimal(4, 1), Encoding: EncDelta, Range: rng(-40, 80), Description: "Ambient temperature (°C)", Method: "Seasonal + HVAC model"},
				{Name: "humidity_pct", Type: Decimal(4, 1), Encoding: EncDelta, Range: rng(0, 100), Description: "Relative humidity (%)", Method: "Seasonal model"},
				{Name: "hvac_status", Type: Enum("running", "standby", "fault"), Encoding: EncDict, Description: "`running`, `standby`, `fault`", Method: "State machine"},
			},
			Partition: Partitioning{MonthOf: "ts"},
			SortBy:    []string{"sensor_id", "ts"},
		},
		{
			Name: "telemetry_event_window", Class: ClassRaw, Section: "3.4",
			Description: "High-frequency capture during discharge/transfer events.",
			Columns: []Column{
				{Name: "window_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "string_id", Type: UUID(), FK: fk("string", "string_id"), Encoding: EncDict, Description: "String reference"},
				{Name: "event_type", Type: Enum("discharge_test", "transfer_event", "equalize", "surge"), NotNull: true, Encoding: EncDict, Description: "`discharge_test`, `transfer_event`, `equalize`, `surge`"},
				{Name: "start_ts", Type: Timestamptz(), NotNull: true, Encoding: EncDelta, Description: "Window start"},
				{Name: "end_ts", Type: Timestamptz(), NotNull: true, Encoding: EncDelta, Description: "Window end"},
				{Name: "sample_rate_ms", Type: Int(), NotNull: true, Description: "Sampling interval (100–500 ms)"},
				{Name: "data_blob_url", Type: Varchar(500), Description: "Object store URL for raw data; NULL when the samples were not retained (history days before the scenario's `detail_from`)"},
				{Name: "samples_count", Type: Int(), Description: "Number of samples captured; NULL when not retained"},
			},
			Partition: Partitioning{MonthOf: "start_ts"},
			SortBy:    []string{"string_id", "start_ts"},
		},
	}
}

// rawTransactionalTables are the seed's section 4: event-driven records,
// small enough that one file per month is plenty.
func rawTransactionalTables() []*Table {
	return []*Table{
		{
			Name: "maintenance_event", Class: ClassRaw, Section: "4.1",
			Description: "Scheduled and unscheduled maintenance.",
			Columns: []Column{
				{Name: "event_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "battery_id", Type: UUID(), FK: fk("battery", "battery_id"), Description: "Specific battery (if applicable)"},
				{Name: "string_id", Type: UUID(), FK: fk("string", "string_id"), Description: "Specific string (if applicable)"},
				{Name: "location_id", Type: UUID(), FK: fk("location", "location_id"), Description: "Location"},
				{Name: "event_type", Type: Enum("visual_inspection", "voltage_measurement", "thermal_survey", "torque_check", "capacity_test", "impedance_test", "replacement", "corrective"), NotNull: true, Encoding: EncDict,
					Description: "`visual_inspection` — Monthly visual check; `voltage_measurement` — Monthly voltage reading; `thermal_survey` — Quarterly IR scan; `torque_check` — Connection verification; `capacity_test` — Discharge test; `impedance_test` — EIS/impedance measurement; `replacement` — Battery replacement; `corrective` — Unscheduled repair"},
				{Name: "event_subtype", Type: Varchar(50), Description: "Additional categorization"},
				// Nullable in the seed; the synthesizer always fills it because
				// it is the partition month.
				{Name: "scheduled_date", Type: Timestamptz(), Description: "Planned date"},
				{Name: "completed_date", Type: Timestamptz(), Description: "Actual completion"},
				{Name: "technician_id", Type: UUID(), FK: fk("user", "user_id"), Description: "Assigned technician"},
				{Name: "status", Type: Enum("scheduled", "in_progress", "completed", "cancelled"), NotNull: true, Encoding: EncDict, Description: "`scheduled`, `in_progress`, `completed`, `cancelled`"},
				// A CMMS/ITSM ticket reference, not a key of work_order.
				{Name: "work_order_id", Type: Varchar(50), Description: "CMMS/ITSM reference"},
				{Name: "notes", Type: Text(), Description: "Technician notes"},
				{Name: "photo_urls", Type: JSON(), Description: "Array of photo URLs"},
				{Name: "ir_scan_url", Type: Varchar(500), Description: "Thermal scan image"},
				{Name: "created_at", Type: Timestamptz(), NotNull: true},
				{Name: "updated_at", Type: Timestamptz(), NotNull: true},
			},
			Partition: Partitioning{MonthOf: "scheduled_date"},
			SortBy:    []string{"location_id", "scheduled_date", "event_id"},
			Indexes:   []Index{{Name: "idx_maintenance_location_status", Columns: []string{"location_id", "status", "scheduled_date"}}},
		},
		{
			Name: "capacity_test_raw", Class: ClassRaw, Section: "4.2",
			Description: "Discharge/capacity test **raw results**.",
			Columns: []Column{
				{Name: "test_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "string_id", Type: UUID(), FK: fk("string", "string_id"), Description: "Tested string"},
				{Name: "maintenance_event_id", Type: UUID(), FK: fk("maintenance_event", "event_id"), Description: "Related event"},
				{Name: "test_date", Type: Timestamptz(), NotNull: true, Description: "Test timestamp"},
				{Name: "test_type", Type: Enum("full_discharge", "partial_discharge", "impedance_sweep"), NotNull: true, Encoding: EncDict, Description: "`full_discharge`, `partial_discharge`, `impedance_sweep`"},
				{Name: "discharge_rate_a", Type: Decimal(6, 2), Range: rng(0, 5000), Description: "Discharge current (A)"},
				{Name: "discharge_duration_min", Type: Decimal(6, 1), Range: rng(0, 100000), Description: "Duration to cutoff (min)"},
				{Name: "cutoff_voltage_v", Type: Decimal(6, 2), Range: rng(0, 1000), Description: "End voltage (V)"},
				{Name: "ambient_temp_c", Type: Decimal(4, 1), Range: rng(-40, 80), Description: "Ambient during test"},
				{Name: "raw_data_url", Type: Varchar(500), Description: "Object store URL for detailed data"},
				{Name: "notes", Type: Text()},
			},
			Partition: Partitioning{MonthOf: "test_date"},
			SortBy:    []string{"string_id", "test_date", "test_id"},
		},
		{
			Name: "impedance_measurement_raw", Class: ClassRaw, Section: "4.3",
			Description: "Per-battery impedance/conductance **raw snapshots**.",
			Columns: []Column{
				{Name: "measurement_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "battery_id", Type: UUID(), FK: fk("battery", "battery_id"), Description: "Battery reference"},
				{Name: "maintenance_event_id", Type: UUID(), FK: fk("maintenance_event", "event_id"), Description: "Related event"},
				{Name: "measured_at", Type: Timestamptz(), NotNull: true, Description: "Measurement time"},
				{Name: "resistance_mohm", Type: Decimal(8, 3), Range: positive(1000), Description: "Internal resistance (mΩ) — **RAW**"},
				{Name: "conductance_s", Type: Decimal(8, 5), Range: positive(1000), Description: "Conductance (S) — **RAW**"},
				{Name: "temperature_c", Type: Decimal(4, 1), Range: rng(-40, 100), Description: "Battery temp during measurement"},
				{Name: "instrument_model", Type: Varchar(50), Description: "Measurement device"},
			},
			Partition: Partitioning{MonthOf: "measured_at"},
			SortBy:    []string{"battery_id", "measured_at", "measurement_id"},
		},
		{
			Name: "audit_log", Class: ClassRaw, Section: "4.4",
			Description: "System audit trail.",
			Columns: []Column{
				{Name: "log_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "ts", Type: Timestamptz(), NotNull: true, Description: "Event timestamp"},
				{Name: "user_id", Type: UUID(), FK: fk("user", "user_id"), Description: "Acting user"},
				{Name: "action", Type: Varchar(50), NotNull: true, Description: "Action type"},
				{Name: "entity_type", Type: Varchar(50), Description: "Affected entity type"},
				{Name: "entity_id", Type: UUID(), Description: "Affected entity ID"},
				{Name: "details_json", Type: JSON(), Description: "Action details"},
				{Name: "ip_address", Type: Varchar(45), Description: "Client IP"},
			},
			Partition: Partitioning{MonthOf: "ts"},
			// An audit trail is read in time order; user_id is often null.
			SortBy: []string{"ts", "log_id"},
		},
	}
}
