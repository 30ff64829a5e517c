package lake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// ManifestFormat versions the manifest's own JSON shape.
const ManifestFormat = 1

// FileEntry records one object of a partition.
type FileEntry struct {
	Key    string `json:"key"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	Role   string `json:"role"` // "data" or "blob"
}

// Manifest is written last, after every object of the partition is
// published. Downstream jobs trust a partition only through its manifest,
// and a rerun skips a partition whose manifest records the same fingerprint.
// It holds no wall-clock time, so the same run writes the same bytes.
type Manifest struct {
	Format        int               `json:"format"`
	Table         string            `json:"table"`
	Partition     map[string]string `json:"partition"`
	SchemaVersion string            `json:"schema_version"`
	Job           string            `json:"job"`
	RootSeed      uint64            `json:"root_seed"`
	Seed          uint64            `json:"seed"`
	ConfigHash    string            `json:"config_hash"`
	Inputs        []string          `json:"inputs"`
	Fingerprint   string            `json:"fingerprint"`
	Rows          int64             `json:"rows"`
	Bytes         int64             `json:"bytes"`
	Files         []FileEntry       `json:"files"`
}

// Fingerprint hashes everything that determines a partition's content: the
// schema version, job, seeds, config hash and input fingerprints.
func Fingerprint(schemaVersion, job string, rootSeed, seed uint64, configHash string, inputs []string) string {
	in := append([]string(nil), inputs...)
	sort.Strings(in)
	h := sha256.New()
	fmt.Fprintf(h, "v%d\x00%s\x00%s\x00%d\x00%d\x00%s", ManifestFormat, schemaVersion, job, rootSeed, seed, configHash)
	for _, s := range in {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Encode renders the manifest as indented JSON (stable key order).
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodeManifest parses a manifest and checks its format.
func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("decode manifest: unsupported format %d", m.Format)
	}
	return &m, nil
}

// Digest is the SHA-256 of the encoded manifest: downstream partitions list
// it among their inputs, so a changed upstream partition invalidates them.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:32]
}
