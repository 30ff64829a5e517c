// Package calc holds the pure compute kernels of the calculated tables
// (specification sections 5.1-5.4): telemetry_jar_calc, telemetry_string_calc,
// capacity_test_calc and impedance_measurement_calc.
//
// The kernels do no IO. They read plain typed columns in the lake's physical
// form (timestamps as int64 UTC microseconds, uuids as [16]byte, decimals as
// unscaled integers at the column's scale, so a parquet-go column read or an
// Arrow Decimal128 array converts with one copy and no float parsing) and
// write their outputs into caller-owned, reused column slices. Rows arrive
// sorted by (entity id, ts) as the lake stores them; the kernels keep state
// per entity (a battery, a string), never per partition, so a caller may
// feed a partition in any number of batches, and successive time slices of
// the same entities, with bounded memory.
//
// Derived jobs see only what the lake holds: this package imports neither
// physics/ nor jobs/fleet. Everything it knows about a battery model comes
// from the master tables (battery_model, battery, string), passed in by the
// caller; every constant taken from domain knowledge (Peukert exponent,
// temperature coefficients, rest and float criteria) is a documented field
// of a Params struct with its default next to it.
//
// NULL: an unscaled decimal input or output is NULL when it equals Null32
// (int32 columns) or Null64 (int64 columns). No valid value of any of the
// registry's decimals comes near those values, so readers map NULLs to them
// while converting and writers map them back; a real 0 stays 0 (SOC 0.00 %
// is a reading, not a NULL).
package calc
