package derive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/battlake/battlake/jobs/twin"
	"github.com/google/uuid"
)

// The twin's state file (lake.Output.WriteState): every jar's EKF state at
// the end of one day, bit-exact, with what it was computed from, so the
// next day derived alone resumes from it instead of replaying its month.
// Little-endian:
//
//	magic "BLTWINST", format uint32
//	code version, day (YYYY-MM-DD), chain digest: each uint16 length + bytes
//	jars uint32, then per jar (by battery id): id [16]byte, X [3]float64,
//	P [3][3]float64, LastT float64 (IEEE bits), started uint8
//
// Binary, not Parquet: it is read whole by one job, never by a table glob,
// and 14 doubles a jar need no column statistics.

const (
	twinStateMagic  = "BLTWINST"
	twinStateFormat = 1
	twinStateJar    = 16 + 13*8 + 1 // bytes per jar
)

// errStateStale says a state file was computed from other inputs or code
// than the chain a day would resume now.
var errStateStale = errors.New("state computed from other inputs")

// errStateCorrupt says a state file does not decode.
var errStateCorrupt = errors.New("state file does not decode")

// encodeTwinState encodes the end states of day d, computed from the
// filter chain chain (chainThrough(d)).
func encodeTwinState(d time.Time, chain string, states map[uuid.UUID]twin.EKFState) []byte {
	ids := make([]uuid.UUID, 0, len(states))
	for id := range states {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	le := binary.LittleEndian
	b := make([]byte, 0, 64+len(chain)+len(CodeVersion)+len(ids)*twinStateJar)
	b = append(b, twinStateMagic...)
	b = le.AppendUint32(b, twinStateFormat)
	for _, s := range []string{CodeVersion, d.Format(time.DateOnly), chain} {
		b = le.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = le.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		st := states[id]
		b = append(b, id[:]...)
		for _, x := range st.X {
			b = le.AppendUint64(b, math.Float64bits(x))
		}
		for _, row := range st.P {
			for _, x := range row {
				b = le.AppendUint64(b, math.Float64bits(x))
			}
		}
		b = le.AppendUint64(b, math.Float64bits(st.LastT))
		started := byte(0)
		if st.Started {
			started = 1
		}
		b = append(b, started)
	}
	return b
}

// decodeTwinState decodes the state file key of day d and checks it was
// computed by this code from chain; errors name the file and the field or
// jar record.
func decodeTwinState(key string, b []byte, d time.Time, chain string) (map[uuid.UUID]twin.EKFState, error) {
	le := binary.LittleEndian
	bad := func(what string) error { return fmt.Errorf("state %s: %s: %w", key, what, errStateCorrupt) }
	if len(b) < len(twinStateMagic)+4 || string(b[:len(twinStateMagic)]) != twinStateMagic {
		return nil, bad("no state header")
	}
	b = b[len(twinStateMagic):]
	if f := le.Uint32(b); f != twinStateFormat {
		return nil, fmt.Errorf("state %s: format %d, this code writes %d: %w", key, f, twinStateFormat, errStateStale)
	}
	b = b[4:]
	var hdr [3]string
	for i, name := range []string{"code version", "day", "chain digest"} {
		if len(b) < 2 || len(b) < 2+int(le.Uint16(b)) {
			return nil, bad("truncated " + name)
		}
		n := int(le.Uint16(b))
		hdr[i], b = string(b[2:2+n]), b[2+n:]
	}
	switch {
	case hdr[0] != CodeVersion:
		return nil, fmt.Errorf("state %s: written by %s, this code is %s: %w", key, hdr[0], CodeVersion, errStateStale)
	case hdr[1] != d.Format(time.DateOnly):
		return nil, fmt.Errorf("state %s: holds day %s, want %s: %w", key, hdr[1], d.Format(time.DateOnly), errStateStale)
	case hdr[2] != chain:
		return nil, fmt.Errorf("state %s: filter chain %.12s, the month's inputs now give %.12s: %w", key, hdr[2], chain, errStateStale)
	}
	if len(b) < 4 {
		return nil, bad("truncated jar count")
	}
	n := int(le.Uint32(b))
	b = b[4:]
	if len(b) != n*twinStateJar {
		return nil, bad(fmt.Sprintf("%d jars need %d bytes, %d left", n, n*twinStateJar, len(b)))
	}
	out := make(map[uuid.UUID]twin.EKFState, n)
	f := func(k int) float64 { return math.Float64frombits(le.Uint64(b[16+8*k:])) }
	for j := 0; j < n; j, b = j+1, b[twinStateJar:] {
		id := uuid.UUID(b[:16])
		var st twin.EKFState
		for k := range st.X {
			st.X[k] = f(k)
		}
		for r := range st.P {
			for c := range st.P[r] {
				st.P[r][c] = f(3 + 3*r + c)
			}
		}
		st.LastT = f(12)
		switch b[twinStateJar-1] {
		case 0:
		case 1:
			st.Started = true
		default:
			return nil, bad(fmt.Sprintf("jar %d (%s): started flag %d", j, id, b[twinStateJar-1]))
		}
		if _, dup := out[id]; dup {
			return nil, bad(fmt.Sprintf("jar %d (%s): repeated", j, id))
		}
		out[id] = st
	}
	return out, nil
}
