// Package features computes feature_store (spec section 5.5) as pure,
// IO-agnostic streaming kernels over typed columnar batches. It reads
// nothing itself: a caller (the lake read side) feeds it raw rows and
// master data and receives feature rows through a Sink.
//
// # Inputs
//
// Master data (Master, once): battery (battery_id, string_id, model_id,
// initial_resistance_mohm), battery_model (model_id, float_voltage_min_v,
// float_voltage_max_v) and, per string, the environmental sensor of its
// battery room (RoomSensors maps string → system → location → sensor).
//
// Raw series, as unscaled decimals (the INT32 of the Parquet DECIMAL: a
// voltage_v of 13.620 is 13620), NULL as the sentinel Null, timestamps as
// Unix microseconds:
//
//   - telemetry_env (sensor_id, ts, temperature_c ×10): AddEnv
//   - telemetry_string_calc (string_id, ts, thd_pct ×100): AddTHD
//   - telemetry_string_raw (string_id, ts, current_a ×1e3,
//     ripple_voltage_rms_v ×1e3): AddString
//   - telemetry_jar_raw (battery_id, ts, voltage_v ×1e3): AddJarVoltages
//     (the string-mean pre-pass), then again (battery_id, ts, voltage_v
//     ×1e3, temperature_c ×10, resistance_mohm ×1e3) through a JarPass.
//
// Each series is sorted by (entity id, ts) as stored; batches of one table
// may come from several bucket files in any order of entities.
//
// # Chunks and bounded memory
//
// Time is fed in chunks [from, to), hour-aligned and consecutive (a day is
// the natural chunk). Within a chunk the order is: env and THD (AddEnv,
// AddTHD), then string rows (AddString), then the jar pre-pass (PrePass),
// then the jar main pass (JarPass, closed), then EndChunk. Memory is
// bounded by hourly partial aggregates, never raw rows: per battery a ring
// of max window + 1 hours rounded up to a power of two (256 × 112 B for
// 168 h: 56 MB for 1,944 batteries), per string max window + MaxChunk
// hours (5 MB), plus the string-mean slots of one chunk (28 B per string
// timestamp: 39 MB for a day of 81 strings at 5 s; they grow with the
// chunk, so feed days, not months). The as-of series (env, THD) hold the
// chunk's rows.
//
// Deriving feature_ts in [M, N) needs raw data from M − LookBack() (the
// largest window plus one hour, which also carries episode, dt and as-of
// state into the first window); set Config.EmitFrom = M, EmitTo = N.
//
// # Feature definitions
//
// A row (battery, feature_ts t, window w) covers jar samples with ts in
// [t − w, t) and is emitted iff that range holds at least one jar row of
// the battery. Nothing at or after t is read (the as-of joins take the
// latest reading at or before each sample). Per column:
//
//   - v_mean, v_std (sample standard deviation, NULL below two samples),
//     v_min, v_max over non-NULL voltage_v. Hourly partials keep exact
//     integer sums of the voltage minus the hour's first value; hours merge
//     as (count, mean, M2) with Chan's formula.
//   - v_balance_mean = AVG(|v − m|), m the mean voltage of the string's jars
//     at exactly the same ts (including this jar). The pre-pass sums jar
//     voltages per (string, ts) for the chunk: the jar table is bucketed by
//     battery hash, so a string's jars are in several files; the pre-pass
//     reads only (battery_id, ts, voltage_v) of the chunk from every bucket.
//   - t_mean, t_max over temperature_c; t_delta_ambient_mean = AVG(t − a), a
//     the battery room sensor's latest non-NULL temperature_c at or before
//     the jar sample (rows without such a reading are skipped).
//   - r_internal_latest: the last non-NULL resistance_mohm in the window;
//     r_internal_baseline_pct = latest / baseline × 100, the baseline being
//     battery.initial_resistance_mohm, or, when that is NULL or zero, the
//     first reading the engine saw for the battery (then it depends on the
//     range fed; the lake's master always carries the baseline).
//   - time_below_float_min / time_above_float_min: Σ dt over samples with
//     voltage_v < float_voltage_min_v (> float_voltage_max_v) of the
//     battery's model, in minutes rounded to the nearest integer. dt is the
//     time since the battery's previous row, capped at Config.MaxGap (a
//     data outage counts at most MaxGap), 0 for the first row fed. The
//     sample represents (previous ts, ts], so at 5 s and at 1 min an hour
//     in the band both count 60 minutes. No temperature compensation of the
//     band (the seed's band is given at 25 °C; documented choice).
//   - String features come from the battery's string, computed once per
//     string-hour and shared by its jars, over the string's samples in the
//     window (the jar's series current is the string current):
//     ah_throughput = Σ |current_a| × dt / 3600 (dt as above on the
//     string's own samples); ripple_rms_mean = AVG(ripple_voltage_rms_v);
//     thd_mean = AVG of thd_pct as-of each string sample (latest
//     telemetry_string_calc row at or before it). NULL when the string has
//     no sample in the window (the counts too).
//   - discharge_cycles_count: episodes of current_a ≤ −Config.DischargeA
//     (the sign convention of telemetry_string_raw: negative = discharge;
//     default 1 A, well above float current and sensor noise);
//     surge_events_count: episodes of current_a ≤ −Config.SurgeA (default
//     20 A: a high-rate draw). A qualifying sample starts a new episode iff
//     the string's previous qualifying sample is more than
//     Config.EpisodeGap (default 5 min) earlier or there is none; an
//     episode is counted once, in the hour of its first sample, so a window
//     counts the episodes that start inside it. The rule depends only on
//     time, not on the sample interval (as long as the interval is below
//     EpisodeGap), so telemetry at different rates gives the same counts.
//
// # Historian data
//
// Telemetry downsampled by a historian (1 h snapshots) has dt far above
// the default MaxGap: the caller raises the cap per chunk with SetMaxGap
// so each snapshot counts for its interval, and thins the output with
// Config.EmitHour (the lake's feature stage emits one row a historian day,
// at 00:00, for the 24 and 168 h windows). Means stay over samples, so a
// window spanning a change of rate weights the finer days' samples.
//
// Decimal outputs are rounded half away from zero to the registry's scale;
// a value that does not fit the column's precision is an error naming the
// column, battery, feature_ts and value.
//
// # Concurrency
//
// Several PrePass values may run concurrently (a string's sums are locked
// per battery run), and several JarPass values may run concurrently on
// disjoint batteries (for example one per bucket file, or per battery
// group); the shared state a JarPass reads (string means and partials, env)
// is frozen by then. Both are created from the feeding goroutine; the rest
// of the API is single-goroutine. A JarPass emits a battery's rows when
// its run ends (next battery, or Close), in (feature_ts, window) order per
// battery; EndChunk emits the batteries no pass saw in the chunk whose
// windows still hold earlier data. feature_store files are sorted by
// (battery_id, feature_window_hours, feature_ts): a writer reorders the
// rows of a partition (they are few: one per battery, hour and window).
package features
