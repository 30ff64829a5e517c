package features

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
)

// strState is one string's carried state: episode and dt state, the
// hourly partials of the string features and the chunk's string-mean slots.
type strState struct {
	id                       uuid.UUID
	lastTS, lastDis, lastSur int64
	ring                     []strHour   // a power of two, indexed by hour & (len-1), stamped
	thd, env                 int32       // series indexes, -1 if none
	mu                       *sync.Mutex // guards slots during concurrent pre-passes
	slots                    slotSet
}

// strHour is the partial of one string-hour.
type strHour struct {
	hour       int64
	n          int32 // string samples
	dis, sur   int32 // episodes starting in the hour
	rn, tn     int32 // non-NULL ripple, as-of THD samples
	ah         float64
	rsum, tsum int64
}

func (s *strState) hour(h int64) *strHour {
	p := &s.ring[h&int64(len(s.ring)-1)]
	if p.hour != h {
		*p = strHour{hour: h}
	}
	return p
}

// at returns the partial of hour h if present.
func (s *strState) at(h int64) *strHour {
	p := &s.ring[h&int64(len(s.ring)-1)]
	if p.hour != h {
		return nil
	}
	return p
}

// StringBatch is a batch of telemetry_string_raw sorted by (string_id, ts):
// Current is current_a ×1e3 (negative = discharge), Ripple is
// ripple_voltage_rms_v ×1e3.
type StringBatch struct {
	StringID []uuid.UUID
	TS       []int64
	Current  []int32
	Ripple   []int32
}

// AddString feeds telemetry_string_raw rows of the chunk. Rows of strings
// without batteries in the master are ignored.
func (e *Engine) AddString(b *StringBatch) error {
	if err := e.enter(phaseString, "telemetry_string_raw"); err != nil {
		return err
	}
	n := len(b.TS)
	if len(b.StringID) != n || len(b.Current) != n || len(b.Ripple) != n {
		return fmt.Errorf("telemetry_string_raw batch: columns of unequal length (%d rows)", n)
	}
	for i := 0; i < n; {
		j := i + 1
		for j < n && b.StringID[j] == b.StringID[i] {
			j++
		}
		if si, ok := e.strIdx[b.StringID[i]]; ok {
			if err := e.stringRun(&e.strs[si], b.TS[i:j], b.Current[i:j], b.Ripple[i:j]); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

func (e *Engine) stringRun(s *strState, ts []int64, cur, rip []int32) error {
	var thd *series
	k := -1
	if s.thd >= 0 {
		thd = &e.thd[s.thd]
		k = thd.asOf(ts[0])
	}
	maxGap, epi := e.maxGap, e.episodeGap
	dis, sur := -e.dischargeMA, -e.surgeMA
	last := s.lastTS
	if last == none {
		last = ts[0]
	}
	var p *strHour
	hourEnd := int64(none)
	for i, t := range ts {
		if t <= s.lastTS || t < e.from || t >= e.to {
			return fmt.Errorf("telemetry_string_raw: string %s ts %s: out of order, duplicated or outside the chunk", s.id, time.UnixMicro(t).UTC())
		}
		if t >= hourEnd {
			h := t / hourUS
			p, hourEnd = s.hour(h), (h+1)*hourUS
		}
		dt := min(t-last, maxGap)
		last, s.lastTS = t, t
		p.n++
		if thd != nil {
			for k+1 < len(thd.ts) && thd.ts[k+1] <= t {
				k++
			}
			if k >= 0 {
				p.tsum += int64(thd.val[k])
				p.tn++
			}
		}
		if r := rip[i]; r != Null {
			p.rsum += int64(r)
			p.rn++
		}
		c := cur[i]
		if c == Null {
			continue
		}
		p.ah += float64(abs32(c)) * float64(dt)
		if c <= dis {
			if s.lastDis == none || t-s.lastDis > epi {
				p.dis++
			}
			s.lastDis = t
		}
		if c <= sur {
			if s.lastSur == none || t-s.lastSur > epi {
				p.sur++
			}
			s.lastSur = t
		}
	}
	return nil
}

func abs32(x int32) int64 {
	if x < 0 {
		return -int64(x)
	}
	return int64(x)
}

// slotSet holds, for one string and chunk, the sorted distinct jar
// timestamps and the sum and count of the jar voltages at each; after the
// pre-pass, mean replaces them.
type slotSet struct {
	ts   []int64
	sum  []int64
	cnt  []int32
	mean []float64
	// out-of-grid rows, merged by finalize
	xts []int64
	xv  []int32
}

func (s *slotSet) reset() {
	s.ts, s.sum, s.cnt, s.mean, s.xts, s.xv = s.ts[:0], s.sum[:0], s.cnt[:0], s.mean[:0], s.xts[:0], s.xv[:0]
}

// add accumulates one battery run (sorted ts). The common case, every jar
// of the string on the same timestamps, is a linear merge; a timestamp not
// yet in the set is appended when it is past the end, else parked.
func (s *slotSet) add(ts []int64, v []int32) {
	c := sort.Search(len(s.ts), func(i int) bool { return s.ts[i] >= ts[0] })
	n := len(s.ts)
	if n == 0 {
		s.ts, s.sum, s.cnt = slices.Grow(s.ts, len(ts)), slices.Grow(s.sum, len(ts)), slices.Grow(s.cnt, len(ts))
	}
	v = v[:len(ts)]
	for i, t := range ts {
		x := v[i]
		if x == Null {
			continue
		}
		if c < n && s.ts[c] == t { // the common case: the next slot
			s.sum[c] += int64(x)
			s.cnt[c]++
			c++
			continue
		}
		for c < n && s.ts[c] < t {
			c++
		}
		switch {
		case c < n && s.ts[c] == t:
			s.sum[c] += int64(x)
			s.cnt[c]++
			c++
		case c == n:
			s.ts = append(s.ts, t)
			s.sum = append(s.sum, int64(x))
			s.cnt = append(s.cnt, 1)
			n++
			c = n
		default:
			s.xts = append(s.xts, t)
			s.xv = append(s.xv, x)
		}
	}
}

// finalize merges parked rows and turns sums into means.
func (s *slotSet) finalize() {
	if len(s.xts) > 0 {
		idx := make([]int, len(s.xts))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return s.xts[idx[a]] < s.xts[idx[b]] })
		nts := make([]int64, 0, len(s.ts)+len(idx))
		nsum := make([]int64, 0, cap(nts))
		ncnt := make([]int32, 0, cap(nts))
		i, j := 0, 0
		for i < len(s.ts) || j < len(idx) {
			var t int64
			switch {
			case j == len(idx) || (i < len(s.ts) && s.ts[i] <= s.xts[idx[j]]):
				t = s.ts[i]
			default:
				t = s.xts[idx[j]]
			}
			var sum int64
			var cnt int32
			for i < len(s.ts) && s.ts[i] == t {
				sum += s.sum[i]
				cnt += s.cnt[i]
				i++
			}
			for j < len(idx) && s.xts[idx[j]] == t {
				sum += int64(s.xv[idx[j]])
				cnt++
				j++
			}
			nts, nsum, ncnt = append(nts, t), append(nsum, sum), append(ncnt, cnt)
		}
		s.ts, s.sum, s.cnt = nts, nsum, ncnt
		s.xts, s.xv = s.xts[:0], s.xv[:0]
	}
	s.mean = slices.Grow(s.mean[:0], len(s.ts))[:len(s.ts)]
	for i := range s.ts {
		s.mean[i] = float64(s.sum[i]) / float64(s.cnt[i])
	}
}
