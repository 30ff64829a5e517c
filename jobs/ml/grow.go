package ml

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// histBin accumulates gradient, hessian and row count of one (feature, bin).
type histBin struct {
	g, h float64
	n    int64
}

// builder grows trees on the binned training data. All state is owned by one
// goroutine; the order of every float sum is fixed, so fits are repeatable.
type builder struct {
	p Params
	F int
	// grp[g][row] packs the uint8 bins of features 8g..8g+7 of a row into
	// one word (feature 8g+k in bits 8k..8k+7): a histogram pass reads one
	// word per row for eight features, and a node's scattered rows cost one
	// cache line per group instead of one per feature.
	grp    [][]uint64
	y, w   []float64
	margin []float64
	grad   []float64
	hess   []float64
	nb     []int // value bins per feature
	upper  [][]float64

	idx, scratch []int32
	oob          []int32 // rows left out of the tree's subsample, partitioned alongside idx
	active       []int
	activeGrp    []int // groups holding an active feature
	allActive    bool
	pool         [][]histBin
	resid, rw    []float64 // quantile leaf refit scratch
	packed, pk   []int64   // quantized gradient + count per row, and gathered in node order
	hq, hk       []int64   // quantized hessian per row, and gathered (unless constH)
	gscale       float64   // gradient units per quantization step
	hscale       float64   // hessian units per quantization step
	// constW > 0 when every weight equals it: covers are counts·constW and,
	// for the squared and quantile losses, every hessian is constW (constH),
	// so histograms need no hessian accumulator.
	constW float64
	constH bool
}

type growNode struct {
	id           int32
	start, end   int // the node's sampled rows: idx[start:end]
	ostart, oend int // its out-of-sample rows: oob[ostart:oend]
	g, h         float64
	n            int64
	hist         []histBin
}

type leafRange struct {
	id                       int32
	start, end, ostart, oend int
}

func newBuilder(X Matrix, y, w []float64, bm *binMapper, p Params) *builder {
	b := &builder{
		p: p, F: X.Cols, grp: bm.binGroups(X), y: y, w: w, upper: bm.upper,
		margin: make([]float64, X.Rows), grad: make([]float64, X.Rows), hess: make([]float64, X.Rows),
		nb:  make([]int, X.Cols),
		idx: make([]int32, X.Rows), scratch: make([]int32, X.Rows), oob: make([]int32, X.Rows),
	}
	for f := range b.nb {
		b.nb[f] = bm.valueBins(f)
	}
	b.constW = w[0]
	for _, v := range w {
		if v != b.constW {
			b.constW = 0
			break
		}
	}
	b.constH = b.constW > 0 && p.Loss != LossLogistic
	b.packed, b.pk = make([]int64, X.Rows), make([]int64, X.Rows)
	if !b.constH {
		b.hq, b.hk = make([]int64, X.Rows), make([]int64, X.Rows)
	}
	return b
}

// initScore is the constant model minimising the loss.
func (b *builder) initScore() float64 {
	switch b.p.Loss {
	case LossQuantile:
		return weightedQuantile(slices.Clone(b.y), slices.Clone(b.w), b.p.Alpha)
	case LossLogistic:
		var s, sw float64
		for i, y := range b.y {
			s += b.w[i] * y
			sw += b.w[i]
		}
		pr := min(max(s/sw, 1e-6), 1-1e-6)
		return math.Log(pr / (1 - pr))
	default:
		var s, sw float64
		for i, y := range b.y {
			s += b.w[i] * y
			sw += b.w[i]
		}
		return s / sw
	}
}

func (b *builder) gradients(rows []int32) {
	alpha := b.p.Alpha
	for _, r := range rows {
		w, y, f := b.w[r], b.y[r], b.margin[r]
		switch b.p.Loss {
		case LossQuantile:
			if f > y {
				b.grad[r] = w * (1 - alpha)
			} else {
				b.grad[r] = -w * alpha
			}
			b.hess[r] = w
		case LossLogistic:
			pr := sigmoid(f)
			b.grad[r] = w * (pr - y)
			b.hess[r] = w * max(pr*(1-pr), 1e-16)
		default:
			b.grad[r] = w * (f - y)
			b.hess[r] = w
		}
	}
}

func (b *builder) getHist() []histBin {
	if n := len(b.pool); n > 0 {
		h := b.pool[n-1]
		b.pool = b.pool[:n-1]
		return h
	}
	return make([]histBin, 256*b.F) // 256 slots per feature: uint8 bins index without bounds checks
}

func (b *builder) putHist(h []histBin) {
	if h != nil {
		b.pool = append(b.pool, h)
	}
}

// buildHist fills the active features' histograms from rows. Gradients
// and hessians are quantized per tree (quantize) and gathered into
// contiguous arrays in the rows' order (LightGBM's "ordered gradients");
// then each group of eight features is one pass over the rows, reading one
// packed word of bins per row into 256-bin integer accumulators that stay
// in L1. Integer sums are exact, so row order cannot change them; with
// Params.Workers > 1 groups are shared among goroutines with identical
// results.
//
// Packing: a row contributes q_g·2²¹ + 1 to one int64 (the quantized
// gradient above a 21-bit row count) and, unless every hessian is the same
// constant, q_h to a second int64.
func (b *builder) buildHist(hist []histBin, rows []int32) {
	pk := b.pk[:len(rows)]
	for i, r := range rows {
		pk[i] = b.packed[r]
	}
	if !b.constH {
		hk := b.hk[:len(rows)]
		for i, r := range rows {
			hk[i] = b.hq[r]
		}
	}
	identity := len(rows) == len(b.y) // root without subsampling: rows are 0..n-1
	workers := min(max(b.p.Workers, 1), len(b.activeGrp))
	if workers == 1 || len(rows) < 4096 {
		for _, g := range b.activeGrp {
			b.histGroup(hist, g, rows, identity)
		}
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		chunk := b.activeGrp[k*len(b.activeGrp)/workers : (k+1)*len(b.activeGrp)/workers]
		wg.Go(func() {
			for _, g := range chunk {
				b.histGroup(hist, g, rows, identity)
			}
		})
	}
	wg.Wait()
}

const (
	countBits = 21 // packed histogram: low 21 bits count rows (< 2M rows)
	countMask = 1<<countBits - 1
	maxRows   = countMask
	gradLevel = 32767   // quantized |gradient| ≤ 2¹⁵−1: |Σ| < 2³⁶, fits above the count
	hessLevel = 1 << 30 // quantized hessian ≤ 2³⁰: Σ < 2⁵¹
)

// quantize rounds the rows' gradients to 16 bits (step max|g|/32767) and
// hessians to 30 bits (step max h/2³⁰). The quantized sums only rank
// splits; leaf values are computed from exact float sums.
func (b *builder) quantize(rows []int32) {
	var mg, mh float64
	for _, r := range rows {
		mg = max(mg, math.Abs(b.grad[r]))
		mh = max(mh, b.hess[r])
	}
	b.gscale, b.hscale = 1, 1
	if mg > 0 {
		b.gscale = mg / gradLevel
	}
	inv := 1 / b.gscale
	for _, r := range rows {
		// Round half away from zero by truncating q ± ½: bit operations,
		// no branch on the sign (math.Round is a software routine).
		q := b.grad[r] * inv
		b.packed[r] = int64(q+math.Copysign(0.5, q))<<countBits + 1
	}
	if b.constH {
		return
	}
	if mh > 0 {
		b.hscale = mh / hessLevel
	}
	inv = 1 / b.hscale
	for _, r := range rows {
		b.hq[r] = int64(b.hess[r]*inv + 0.5) // hessians are ≥ 0
	}
}

// histGroup builds the histograms of the eight features of group g in one
// pass over rows (inactive or padding lanes are computed and ignored).
func (b *builder) histGroup(hist []histBin, g int, rows []int32, identity bool) {
	if b.constH {
		b.histGroupConst(hist, g, rows, identity)
		return
	}
	var a, hs [8][256]int64 // 32 KB on the stack
	col := b.grp[g]
	pk, hk := b.pk[:len(rows)], b.hk[:len(rows)]
	if identity {
		col = col[:len(pk)]
		hk = hk[:len(pk)]
		for i, v := range col {
			p, q := pk[i], hk[i]
			b0, b1, b2, b3 := uint8(v), uint8(v>>8), uint8(v>>16), uint8(v>>24)
			b4, b5, b6, b7 := uint8(v>>32), uint8(v>>40), uint8(v>>48), uint8(v>>56)
			a[0][b0] += p
			hs[0][b0] += q
			a[1][b1] += p
			hs[1][b1] += q
			a[2][b2] += p
			hs[2][b2] += q
			a[3][b3] += p
			hs[3][b3] += q
			a[4][b4] += p
			hs[4][b4] += q
			a[5][b5] += p
			hs[5][b5] += q
			a[6][b6] += p
			hs[6][b6] += q
			a[7][b7] += p
			hs[7][b7] += q
		}
	} else {
		for i, r := range rows {
			p, q, v := pk[i], hk[i], col[r]
			b0, b1, b2, b3 := uint8(v), uint8(v>>8), uint8(v>>16), uint8(v>>24)
			b4, b5, b6, b7 := uint8(v>>32), uint8(v>>40), uint8(v>>48), uint8(v>>56)
			a[0][b0] += p
			hs[0][b0] += q
			a[1][b1] += p
			hs[1][b1] += q
			a[2][b2] += p
			hs[2][b2] += q
			a[3][b3] += p
			hs[3][b3] += q
			a[4][b4] += p
			hs[4][b4] += q
			a[5][b5] += p
			hs[5][b5] += q
			a[6][b6] += p
			hs[6][b6] += q
			a[7][b7] += p
			hs[7][b7] += q
		}
	}
	b.unpackGroup(hist, g, &a, &hs)
}

func (b *builder) histGroupConst(hist []histBin, g int, rows []int32, identity bool) {
	var a [8][256]int64
	col := b.grp[g]
	pk := b.pk[:len(rows)]
	if identity {
		col = col[:len(pk)]
		for i, v := range col {
			p := pk[i]
			a[0][uint8(v)] += p
			a[1][uint8(v>>8)] += p
			a[2][uint8(v>>16)] += p
			a[3][uint8(v>>24)] += p
			a[4][uint8(v>>32)] += p
			a[5][uint8(v>>40)] += p
			a[6][uint8(v>>48)] += p
			a[7][uint8(v>>56)] += p
		}
	} else {
		for i, r := range rows {
			p, v := pk[i], col[r]
			a[0][uint8(v)] += p
			a[1][uint8(v>>8)] += p
			a[2][uint8(v>>16)] += p
			a[3][uint8(v>>24)] += p
			a[4][uint8(v>>32)] += p
			a[5][uint8(v>>40)] += p
			a[6][uint8(v>>48)] += p
			a[7][uint8(v>>56)] += p
		}
	}
	b.unpackGroup(hist, g, &a, nil)
}

// unpackGroup decodes packed sums into the group's feature histograms.
func (b *builder) unpackGroup(hist []histBin, g int, a, hs *[8][256]int64) {
	for k := range 8 {
		f := 8*g + k
		if f >= b.F {
			break
		}
		h := hist[f*256 : f*256+b.nb[f]+1]
		for j := range h {
			n := a[k][j] & countMask
			hv := float64(n) * b.constW
			if hs != nil {
				hv = float64(hs[k][j]) * b.hscale
			}
			h[j] = histBin{g: float64(a[k][j]>>countBits) * b.gscale, h: hv, n: n}
		}
	}
}

type split struct {
	feature     int
	bin         int
	defaultLeft bool
	gain        float64 // G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)
	lg, lh      float64
	ln          int64
}

// bestSplit scans the active features' histograms; ties keep the first
// (lowest feature, lowest bin, missing-right first), so it is deterministic.
func (b *builder) bestSplit(gn *growNode) (split, bool) {
	lam := b.p.Lambda
	minN := int64(b.p.MinSamplesLeaf)
	minH := b.p.MinHessianLeaf
	parent := gn.g * gn.g / (gn.h + lam)
	best := split{gain: 2*b.p.MinGain + 1e-12*(1+parent)}
	found := false
	eval := func(f, t int, lg, lh float64, ln int64, defaultLeft, missKnown bool) {
		rn := gn.n - ln
		rg, rh := gn.g-lg, gn.h-lh
		if ln < minN || rn < minN || lh < minH || rh < minH {
			return
		}
		gain := lg*lg/(lh+lam) + rg*rg/(rh+lam) - parent
		if gain > best.gain {
			if !missKnown {
				defaultLeft = lh >= rh // unseen NaN follows the heavier child
			}
			best = split{feature: f, bin: t, defaultLeft: defaultLeft, gain: gain, lg: lg, lh: lh, ln: ln}
			found = true
		}
	}
	for _, f := range b.active {
		nb := b.nb[f]
		h := gn.hist[f*256 : f*256+nb+1]
		miss := h[nb]
		var ag, ah float64
		var an int64
		for t := 0; t < nb; t++ {
			e := h[t]
			if e.n == 0 && t > 0 {
				continue // same partition as bin t-1
			}
			ag += e.g
			ah += e.h
			an += e.n
			if t < nb-1 {
				eval(f, t, ag, ah, an, false, miss.n > 0)
				if miss.n > 0 {
					eval(f, t, ag+miss.g, ah+miss.h, an+miss.n, true, true)
				}
			} else if miss.n > 0 {
				eval(f, t, ag, ah, an, false, true) // all values left, NaN right
			}
		}
	}
	return best, found
}

// growTree grows one depth-wise tree on a seeded row/feature subsample and
// adds its values to the training margins.
func (b *builder) growTree(rng *rand.Rand) tree {
	p := b.p
	n := len(b.y)
	// Row subsample (Bernoulli), ascending for cache-friendly scans.
	ns, no := 0, 0
	if p.Subsample >= 1 {
		for i := 0; i < n; i++ {
			b.idx[i] = int32(i)
		}
		ns = n
	} else {
		for i := 0; i < n; i++ {
			if rng.Float64() < p.Subsample {
				b.idx[ns] = int32(i)
				ns++
			} else {
				b.oob[no] = int32(i)
				no++
			}
		}
		if ns == 0 { // keep one row so the tree has a root
			b.idx[0] = b.oob[no-1]
			ns, no = 1, no-1
		}
	}
	// Feature subsample.
	k := max(1, int(math.Round(p.ColSample*float64(b.F))))
	b.allActive = k >= b.F
	b.active = b.active[:0]
	if b.allActive {
		for f := 0; f < b.F; f++ {
			b.active = append(b.active, f)
		}
	} else {
		b.active = append(b.active, rng.Perm(b.F)[:k]...)
		slices.Sort(b.active)
	}
	b.activeGrp = b.activeGrp[:0]
	for _, f := range b.active {
		if g := f / 8; len(b.activeGrp) == 0 || b.activeGrp[len(b.activeGrp)-1] != g {
			b.activeGrp = append(b.activeGrp, g)
		}
	}
	rows := b.idx[:ns]
	b.gradients(rows)
	b.quantize(rows)

	root := growNode{id: 0, start: 0, end: ns, ostart: 0, oend: no, hist: b.getHist()}
	for _, r := range rows {
		root.g += b.grad[r]
		root.h += b.hess[r]
	}
	root.n = int64(ns)
	b.buildHist(root.hist, rows)

	t := tree{nodes: []node{{Feature: -1, Cover: b.cover(rows)}}}
	var leaves []leafRange
	level := []growNode{root}
	for depth := 0; len(level) > 0; depth++ {
		var next []growNode
		for i := range level {
			gn := &level[i]
			var s split
			ok := false
			if depth < p.MaxDepth && gn.n >= 2*int64(p.MinSamplesLeaf) {
				s, ok = b.bestSplit(gn)
			}
			if !ok {
				b.putHist(gn.hist)
				leaves = append(leaves, leafRange{gn.id, gn.start, gn.end, gn.ostart, gn.oend})
				t.nodes[gn.id].Value = b.leafValue(gn)
				continue
			}
			mid := b.partition(b.idx, gn.start, gn.end, s)
			omid := b.partition(b.oob, gn.ostart, gn.oend, s)
			lid, rid := int32(len(t.nodes)), int32(len(t.nodes)+1)
			thr := math.MaxFloat64 // bin nb-1: every finite value goes left
			if s.bin < b.nb[s.feature]-1 {
				thr = b.upper[s.feature][s.bin]
			}
			nd := &t.nodes[gn.id]
			nd.Feature, nd.DefaultLeft, nd.Left, nd.Right = int32(s.feature), s.defaultLeft, lid, rid
			nd.Threshold, nd.Gain = thr, s.gain/2
			t.nodes = append(t.nodes,
				node{Feature: -1, Cover: b.cover(b.idx[gn.start:mid])},
				node{Feature: -1, Cover: b.cover(b.idx[mid:gn.end])})
			l := growNode{id: lid, start: gn.start, end: mid, ostart: gn.ostart, oend: omid, g: s.lg, h: s.lh, n: s.ln}
			r := growNode{id: rid, start: mid, end: gn.end, ostart: omid, oend: gn.oend, g: gn.g - s.lg, h: gn.h - s.lh, n: gn.n - s.ln}
			if depth+1 < p.MaxDepth {
				// Histogram subtraction: scan the smaller child, derive the larger.
				small, large := &l, &r
				if r.n < l.n {
					small, large = &r, &l
				}
				small.hist = b.getHist()
				b.buildHist(small.hist, b.idx[small.start:small.end])
				large.hist = gn.hist
				for _, f := range b.active {
					lo, hi := f*256, f*256+b.nb[f]+1
					ph, sh := large.hist[lo:hi], small.hist[lo:hi]
					for j := range ph {
						ph[j].g -= sh[j].g
						ph[j].h -= sh[j].h
						ph[j].n -= sh[j].n
					}
				}
			} else {
				b.putHist(gn.hist)
			}
			gn.hist = nil
			next = append(next, l, r)
		}
		level = next
	}
	t.compile()
	// Margins: every row, sampled or not, sits in its leaf's ranges.
	for _, lr := range leaves {
		v := t.nodes[lr.id].Value
		for _, r := range b.idx[lr.start:lr.end] {
			b.margin[r] += v
		}
		for _, r := range b.oob[lr.ostart:lr.oend] {
			b.margin[r] += v
		}
	}
	return t
}

func (b *builder) cover(rows []int32) float64 {
	if b.constW > 0 {
		return float64(len(rows)) * b.constW
	}
	var s float64
	for _, r := range rows {
		s += b.w[r]
	}
	return s
}

// partition reorders ix[start:end] stably into left rows then right rows
// and returns the boundary.
func (b *builder) partition(ix []int32, start, end int, s split) int {
	col, shift := b.grp[s.feature/8], uint(8*(s.feature%8))
	miss := uint8(b.nb[s.feature])
	thr := uint8(s.bin)
	l, k := start, 0
	for i := start; i < end; i++ {
		r := ix[i]
		v := uint8(col[r] >> shift)
		left := v <= thr
		if v == miss {
			left = s.defaultLeft
		}
		// Write both ways, advance one: no unpredictable branch per row.
		ix[l] = r
		b.scratch[k] = r
		d := 0
		if left {
			d = 1
		}
		l += d
		k += 1 - d
	}
	copy(ix[l:end], b.scratch[:k])
	return l
}

// leafValue is the shrunken Newton step −G/(H+λ), or for the quantile loss
// the weighted Alpha-quantile of the leaf's residuals y − margin.
func (b *builder) leafValue(gn *growNode) float64 {
	if b.p.Loss == LossQuantile {
		rows := b.idx[gn.start:gn.end]
		b.resid, b.rw = b.resid[:0], b.rw[:0]
		for _, r := range rows {
			b.resid = append(b.resid, b.y[r]-b.margin[r])
			b.rw = append(b.rw, b.w[r])
		}
		return b.p.LearningRate * weightedQuantile(b.resid, b.rw, b.p.Alpha)
	}
	// gn.g, gn.h came from quantized sums: use exact ones.
	var g, h float64
	for _, r := range b.idx[gn.start:gn.end] {
		g += b.grad[r]
		h += b.hess[r]
	}
	return -b.p.LearningRate * g / (h + b.p.Lambda)
}

// weightedQuantile returns the smallest v in vals with Σ_{vals ≤ v} w ≥
// alpha·Σw (the lower weighted quantile) by weighted quickselect, expected
// O(n). It reorders vals and w.
func weightedQuantile(vals, w []float64, alpha float64) float64 {
	var total float64
	for _, x := range w {
		total += x
	}
	target := alpha * total
	lo, hi := 0, len(vals)
	acc := 0.0 // weight of the values already known to be below vals[lo:hi]
	for hi-lo > 1 {
		a, m, c := vals[lo], vals[lo+(hi-lo)/2], vals[hi-1]
		pivot := max(min(a, m), min(max(a, m), c)) // median of three
		// Three-way partition: [lo,lt) < pivot, [lt,gt) == pivot, [gt,hi) > pivot.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch v := vals[i]; {
			case v < pivot:
				vals[lt], vals[i] = vals[i], vals[lt]
				w[lt], w[i] = w[i], w[lt]
				lt++
				i++
			case v > pivot:
				gt--
				vals[gt], vals[i] = vals[i], vals[gt]
				w[gt], w[i] = w[i], w[gt]
			default:
				i++
			}
		}
		var wl, we float64
		for j := lo; j < lt; j++ {
			wl += w[j]
		}
		for j := lt; j < gt; j++ {
			we += w[j]
		}
		switch {
		case lt > lo && acc+wl >= target:
			hi = lt
		case acc+wl+we >= target || gt == hi:
			return pivot
		default:
			acc += wl + we
			lo = gt
		}
	}
	return vals[lo]
}
