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
package ingest
