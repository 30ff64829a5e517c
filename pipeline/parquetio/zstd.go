package parquetio

import (
	"cmp"
	"sync"

	"github.com/battlake/battlake/schema"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is parquet-go's compress.Codec for ZSTD with encoders sized for
// Parquet pages. parquet-go's own codec keeps default encoders whose
// history buffers (several MB each) stayed pooled and grew with the number
// of partitions written; pages here are at most PageBufferSize, so a 1 MiB
// window compresses them the same and memory stays flat.
type zstdCodec struct {
	level zstd.EncoderLevel // 0: SpeedDefault
	enc   sync.Pool
	dec   sync.Pool
}

var (
	sharedZstd = &zstdCodec{}
	fastZstd   = &zstdCodec{level: zstd.SpeedFastest}
)

// fastTables are written with ZSTD at its fastest level: the synthesized
// raw time series and the daily truth, the telemetry stage's volume. On a
// fleet-day at 5 s the default level's encoder was a fifth of the stage's
// CPU; the fastest takes 0.4 of that time, for 9 % more bytes on jar
// telemetry (1.11 to 1.21 bytes/row, under its 2.0 cap) and 30 % more on
// truth_battery_daily (5.45 to 7.10). The choice belongs to the table, not
// the writer, so ingest, the Arrow writer and the synthesizer still write
// the same bytes.
var fastTables = map[string]bool{
	"telemetry_jar_raw": true, "telemetry_string_raw": true, "ripple_capture": true,
	"event_window_sample": true, "truth_battery_daily": true,
}

// rawColumns are stored uncompressed: the delta-packed residuals of
// sensor noise, which ZSTD cannot shrink (on the default lake: jar
// voltage 71.40 MB compressed of 71.38 MB, temperature 45.11 of 45.06,
// the string's voltage, current and ripples 1.002-1.003, the ripple
// samples 1.001) but spent a tenth of the jar table's write time trying.
// Like the table's codec, the choice belongs to the column, so every
// writer of the table writes the same bytes.
var rawColumns = map[string]map[string]bool{
	"telemetry_jar_raw":    {"voltage_v": true, "temperature_c": true},
	"telemetry_string_raw": {"voltage_v": true, "current_a": true, "ripple_voltage_rms_v": true, "ripple_current_rms_a": true},
	"ripple_capture":       {"ripple_voltage_v": true},
}

// codecFor is the ZSTD codec of table t's files.
func codecFor(t *schema.Table) *zstdCodec {
	if fastTables[t.Name] {
		return fastZstd
	}
	return sharedZstd
}

func (c *zstdCodec) String() string                            { return "ZSTD" }
func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.enc.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(cmp.Or(c.level, zstd.SpeedDefault)),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20),
			zstd.WithLowerEncoderMem(true),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false))
		if err != nil {
			return nil, err
		}
	}
	out := e.EncodeAll(src, dst[:0])
	c.enc.Put(e)
	return out, nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	d, _ := c.dec.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
	}
	out, err := d.DecodeAll(src, dst[:0])
	c.dec.Put(d)
	return out, err
}
