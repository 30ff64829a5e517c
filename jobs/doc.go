// Package jobs holds battlake's jobs, registered in phase order (seed
// section 7) in registry.go, and the scenario that configures them.
//
// # How the code is organised
//
// Env (env.go) is the small context every synthesis family plans from: the
// validated scenario, the root seed, the fleet built from them, the lake,
// and the derivations the families share (Seed, the room model's
// siteSeed, partition metadata, day, as-of and snapshot segments, the
// telemetry and history months). It holds no cache. A family of tables
// that needs more is a type embedding *Env that owns what only its jobs
// use, and lives as long as the jobs it returns (one run):
//   - master (master.go): no type; each table is a function of the fleet.
//   - telemetry (telemetry*.go): the raw time series. telemetry_sim.go is
//     the simulation side: the seeds and inputs of an entity-day (events,
//     string configuration, the monitoring chain's sensors and faults),
//     the daySim that reads string and room spans (built once per run in
//     the family's shared span caches, spanShare), and pull iterators
//     of readings (jarDay, stringDay). The writers (telemetry.go,
//     telemetry_string.go, telemetry_events.go, telemetry_env.go) map
//     readings to rows on the typed fast path (telemetry_rows.go).
//   - truth (truth.go): the telemetry stage's hidden side, from the same
//     event and fault models.
//   - transactions (transactions*.go, maintenance_event.go,
//     capacity_tests.go, impedance.go, audit_log.go): the four tables are
//     views of one planned history (siteTx per site, planned once, cached
//     by the family); schedule.go reads the fleet's capacity-test list,
//     which telemetry injects as discharges.
//
// The derived stages (calc onwards) are in jobs/derive and its kernel
// packages: they read only the lake, through Env.Lake.
//
// # Table families and how the jobs make them
//
// Master (phase 1, stage "master"): location, battery_model,
// battery_system, string, battery, environmental_sensor, user, ml_model.
// One unpartitioned file each, mapped column by column from jobs/fleet,
// a pure function of (root seed, sites, scenario end). battery holds every
// jar ever installed: a jar reaching end of life or failing is replaced by
// a new row (replacement_of, replaced_date) when the operator's evidence
// (alarm, ohmic survey, inspection, capacity test) says so, after a
// procurement delay (jobs/fleet/ops.go). truth_battery (under _truth/)
// records each jar's hidden life: profile, rates, EOL and failure.
//
// Raw time series (phase 2, stage "telemetry"), over the scenario window
// [start, end) at the sample interval:
//   - telemetry_jar_raw: month x 8 buckets of battery_id; the physics jar
//     model (physics.JarSim) seen through the observation model, which
//     belongs to the sensor and never to the jar's hidden life: the site's
//     BMS product (noise, 1 or 5 mV resolution, ohmic repeatability), the
//     rack position's module (calibration offset drifting between yearly
//     recalibrations, probe-position temperature bias, ohmic gain), its
//     dropouts, stuck values and spikes (physics.DefaultFaultRates) and the
//     gaps of its string gateway and site server. The ohmic reading
//     refreshes every OhmicRefresh (15 min).
//   - telemetry_string_raw: month x 2 buckets of string_id; voltage = sum
//     of the jars' true voltages seen by the string sensor (noise,
//     calibration, faults, the gateway's gaps); float current follows the
//     room temperature, the string's age and a jar in distress; an open
//     cell opens the string (no current); mode, ripple and flags from the
//     string's operating timeline.
//   - telemetry_env: month; the site room model at 60 s per sensor, with
//     each sensor's calibration and faults.
//   - telemetry_event_window: month; one row per discharge test, transfer,
//     equalize and surge, its 100-500 ms samples of every jar of the string
//     in an event_window_sample object under _blobs/ (data_blob_url).
//   - ripple_capture: month x 2 buckets; a 40 ms DC-bus ripple waveform per
//     string every RippleEvery, for THD by FFT in the calculated layer.
//   - truth_battery_daily, truth_event (under _truth/): daily true SOH,
//     capacity, resistance and RUL over each jar's whole history; every
//     injected event and failure.
//
// Raw transactional (phase 3, stage "transactions"), from each site's
// commissioning to the scenario end, monthly partitions: maintenance_event
// (IEEE 1188 cadence; replacements and their work orders from the evidence
// that caused them), capacity_test_raw (the fleet's tests, schedule.go,
// the same list telemetry injects as discharges, measured with the
// instrument's ~1.8 % error; discharge curves from physics.CCDischarge in
// capacity_test_curve objects), impedance_measurement_raw (quarterly ohmic
// readings), audit_log.
//
// Every seed used for a partition derives from the root seed and the
// entity (and day or sample index): no run-wide random sequence exists, so
// any partition can be regenerated alone. Calculated and derived tables
// (phases 4-7) must never read _truth/.
package jobs
