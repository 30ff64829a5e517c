package validate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
)

// inMemoryLimit: files up to this size are read once into memory, hashed
// and parsed from there (one GET on S3); larger ones are hashed streaming
// and parsed with ranged reads. Time-series day files of the full fleet
// are ~8 MB a bucket.
const inMemoryLimit = 256 << 20

// tablePlan is what the row checks need of a table, resolved once.
type tablePlan struct {
	t        *schema.Table
	mode     pkMode
	cols     []string // read by the slice reader: every numeric, id and time column
	kinds    []schema.Kind
	strCols  []string // read as Arrow strings: enums, VARCHAR, TEXT, JSON
	decimals []decimalCheck
	month    int // read column of Partition.MonthOf, -1: none
	bucket   int // read column of Partition.BucketOf, -1: none
	fks      []fkCheck
	key      []int // read columns of the primary key: SortBy order (sorted, blob), declaration order (hash)
	blobKey  int   // read column of the blob key, -1: none
}

type decimalCheck struct {
	j     int
	col   *schema.Column
	bound int64 // |unscaled| <= bound
}

type fkCheck struct {
	j   int
	col string
	set *keySet
}

func (v *validator) plan(ctx context.Context, t *schema.Table) (*tablePlan, error) {
	p := &tablePlan{t: t, mode: pkModeOf(t), month: -1, bucket: -1, blobKey: -1}
	idx := map[string]int{}
	for i := range t.Columns {
		c := &t.Columns[i]
		if !sliceKind(c.Type.Kind) {
			p.strCols = append(p.strCols, c.Name)
			continue
		}
		idx[c.Name] = len(p.cols)
		p.cols = append(p.cols, c.Name)
		p.kinds = append(p.kinds, c.Type.Kind)
		if c.Type.Kind == schema.KindDecimal {
			p.decimals = append(p.decimals, decimalCheck{j: idx[c.Name], col: c, bound: c.DecimalBounds()})
		}
	}
	if j, ok := idx[t.Partition.MonthOf]; ok {
		p.month = j
	}
	if j, ok := idx[t.Partition.BucketOf]; ok && t.Partition.Buckets > 1 {
		p.bucket = j
	}
	if b := t.Blob(); b != nil {
		p.blobKey = idx[b.Key]
	}
	switch p.mode {
	case pkSorted, pkBlob:
		for _, c := range t.SortBy[:len(t.PrimaryKey())] {
			p.key = append(p.key, idx[c])
		}
	case pkHash:
		for _, c := range t.PrimaryKey() {
			p.key = append(p.key, idx[c])
		}
	}
	for _, fk := range t.ForeignKeys() {
		j, ok := idx[fk.Column]
		if !ok {
			continue
		}
		set, err := v.refSet(ctx, fk.Ref)
		if err != nil {
			return nil, err
		}
		if set != nil {
			p.fks = append(p.fks, fkCheck{j: j, col: fk.Column, set: set})
		}
	}
	return p, nil
}

// fileScan holds one file's scan state.
type fileScan struct {
	task  fileTask
	plan  *tablePlan
	res   *fileResult
	where Violation // location fields of every violation of the file
	// partition bounds of the month column, in its unit (µs or days)
	lo, hi     int64
	spanWhat   string
	prev, cur  []keyVal
	havePrev   bool
	unsorted   bool
	lastFK     [][16]byte
	lastFKOK   []bool
	lastBucket [16]byte
	lastBOK    bool
	haveBucket bool
	keyBuf     []byte
	// declared: the file's footer claims the table's SortBy order, so
	// sorted-mode keys are compared with the previous row; otherwise they
	// go to local, a hash set bounded by the file.
	declared bool
	local    map[string]int64
}

type keyVal struct {
	u [16]byte
	i int64
}

func (s *fileScan) add(check Check, row int64, col, value, msg string) {
	v := s.where
	v.Check, v.Row, v.Column, v.Value, v.Message = check, row, col, value, msg
	s.res.c.add(v)
}

// scanFile hashes one file against its manifest entry and checks its rows.
func (v *validator) scanFile(ctx context.Context, task fileTask) *fileResult {
	res := &fileResult{c: newCollector(v.o.MaxExamples)}
	s := &fileScan{task: task, plan: task.plan, res: res,
		where: Violation{Table: task.t.Name, Partition: task.part.HivePath(), Segment: task.seg.Name, File: task.file.Key}}
	if task.file.Role == "blob" {
		s.where.Partition = "" // blobs belong to no partition of their own table
	}
	fail := func(check Check, msg string) { s.add(check, -1, "", "", msg) }

	var r io.ReaderAt
	var size int64
	if task.file.Bytes <= inMemoryLimit {
		data, err := readAll(ctx, v, task.file.Key)
		if err != nil {
			fail(CheckFile, "cannot read: "+err.Error())
			return res
		}
		sum := sha256.Sum256(data)
		s.checksum(hex.EncodeToString(sum[:]))
		r, size = bytes.NewReader(data), int64(len(data))
	} else {
		sum, n, err := hashStream(ctx, v, task.file.Key)
		if err != nil {
			fail(CheckFile, "cannot read: "+err.Error())
			return res
		}
		s.checksum(sum)
		obj, err := v.lk.Store.Open(ctx, task.file.Key)
		if err != nil {
			fail(CheckFile, "cannot open: "+err.Error())
			return res
		}
		defer obj.Close()
		r, size = obj, n
	}
	res.bytes = size

	pf, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		fail(CheckSchema, "not a readable Parquet file: "+err.Error())
		return res
	}
	if !parquet.EqualNodes(pf.Schema(), parquetio.MustSchema(task.t)) {
		s.schemaDiff(pf.Schema())
		return res
	}
	if n := pf.NumRows(); n != task.file.Rows {
		fail(CheckManifest, fmt.Sprintf("file holds %d rows, manifest says %d", n, task.file.Rows))
	}
	s.bounds()
	s.declared = declaresSort(pf, task.t)
	if err := s.scanSlices(r, size); err != nil {
		fail(CheckSchema, "rows unreadable: "+err.Error())
		return res
	}
	if len(s.plan.strCols) > 0 {
		if err := s.scanStrings(ctx, r, size); err != nil {
			fail(CheckSchema, "string columns unreadable: "+err.Error())
		}
	}
	return res
}

func readAll(ctx context.Context, v *validator, key string) ([]byte, error) {
	rc, err := v.lk.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func hashStream(ctx context.Context, v *validator, key string) (string, int64, error) {
	rc, err := v.lk.Store.Get(ctx, key)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (s *fileScan) checksum(got string) {
	if got != s.task.file.SHA256 {
		s.add(CheckChecksum, -1, "", "", fmt.Sprintf("SHA-256 %s, manifest says %s: the file changed after its commit", got, s.task.file.SHA256))
	}
}

// schemaDiff reports how the file's columns differ from the registry's.
func (s *fileScan) schemaDiff(file *parquet.Schema) {
	want := parquetio.MustSchema(s.task.t)
	got := map[string]parquet.Field{}
	for _, f := range file.Fields() {
		got[f.Name()] = f
	}
	found := false
	for _, wf := range want.Fields() {
		gf, ok := got[wf.Name()]
		delete(got, wf.Name())
		switch {
		case !ok:
			s.add(CheckSchema, -1, wf.Name(), "", "column missing from the file")
		case gf.Optional() && wf.Required():
			s.add(CheckNotNull, -1, wf.Name(), "", "column is nullable in the file, NOT NULL in the registry (file not scanned)")
		case !parquet.EqualNodes(gf, wf):
			s.add(CheckSchema, -1, wf.Name(), "", fmt.Sprintf("file type %s, registry type %s (file not scanned)", nodeString(gf), nodeString(wf)))
		default:
			continue
		}
		found = true
	}
	var extra []string
	for name := range got {
		extra = append(extra, name)
	}
	sort.Strings(extra) // map order never reaches the report
	for _, name := range extra {
		s.add(CheckSchema, -1, name, "", "column not in the registry")
		found = true
	}
	if !found {
		s.add(CheckSchema, -1, "", "", "columns not in the registry's order (file not scanned)")
	}
}

func nodeString(n parquet.Node) string {
	rep := "required"
	if n.Optional() {
		rep = "optional"
	}
	t := n.Type()
	if lt := t.LogicalType(); lt != nil {
		return fmt.Sprintf("%s %s %s", rep, t.Kind(), lt)
	}
	return fmt.Sprintf("%s %s", rep, t.Kind())
}

// bounds sets the range the month column must fall in: the day segment's
// span, else the partition's month.
func (s *fileScan) bounds() {
	p := s.plan
	if p.month < 0 || s.task.file.Role == "blob" || s.task.part.Month == "" {
		return
	}
	m, _ := time.Parse("2006-01", s.task.part.Month)
	lo, hi := m, m.AddDate(0, 1, 0)
	s.spanWhat = "month=" + s.task.part.Month
	if s.task.seg.Name != lake.AsOfName {
		lo, hi = s.task.seg.From, s.task.seg.To
		s.spanWhat = "day segment " + s.task.seg.Name
	}
	if p.kinds[p.month] == schema.KindDate {
		s.lo, s.hi = lo.Unix()/86400, hi.Unix()/86400
	} else {
		s.lo, s.hi = lo.UnixMicro(), hi.UnixMicro()
	}
	s.haveBucket = p.bucket >= 0
}

func (s *fileScan) scanSlices(r io.ReaderAt, size int64) error {
	p := s.plan
	sr, err := parquetio.NewSliceReader(r, size, p.t, parquetio.ReadOptions{Columns: p.cols})
	if err != nil {
		return err
	}
	s.prev, s.cur = make([]keyVal, len(p.key)), make([]keyVal, len(p.key))
	s.lastFK, s.lastFKOK = make([][16]byte, len(p.fks)), make([]bool, len(p.fks))
	fkSeen := make([]bool, len(p.fks))
	var b parquetio.SliceBatch
	var base int64
	blobSeen := map[[16]byte]bool{}
	for {
		err := sr.Next(&b)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		for i := range b.Rows {
			row := base + int64(i)
			s.decimals(&b, i, row)
			if s.spanWhat != "" {
				s.partitionKey(&b, i, row)
			}
			for k := range p.fks {
				c := &b.Cols[p.fks[k].j]
				if c.Valid != nil && !c.Valid[i] {
					continue
				}
				id := c.UUID[i]
				if fkSeen[k] && id == s.lastFK[k] {
					if !s.lastFKOK[k] {
						s.fkMiss(k, row, id)
					}
					continue
				}
				_, ok := p.fks[k].set.keys[id]
				fkSeen[k], s.lastFK[k], s.lastFKOK[k] = true, id, ok
				if !ok {
					s.fkMiss(k, row, id)
				}
			}
			switch p.mode {
			case pkSorted, pkBlob:
				if s.declared {
					s.adjacent(&b, i, row)
				} else {
					s.localKey(&b, i, row)
				}
			case pkHash:
				s.res.keys = append(s.res.keys, rowKey{key: s.hashKey(&b, i), row: row})
			}
			if p.blobKey >= 0 {
				id := b.Cols[p.blobKey].UUID[i]
				if !blobSeen[id] {
					blobSeen[id] = true
					s.res.blobKeys = append(s.res.blobKeys, id)
					s.res.blobKeyRow = append(s.res.blobKeyRow, row)
				}
			}
		}
		base += int64(b.Rows)
	}
	s.res.rows = base
	return nil
}

func (s *fileScan) fkMiss(k int, row int64, id [16]byte) {
	fk := s.plan.fks[k]
	s.add(CheckForeignKey, row, fk.col, fmtUUID(id), fmt.Sprintf("not found in %s.%s", fk.set.table, fk.set.column))
}

func (s *fileScan) decimals(b *parquetio.SliceBatch, i int, row int64) {
	for _, d := range s.plan.decimals {
		c := &b.Cols[d.j]
		if c.Valid != nil && !c.Valid[i] {
			continue
		}
		var u int64
		if c.Int32 != nil {
			u = int64(c.Int32[i])
		} else {
			u = c.Int64[i]
		}
		if u > d.bound || u < -d.bound {
			s.add(CheckDecimal, row, d.col.Name, formatDecimal(u, d.col.Type.Scale),
				fmt.Sprintf("does not fit %s (|value| <= %s)", d.col.Type.SQL(), formatDecimal(d.bound, d.col.Type.Scale)))
		}
	}
}

func (s *fileScan) partitionKey(b *parquetio.SliceBatch, i int, row int64) {
	p := s.plan
	c := &b.Cols[p.month]
	if c.Valid == nil || c.Valid[i] {
		var x int64
		if c.Int32 != nil {
			x = int64(c.Int32[i])
		} else {
			x = c.Int64[i]
		}
		if x < s.lo || x >= s.hi {
			s.add(CheckPartitionKey, row, p.t.Partition.MonthOf, formatTime(x, p.kinds[p.month]), "outside "+s.spanWhat)
		}
	}
	if !s.haveBucket {
		return
	}
	bc := &b.Cols[p.bucket]
	if bc.Valid != nil && !bc.Valid[i] {
		return
	}
	id := bc.UUID[i]
	if s.lastBOK && id == s.lastBucket {
		return
	}
	if got := lake.Bucket(uuid.UUID(id), p.t.Partition.Buckets); got != s.task.part.Bucket {
		s.add(CheckPartitionKey, row, p.t.Partition.BucketOf, fmtUUID(id), fmt.Sprintf("hashes to bucket %02d, not %02d", got, s.task.part.Bucket))
		s.lastBOK = false
		return
	}
	s.lastBucket, s.lastBOK = id, true
}

// adjacent compares the row's key with the previous row's: equal is a
// duplicate, smaller breaks the sort order (after which duplicates may
// hide, which the sort_order finding says).
func (s *fileScan) adjacent(b *parquetio.SliceBatch, i int, row int64) {
	p := s.plan
	for k, j := range p.key {
		c := &b.Cols[j]
		if c.UUID != nil {
			s.cur[k] = keyVal{u: c.UUID[i]}
		} else if c.Int32 != nil {
			s.cur[k] = keyVal{i: int64(c.Int32[i])}
		} else if c.Int64 != nil {
			s.cur[k] = keyVal{i: c.Int64[i]}
		} else if c.Bool != nil && c.Bool[i] {
			s.cur[k] = keyVal{i: 1}
		} else {
			s.cur[k] = keyVal{}
		}
	}
	if s.havePrev {
		switch cmp := compareKeys(s.cur, s.prev); {
		case cmp == 0:
			s.add(CheckPrimaryKey, row, strings.Join(s.keyNames(), ","), s.formatKeyVals(s.cur), "duplicate primary key (same as the previous row)")
		case cmp < 0 && !s.unsorted:
			s.unsorted = true
			s.add(CheckSortOrder, row, strings.Join(p.t.SortBy, ","), s.formatKeyVals(s.cur),
				"row sorts before the previous one: the file is not in SortBy order, so duplicate keys may go unreported")
		}
	}
	s.prev, s.cur = s.cur, s.prev
	s.havePrev = true
}

// localKey checks uniqueness inside a file that does not declare its
// order; files still split the key space (partition_key checks), so a
// per-file set suffices.
func (s *fileScan) localKey(b *parquetio.SliceBatch, i int, row int64) {
	if s.local == nil {
		s.local = map[string]int64{}
	}
	k := s.hashKey(b, i)
	if first, dup := s.local[k]; dup {
		s.add(CheckPrimaryKey, row, strings.Join(s.keyNames(), ","), s.plan.formatKey(k), fmt.Sprintf("duplicate primary key, first at row %d", first))
		return
	}
	s.local[k] = row
}

// declaresSort reports whether every row group of the file declares the
// table's SortBy order (ascending) in the footer, as the writers do for
// the producers that guarantee it.
func declaresSort(pf *parquet.File, t *schema.Table) bool {
	rgs := pf.RowGroups()
	if len(rgs) == 0 {
		return false
	}
	for _, rg := range rgs {
		sc := rg.SortingColumns()
		if len(sc) < len(t.SortBy) {
			return false
		}
		for i, c := range t.SortBy {
			if p := sc[i].Path(); len(p) != 1 || p[0] != c || sc[i].Descending() {
				return false
			}
		}
	}
	return true
}

func compareKeys(a, b []keyVal) int {
	for k := range a {
		if c := bytes.Compare(a[k].u[:], b[k].u[:]); c != 0 {
			return c
		}
		if a[k].i != b[k].i {
			if a[k].i < b[k].i {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (s *fileScan) keyNames() []string {
	out := make([]string, len(s.plan.key))
	for k, j := range s.plan.key {
		out[k] = s.plan.cols[j]
	}
	return out
}

func (s *fileScan) formatKeyVals(kv []keyVal) string {
	parts := make([]string, len(kv))
	for k, j := range s.plan.key {
		if s.plan.kinds[j] == schema.KindUUID {
			parts[k] = fmtUUID(kv[k].u)
		} else {
			parts[k] = formatValue(kv[k].i, s.plan.t.Column(s.plan.cols[j]))
		}
	}
	return strings.Join(parts, ", ")
}

// hashKey is the primary key as bytes: 16 per UUID, 8 (big-endian) per
// other column.
func (s *fileScan) hashKey(b *parquetio.SliceBatch, i int) string {
	s.keyBuf = s.keyBuf[:0]
	for _, j := range s.plan.key {
		c := &b.Cols[j]
		switch {
		case c.UUID != nil:
			s.keyBuf = append(s.keyBuf, c.UUID[i][:]...)
		case c.Int32 != nil:
			s.keyBuf = binary.BigEndian.AppendUint64(s.keyBuf, uint64(c.Int32[i]))
		case c.Int64 != nil:
			s.keyBuf = binary.BigEndian.AppendUint64(s.keyBuf, uint64(c.Int64[i]))
		case c.Bool != nil:
			s.keyBuf = binary.BigEndian.AppendUint64(s.keyBuf, uint64(boolInt(c.Bool[i])))
		}
	}
	return string(s.keyBuf)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// formatKey renders a hashKey for the report.
func (p *tablePlan) formatKey(key string) string {
	var parts []string
	rest := []byte(key)
	for _, j := range p.key {
		if p.kinds[j] == schema.KindUUID && len(rest) >= 16 {
			parts = append(parts, fmtUUID([16]byte(rest[:16])))
			rest = rest[16:]
			continue
		}
		if len(rest) < 8 {
			break
		}
		parts = append(parts, formatValue(int64(binary.BigEndian.Uint64(rest)), p.t.Column(p.cols[j])))
		rest = rest[8:]
	}
	return strings.Join(parts, ", ")
}

// scanStrings checks enums, VARCHAR lengths, UTF-8 and JSON through the
// Arrow reader (the slice reader holds no strings).
func (s *fileScan) scanStrings(ctx context.Context, r io.ReaderAt, size int64) error {
	p := s.plan
	rd, err := parquetio.NewReader(ctx, r, size, p.t, parquetio.ReadOptions{Columns: p.strCols})
	if err != nil {
		return err
	}
	defer rd.Close()
	cols := make([]*schema.Column, len(p.strCols))
	last := make([]string, len(p.strCols)) // last valid enum value: dictionary runs repeat it
	lastOK := make([]bool, len(p.strCols))
	for k, n := range p.strCols {
		cols[k] = p.t.Column(n)
	}
	var base int64
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for k, c := range cols {
			arr, ok := rec.Column(k).(*array.String)
			if !ok {
				rec.Release()
				return fmt.Errorf("column %s read as %s", c.Name, rec.Column(k).DataType())
			}
			for i := range arr.Len() {
				if arr.IsNull(i) {
					continue
				}
				x := arr.Value(i)
				row := base + int64(i)
				if c.Unique { // NULLs may repeat, as in SQL
					s.res.uniques = append(s.res.uniques, uniqueVal{col: c.Name, val: strings.Clone(x), row: row})
				}
				switch c.Type.Kind {
				case schema.KindEnum:
					if lastOK[k] && x == last[k] {
						continue
					}
					if err := c.CheckEnum(x); err != nil {
						s.add(CheckEnum, row, c.Name, strconv.Quote(x), reason(err))
						continue
					}
					last[k], lastOK[k] = strings.Clone(x), true
				case schema.KindVarchar, schema.KindText:
					if err := c.CheckVarchar(x); err != nil {
						s.add(CheckVarchar, row, c.Name, quoteShort(x), reason(err))
					}
				case schema.KindJSON:
					if !json.Valid([]byte(x)) {
						s.add(CheckVarchar, row, c.Name, quoteShort(x), "is not valid JSON")
					}
				}
			}
		}
		base += rec.NumRows()
		rec.Release()
	}
}

func reason(err error) string {
	var ve *schema.ValueError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return err.Error()
}

func quoteShort(x string) string {
	if len(x) > 64 {
		return strconv.Quote(x[:64]) + "..."
	}
	return strconv.Quote(x)
}

func fmtUUID(id [16]byte) string { return uuid.UUID(id).String() }

// formatDecimal renders an unscaled decimal, e.g. 99999 at scale 2 as 999.99.
func formatDecimal(u int64, scale int) string {
	if scale == 0 {
		return strconv.FormatInt(u, 10)
	}
	neg := u < 0
	a := uint64(u)
	if neg {
		a = uint64(-u)
	}
	pow := uint64(math.Pow10(scale))
	s := fmt.Sprintf("%d.%0*d", a/pow, scale, a%pow)
	if neg {
		s = "-" + s
	}
	return s
}

func formatTime(x int64, k schema.Kind) string {
	if k == schema.KindDate {
		return time.Unix(x*86400, 0).UTC().Format(time.DateOnly)
	}
	return time.UnixMicro(x).UTC().Format(time.RFC3339Nano)
}

func formatValue(x int64, c *schema.Column) string {
	switch c.Type.Kind {
	case schema.KindTimestamptz, schema.KindTimestamp, schema.KindDate:
		return formatTime(x, c.Type.Kind)
	case schema.KindDecimal:
		return formatDecimal(x, c.Type.Scale)
	}
	return strconv.FormatInt(x, 10)
}
