// Package twin is the numerics of the digital twin (seed section 5.6): an
// observer-side equivalent circuit of a 12 V VRLA block, its parameter
// identification from step responses, an extended Kalman filter for SOC,
// the OCV curve fit and the fade figures. It knows no file formats and no
// simulator: it sees only what a monitoring system records (time, current,
// terminal voltage, temperature), so it runs on ingested data as well.
//
// Conventions: current in A, positive charges the block; voltage in V;
// resistance in Ω; capacitance in F; time in s; SOC as a fraction 0..1.
//
// The priors below are literature ranges (vrla-physics.md, "equivalent
// circuit": τ1 10-60 s, τ2 10-60 min, R1+R2 ≈ 0.5-1.5 × R0; "OCV": near
// linear 11.8 V at 0 % to 12.9 V at 100 %, +0.2-0.3 mV/°C per cell), not
// the simulator's constants.
package twin
