package schema

// calcTables are the seed's section 5 in section order. rul_prediction is
// listed as derived in the seed's section 10 but lives in section 5 and is
// computed by the same jobs as the twin, so it is classed calc here.
func calcTables() []*Table {
	return []*Table{
		{
			Name: "telemetry_jar_calc", Class: ClassCalc, Section: "5.1",
			Description: "Per-battery **calculated/estimated values**.",
			Columns: []Column{
				{Name: "ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Measurement timestamp", Method: "Same as raw"},
				{Name: "battery_id", Type: UUID(), PK: true, NotNull: true, FK: fk("battery", "battery_id"), Encoding: EncDict, Description: "Battery reference", Method: "Same as raw"},
				{Name: "soc_pct", Type: Decimal(5, 2), Encoding: EncDelta, Description: "Estimated state of charge (%)", Method: "Coulomb counting + OCV lookup"},
				{Name: "soh_pct", Type: Decimal(5, 2), Encoding: EncDelta, Description: "Estimated state of health (%)", Method: "Capacity fade model"},
			},
			// Same layout as telemetry_jar_raw so a calc file joins its raw
			// file one to one.
			Partition: Partitioning{MonthOf: "ts", BucketOf: "battery_id", Buckets: 8},
			SortBy:    []string{"battery_id", "ts"},
		},
		{
			Name: "telemetry_string_calc", Class: ClassCalc, Section: "5.2",
			Description: "Per-string **calculated values**.",
			Columns: []Column{
				{Name: "ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Measurement timestamp", Method: "Same as raw"},
				{Name: "string_id", Type: UUID(), PK: true, NotNull: true, FK: fk("string", "string_id"), Encoding: EncDict, Description: "String reference", Method: "Same as raw"},
				{Name: "power_w", Type: Decimal(10, 2), Encoding: EncDelta, Description: "Calculated power (W)", Method: "`voltage_v × current_a`"},
				{Name: "thd_pct", Type: Decimal(5, 2), Encoding: EncDelta, Description: "Total harmonic distortion (%)", Method: "FFT of ripple waveform"},
			},
			Partition: Partitioning{MonthOf: "ts", BucketOf: "string_id", Buckets: 2},
			SortBy:    []string{"string_id", "ts"},
		},
		{
			Name: "capacity_test_calc", Class: ClassCalc, Section: "5.3",
			Description: "Discharge/capacity test **calculated results**.",
			Columns: []Column{
				{Name: "test_id", Type: UUID(), PK: true, NotNull: true, FK: fk("capacity_test_raw", "test_id"), Description: "Test reference"},
				{Name: "measured_capacity_ah", Type: Decimal(6, 2), Description: "Measured capacity (Ah)", Method: "`current × duration`"},
				{Name: "capacity_pct_of_rated", Type: Decimal(5, 2), Description: "Capacity as % of rated", Method: "`measured / rated × 100`"},
				{Name: "pass_fail", Type: Enum("pass", "fail", "marginal"), Encoding: EncDict, Description: "`pass`, `fail`, `marginal`", Method: "Threshold comparison"},
			},
			// No time column to partition by: a small table in one file.
			SortBy: []string{"test_id"},
		},
		{
			Name: "impedance_measurement_calc", Class: ClassCalc, Section: "5.4",
			Description: "Per-battery impedance **calculated/normalized values**.",
			Columns: []Column{
				{Name: "measurement_id", Type: UUID(), PK: true, NotNull: true, FK: fk("impedance_measurement_raw", "measurement_id"), Description: "Measurement reference"},
				{Name: "temp_corrected_resistance_mohm", Type: Decimal(8, 3), Description: "Temperature-normalized value", Method: "Arrhenius correction"},
				{Name: "baseline_pct", Type: Decimal(5, 2), Description: "% of initial baseline", Method: "`current / initial × 100`"},
			},
			SortBy: []string{"measurement_id"},
		},
		{
			Name: "feature_store", Class: ClassCalc, Section: "5.5",
			Description: "Pre-computed **aggregated features** for ML.",
			Columns: []Column{
				{Name: "feature_ts", Type: Timestamptz(), PK: true, NotNull: true, Encoding: EncDelta, Description: "Feature window end time"},
				{Name: "battery_id", Type: UUID(), PK: true, NotNull: true, FK: fk("battery", "battery_id"), Encoding: EncDict, Description: "Battery reference"},
				{Name: "feature_window_hours", Type: Int(), PK: true, NotNull: true, Description: "Aggregation window (e.g., 1, 24, 168)"},
				{Name: "v_mean", Type: Decimal(5, 3), Description: "Mean voltage", Method: "`AVG(voltage_v)`"},
				{Name: "v_std", Type: Decimal(5, 4), Description: "Voltage std dev", Method: "`STDDEV(voltage_v)`"},
				{Name: "v_min", Type: Decimal(5, 3), Description: "Min voltage", Method: "`MIN(voltage_v)`"},
				{Name: "v_max", Type: Decimal(5, 3), Description: "Max voltage", Method: "`MAX(voltage_v)`"},
				{Name: "v_balance_mean", Type: Decimal(6, 4), Description: "Mean voltage imbalance (V). DECIMAL(6,4), the seed's (5,4) widened: a dead jar left in its string (an open cell awaiting replacement) sits ~11 V from the string mean", Method: "`AVG(ABS(v - string_mean))`"},
				{Name: "t_mean", Type: Decimal(4, 1), Description: "Mean temperature", Method: "`AVG(temperature_c)`"},
				{Name: "t_max", Type: Decimal(4, 1), Description: "Max temperature", Method: "`MAX(temperature_c)`"},
				{Name: "t_delta_ambient_mean", Type: Decimal(4, 2), Description: "Mean temp above ambient", Method: "`AVG(t_jar - t_ambient)`"},
				{Name: "r_internal_latest", Type: Decimal(8, 3), Description: "Latest resistance", Method: "Last value in window"},
				{Name: "r_internal_baseline_pct", Type: Decimal(8, 2), Description: "% of baseline. DECIMAL(8,2), the seed's (5,2) widened: an open cell awaiting replacement reads hundreds of times its baseline", Method: "`current / initial × 100`"},
				{Name: "discharge_cycles_count", Type: Int(), Description: "Discharge events in window", Method: "`COUNT(discharge events)`"},
				{Name: "ah_throughput", Type: Decimal(8, 2), Description: "Cumulative Ah throughput", Method: "`SUM(ABS(current) × dt)`"},
				{Name: "time_below_float_min", Type: Int(), Description: "Minutes below float band", Method: "`SUM(time where v < float_min)`"},
				{Name: "time_above_float_min", Type: Int(), Description: "Minutes above float band", Method: "`SUM(time where v > float_max)`"},
				{Name: "surge_events_count", Type: Int(), Description: "High-current events", Method: "`COUNT(surge events)`"},
				{Name: "ripple_rms_mean", Type: Decimal(5, 3), Description: "Mean ripple voltage", Method: "`AVG(ripple_voltage_rms_v)`"},
				{Name: "thd_mean", Type: Decimal(5, 2), Description: "Mean THD", Method: "`AVG(thd_pct)`"},
			},
			// A fleet-day is 140 K rows: month partitions of a file a day,
			// no buckets (the features job derives the whole fleet at once).
			Partition: Partitioning{MonthOf: "feature_ts"},
			// Window before time keeps each feature series contiguous, as the
			// seed's index does.
			SortBy:  []string{"battery_id", "feature_window_hours", "feature_ts"},
			Indexes: []Index{{Name: "idx_feature_store_battery_window", Columns: []string{"battery_id", "feature_window_hours", "feature_ts DESC"}}},
		},
		{
			Name: "digital_twin_state", Class: ClassCalc, Section: "5.6",
			Description: "Digital twin **estimated model parameters** per battery.",
			Columns: []Column{
				{Name: "state_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "battery_id", Type: UUID(), FK: fk("battery", "battery_id"), Description: "Battery reference"},
				{Name: "captured_at", Type: Timestamptz(), NotNull: true, Description: "State capture time"},
				{Name: "soc_pct", Type: Decimal(5, 2), Description: "State of charge (%)", Method: "EKF estimation"},
				{Name: "soh_pct", Type: Decimal(5, 2), Description: "State of health (%)", Method: "Capacity tracking"},
				{Name: "r0_mohm", Type: Decimal(8, 3), Description: "ECM R₀ (mΩ)", Method: "Parameter identification"},
				{Name: "r1_mohm", Type: Decimal(8, 3), Description: "ECM R₁ (mΩ)", Method: "Parameter identification"},
				{Name: "c1_f", Type: Decimal(10, 4), Description: "ECM C₁ (F)", Method: "Parameter identification"},
				{Name: "r2_mohm", Type: Decimal(8, 3), Description: "ECM R₂ (mΩ)", Method: "Parameter identification; always NULL so far: the slow pair (τ₂ 10-60 min) needs a high-rate discharge response of at least 30 min (≈ 90 min, 3 τ₂, to pin a 30 min τ₂), and the lake's event windows are 80 s transfers and 15 min capacity-test windows (the twin also reads at most 240 s of a response)"},
				{Name: "c2_f", Type: Decimal(10, 4), Description: "ECM C₂ (F)", Method: "τ₂ / R₂ with R₂: NULL for the same reason; a 30 min pair of a 2 mΩ block is ~9·10⁵ F, near the DECIMAL(10,4) limit (a value that does not fit is NULL)"},
				{Name: "ocv_params_json", Type: JSON(), Description: "OCV curve parameters", Method: "Curve fitting"},
				{Name: "sei_thickness_nm", Type: Decimal(8, 3), Description: "SEI layer thickness estimate", Method: "Always NULL for VRLA: the SEI is a lithium-ion anode film; lead-acid ages by grid corrosion, sulphation and dry-out"},
				{Name: "capacity_fade_pct", Type: Decimal(5, 2), Description: "Capacity fade from initial", Method: "`(1 - current/initial) × 100`"},
				{Name: "power_fade_pct", Type: Decimal(5, 2), Description: "Power fade from initial", Method: "Resistance-based: `(1 - R0_initial / R0_now) × 100`, R0 at 25 °C"},
				{Name: "calibration_rmse_v", Type: Decimal(6, 4), Description: "Last calibration RMSE", Method: "Model validation"},
				{Name: "last_calibrated_at", Type: Timestamptz(), Description: "Last calibration time"},
			},
			Partition: Partitioning{MonthOf: "captured_at"},
			SortBy:    []string{"battery_id", "captured_at", "state_id"},
		},
		{
			Name: "rul_prediction", Class: ClassCalc, Section: "5.7",
			Description: "**ML-generated RUL predictions** per battery.",
			Columns: []Column{
				{Name: "prediction_id", Type: UUID(), PK: true, NotNull: true, Description: "Unique identifier"},
				{Name: "battery_id", Type: UUID(), FK: fk("battery", "battery_id"), Description: "Battery reference"},
				{Name: "model_id", Type: UUID(), FK: fk("ml_model", "model_id"), Description: "Model used"},
				{Name: "predicted_at", Type: Timestamptz(), NotNull: true, Description: "Prediction timestamp"},
				{Name: "rul_days", Type: Decimal(6, 1), NotNull: true, Description: "Predicted RUL (days)", Method: "ML model inference"},
				{Name: "rul_lower_ci_days", Type: Decimal(6, 1), Description: "Lower 95% CI", Method: "Quantile regression"},
				{Name: "rul_upper_ci_days", Type: Decimal(6, 1), Description: "Upper 95% CI", Method: "Quantile regression"},
				{Name: "failure_probability_30d", Type: Decimal(5, 4), Description: "P(failure within 30 days)", Method: "Survival model"},
				{Name: "failure_probability_90d", Type: Decimal(5, 4), Description: "P(failure within 90 days)", Method: "Survival model"},
				{Name: "confidence_score", Type: Decimal(5, 4), Description: "Model confidence", Method: "Calibration"},
				{Name: "source", Type: Enum("ml_model", "digital_twin", "fused"), NotNull: true, Encoding: EncDict, Description: "`ml_model`, `digital_twin`, `fused`"},
				{Name: "feature_snapshot_json", Type: JSON(), Description: "Input features at prediction time"},
				{Name: "explanation_json", Type: JSON(), Description: "SHAP/feature importance"},
			},
			Sparse:    true,
			Partition: Partitioning{MonthOf: "predicted_at"},
			SortBy:    []string{"battery_id", "predicted_at", "prediction_id"},
			Indexes:   []Index{{Name: "idx_rul_prediction_battery_ts", Columns: []string{"battery_id", "predicted_at DESC"}}},
		},
	}
}
