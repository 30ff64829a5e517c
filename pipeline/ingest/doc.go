// Package ingest loads real exports (BMS, SCADA, CMMS) into the raw and
// master tables of a lake, with the same layout, sort order, writer
// settings and commit protocol as the synthesizer, so the derived stages
// run unchanged on an ingested lake.
//
// # CSV contract
//
// The exporter (battlake export --format csv) writes, and ingest accepts:
//
//   - a header row with the table's column names (schema order is what the
//     exporter writes; ingest matches by name, so any order works, and a
//     mapping file renames other names);
//   - RFC 4180 quoting: fields holding a comma, a quote or a line break are
//     quoted and quotes doubled (only TEXT, VARCHAR and JSON can hold them);
//     LF or CRLF line ends; an optional UTF-8 BOM; an optional final newline;
//   - NULL is an empty field (an empty string cannot be told from NULL);
//   - TIMESTAMPTZ: RFC 3339 with an offset, `2026-10-25T00:00:05Z` or
//     `2026-10-25T07:00:05+07:00`, optional sub-second digits (kept to the
//     microsecond); without an offset only when the mapping names a time
//     zone (`"timezone": "Asia/Bangkok"`);
//   - TIMESTAMP (wall clock, master created_at/updated_at): the same text
//     without an offset, `2026-10-25T00:00:05` (an offset is ignored: the
//     wall clock is kept, as the writers do);
//   - DATE: `2026-10-25`;
//   - DECIMAL(p,s): plain decimal text, `13.512`, `-0.5`; at most s
//     fractional digits (trailing zeros beyond s are fine) and at most p-s
//     integer digits: anything more is a reject, never rounded;
//   - INT, BIGINT: decimal integers; DOUBLE: any Go float syntax;
//   - BOOLEAN: `true` / `false` (also `1`/`0`, any case);
//   - UUID: canonical 8-4-4-4-12 hex;
//   - ENUM: exactly one of the domain's values (case-sensitive);
//   - JSONB: JSON text, quoted per RFC 4180.
//
// Parquet input is read by column name with any compatible logical type;
// each value goes through the same checks as its CSV text.
//
// # Rows, rejects and commits
//
// Every input record is either accepted or rejected, never dropped:
// accepted + rejected = input rows (blank lines are not records). A reject
// is one row of the rejects table (file, line of the record's start,
// column, "reason_code: message" naming file, line and column, the record
// as read); Summary.ByReason counts them by the Reason* codes. Decisions:
//
//   - a file whose header lacks a required (NOT NULL) column rejects every
//     row as missing_column (the file is not skipped silently, and the
//     invariant holds); a missing nullable column is NULL, with a warning;
//     a record with the wrong number of fields is field_count, or
//     truncated when it is the last one and has no final newline;
//   - of rows sharing a primary key in the input, the first in file order
//     is kept and the others are duplicate_key; a key the lake holds in
//     the same segment is replaced (a correction), a key the lake holds in
//     another partition is duplicate_key (a row cannot move);
//   - a value that overflows DECIMAL(p,s) but parses as a number outside
//     the column's physical range is out_of_range (the useful reason);
//   - --strict (Config.Strict) writes nothing if any row is rejected and
//     returns ErrRejected.
//
// Accepted rows are merged per output segment (a UTC day of a month and
// bucket partition for time series, the month's as-of history for
// transactions, part-00000 for master data) with the segment's current
// rows, input rows replacing lake rows of the same key, sorted by the
// table's SortBy and written with the synthesizer's writer settings; a
// segment whose bytes come out unchanged is not rewritten, so ingesting a
// file twice writes nothing. Rejects of the same file, line, column and
// reason already recorded in the day's rejects segment are not repeated.
// Each segment is published atomically through lake.WritePartition; an
// ingest touching several segments is not atomic as a whole (as a run).
//
// Memory is bounded by Config.MemoryRows buffered records: the stream is
// cut into chunks at record ends, parsed by Workers goroutines, buffered
// per segment and spilled as sorted runs to TempDir, then k-way merged.
//
// The fast path skips the runs when they would be wasted: a sequencer
// takes the parsed chunks back in file order and, for a segment the lake
// holds no rows of (primary key = sort key: telemetry and master data),
// streams its rows straight into the staged Parquet file while each row's
// key is above the last one's (an export's rows are; a historian's often
// are). The first row out of order switches that segment to the runs: the
// rows written so far are read back with their input positions, so the
// merge sees every row once and picks the same first row of a duplicated
// key. At most maxOpenFast segments stream at once (each holds a row
// group's pages); a row for one closed to make room also falls back.
// Summary.Presorted and FellBack count the segments of each kind.
//
// # Blob tables
//
// event_window_sample and capacity_test_curve are one Parquet object per
// parent row (an event window, a capacity test) under _blobs/, listed in
// the parent segment's manifest entry and named by the row's URL column.
// Their input is one row per sample with the parent key. On top of the
// usual checks, the parent must be committed in the lake (load the parent
// table first) and the sample's battery must be a jar of the parent's
// string (unknown_reference otherwise), and the sample's time must lie
// in its span (ts in [start_ts, end_ts]; elapsed_s in [0, 1.25 x the
// reported duration + 60 s]), else outside_window. Accepted samples are
// merged and deduplicated as usual into one sorted stream, cut into one
// object per parent, and each parent segment that gains or changes an
// object is republished by one lake.WritePartition: the new objects, the
// segment's other objects kept (lake.Output.KeepBlob), and the parent's
// rows re-encoded with data_blob_url / samples_count (raw_data_url) set to
// what was written. A load replaces whole objects: the samples of a parent
// it covers are exactly the file's. A load of a parent table keeps the
// objects its rows still name (their samples_count set to the object's
// rows) and writes NULL for any other URL, which would dangle.
package ingest
