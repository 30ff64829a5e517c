package lake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ManifestFormat versions the manifest's own JSON shape. Format 2 made a
// partition a set of segments (one data file each) so it can grow a day at
// a time; format-1 lakes (one file per partition) must be rebuilt.
const ManifestFormat = 2

// ErrOldFormat marks a manifest or lake written by an older battlake whose
// layout this one cannot extend without duplicating rows for glob readers.
var ErrOldFormat = errors.New("written by an older lake format")

// FileEntry records one object of a partition.
type FileEntry struct {
	Key     string `json:"key"`
	Segment string `json:"segment"`
	Role    string `json:"role"` // "data", "blob" or "state" (RoleState)
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// SegmentEntry records one committed segment: what it covers, what its
// content depends on (the fingerprint) and what it holds.
type SegmentEntry struct {
	Name        string    `json:"name"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Inputs      []string  `json:"inputs,omitempty"`
	Lineage     []Input   `json:"lineage,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	Rows        int64     `json:"rows"`
	Bytes       int64     `json:"bytes"`
	// State is the job's resume point after this segment (see
	// Output.WriteState), when the job keeps one. It is not table content:
	// Bytes, the manifest's totals and its Digest leave it out, so readers
	// and downstream lineage see the same partition with or without it.
	State *FileEntry `json:"state,omitempty"`
}

// Span is a half-open time interval [From, To).
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Manifest describes a partition's whole content, whichever runs wrote its
// segments. It is written last, after every object it lists is published;
// downstream jobs trust a partition only through it and record its Digest
// as their lineage. It holds no wall-clock time, so the same content always
// encodes to the same bytes.
type Manifest struct {
	Format        int               `json:"format"`
	Table         string            `json:"table"`
	Partition     map[string]string `json:"partition"`
	SchemaVersion string            `json:"schema_version"`
	// Job, seeds, config hash and inputs of the run that wrote last; each
	// segment's fingerprint carries those it was written with.
	Job        string   `json:"job"`
	RootSeed   uint64   `json:"root_seed"`
	Seed       uint64   `json:"seed"`
	ConfigHash string   `json:"config_hash"`
	Inputs     []string `json:"inputs"`
	// Coverage is the union of the segments' spans: what the partition
	// holds, not only what the last run wrote.
	Coverage []Span         `json:"coverage"`
	Segments []SegmentEntry `json:"segments"`
	Rows     int64          `json:"rows"`
	Bytes    int64          `json:"bytes"`
	Files    []FileEntry    `json:"files"`
	// Pending lists files of withdrawn segments that the commit in
	// progress deletes unless the new version keeps them; only a crashed
	// commit leaves it non-empty, and the next commit finishes the job.
	Pending []FileEntry `json:"pending,omitempty"`
	Digest  string      `json:"digest"`
}

// Fingerprint hashes everything that determines a segment's content except
// its end: the schema version, job, seeds, config hash, the partition's and
// the segment's inputs, and where the segment starts. The end is compared
// separately so that an as-of segment written to a later end stays fresh
// for a run that ends earlier (no rollback).
func Fingerprint(schemaVersion, job string, rootSeed, seed uint64, configHash string, inputs []string, from time.Time) string {
	in := append([]string(nil), inputs...)
	sort.Strings(in)
	h := sha256.New()
	fmt.Fprintf(h, "v%d\x00%s\x00%s\x00%d\x00%d\x00%s\x00%d", ManifestFormat, schemaVersion, job, rootSeed, seed, configHash, from.UTC().UnixMicro())
	for _, s := range in {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Segment returns the entry named name, if any.
func (m *Manifest) Segment(name string) (SegmentEntry, bool) {
	for _, s := range m.Segments {
		if s.Name == name {
			return s, true
		}
	}
	return SegmentEntry{}, false
}

// normalize sorts segments and files, recomputes totals, coverage and the
// content digest: the manifest is a pure function of its segments.
func (m *Manifest) normalize() {
	sort.Slice(m.Segments, func(i, j int) bool { return m.Segments[i].Name < m.Segments[j].Name })
	sort.SliceStable(m.Files, func(i, j int) bool {
		if m.Files[i].Segment != m.Files[j].Segment {
			return m.Files[i].Segment < m.Files[j].Segment
		}
		if m.Files[i].Role != m.Files[j].Role {
			return m.Files[i].Role > m.Files[j].Role // data before blobs
		}
		return m.Files[i].Key < m.Files[j].Key
	})
	m.Rows, m.Bytes = 0, 0
	for _, f := range m.Files {
		if f.Role == "data" {
			m.Rows += f.Rows
		}
		m.Bytes += f.Bytes
	}
	spans := make([]Span, 0, len(m.Segments))
	for _, s := range m.Segments {
		spans = append(spans, Span{s.From, s.To})
	}
	m.Coverage = MergeSpans(spans)
	h := sha256.New()
	for _, s := range m.Segments {
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\n", s.Name, s.Fingerprint, s.From.UnixMicro(), s.To.UnixMicro())
	}
	for _, f := range m.Files {
		fmt.Fprintf(h, "%s\x00%s\n", f.Key, f.SHA256)
	}
	m.Digest = hex.EncodeToString(h.Sum(nil))[:32]
}

// MergeSpans returns the union of spans as sorted, disjoint spans
// (adjacent spans are joined).
func MergeSpans(spans []Span) []Span {
	s := append([]Span(nil), spans...)
	sort.Slice(s, func(i, j int) bool { return s[i].From.Before(s[j].From) })
	var out []Span
	for _, x := range s {
		if !x.From.Before(x.To) {
			continue
		}
		if n := len(out); n > 0 && !x.From.After(out[n-1].To) {
			if x.To.After(out[n-1].To) {
				out[n-1].To = x.To
			}
			continue
		}
		out = append(out, Span{x.From.UTC(), x.To.UTC()})
	}
	return out
}

// Encode renders the manifest as indented JSON (stable key order).
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodeManifest parses a manifest and checks its format. It decodes once
// and probes the format alone only when that fails (a shape of an older
// format): a probe first scanned every manifest twice, and the derived
// stages read thousands of them.
func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		var probe struct {
			Format int `json:"format"`
		}
		if perr := json.Unmarshal(b, &probe); perr != nil || probe.Format == ManifestFormat {
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		m.Format = probe.Format
	}
	if m.Format < ManifestFormat {
		return nil, fmt.Errorf("decode manifest: format %d: %w", m.Format, ErrOldFormat)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("decode manifest: unsupported format %d", m.Format)
	}
	return &m, nil
}
