package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/schema"
)

// Config is one ingest: a source (file, folder or s3:// prefix) into one
// registry table of a lake.
type Config struct {
	Lake        string // lake dir or s3://bucket/prefix (pipeline.OpenLake)
	LakeOptions pipeline.LakeOptions
	Table       string    // registry table name
	Source      string    // file, folder, or s3:// prefix
	Format      string    // "csv", "parquet" or "" (by extension)
	Mapping     string    // optional mapping file (column renames, units)
	Strict      bool      // any bad row: write nothing, error
	Workers     int       // parse/validate parallelism (0 = GOMAXPROCS)
	Now         time.Time // rejected_at clock (tests pin it; zero = time.Now)
	// From and To, when set, bound the partition timestamps the load may
	// write: rows outside [From, To) are rejected (reason "outside_window").
	From, To time.Time
	// TempDir holds sorted runs and staged output files ("" = os.TempDir).
	TempDir string
	// MemoryRows bounds the records buffered in memory, shared by the
	// workers, before sorted runs spill to TempDir (0 = DefaultMemoryRows).
	MemoryRows int
}

// DefaultMemoryRows bounds the records buffered in memory (~110 bytes each
// for jar telemetry) across the parse workers, and again across the
// merges reading the lake's rows, before sorted runs spill to TempDir.
const DefaultMemoryRows = 1 << 19

// ErrConfig marks an invalid configuration.
var ErrConfig = errors.New("invalid ingest configuration")

// ErrHeader marks a file whose header cannot be used (bad quoting, two
// columns mapped to one): the whole file fails, nothing is written.
var ErrHeader = errors.New("unusable header")

// ErrRejected is returned by a strict ingest that found bad rows.
var ErrRejected = errors.New("input has rejected rows")

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Lake == "" {
		errs = append(errs, errors.New("lake: empty"))
	}
	if c.Source == "" {
		errs = append(errs, errors.New("source: empty"))
	}
	if _, err := Target(c.Table); err != nil {
		errs = append(errs, err)
	}
	switch strings.ToLower(c.Format) {
	case "", "csv", "parquet":
	default:
		errs = append(errs, fmt.Errorf("format %q: want csv or parquet", c.Format))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d: negative", c.Workers))
	}
	if c.MemoryRows < 0 {
		errs = append(errs, fmt.Errorf("memory rows %d: negative", c.MemoryRows))
	}
	if !c.From.IsZero() && !c.To.IsZero() && !c.From.Before(c.To) {
		errs = append(errs, fmt.Errorf("window %s..%s: empty", c.From.Format(time.RFC3339), c.To.Format(time.RFC3339)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// Target returns the registry table name may be loaded into: master and
// raw tables, blob tables included (not truth, calculated or derived).
func Target(name string) (*schema.Table, error) {
	t, ok := schema.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("table %q: not in the registry", name)
	}
	if t.Class != schema.ClassMaster && t.Class != schema.ClassRaw {
		return nil, fmt.Errorf("table %s: class %s cannot be ingested (master and raw tables only)", name, t.Class)
	}
	return t, nil
}

// Summary is what one ingest did.
type Summary struct {
	Table      string
	Files      int
	Rows       int64            // input rows (records after the header)
	Accepted   int64            // rows now in the table
	Rejected   int64            // rows in rejects
	ByReason   map[string]int64 // rejected rows by reason code
	Partitions []string         // partitions whose content changed
	Unchanged  bool             // nothing was written: the lake already held exactly this
	Warnings   []string         // e.g. optional columns absent from a file (filled with NULL)
	// Presorted counts the segments streamed straight to Parquet because
	// their rows arrived in sort order (no sorted runs); FellBack those
	// that started so and switched to sorted runs at a row out of order.
	Presorted, FellBack int
}

// Run ingests cfg.Source into cfg.Table.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	return run(ctx, cfg)
}
