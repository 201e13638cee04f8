/* Streaming RFC 4180 CSV reader with bounded memory. Private to src/store.
 *
 * Reads records one at a time from a FILE*. Memory is bounded by the limits below
 * whatever the input: a field longer than max_field_bytes (or a record longer than
 * max_record_bytes, or with more than MD_CSV_MAX_FIELDS fields) is not stored; the
 * reader keeps parsing to the end of that record and hands it back with `error` set,
 * so the caller can quarantine the row and go on. Every record reports the line it
 * starts on and its byte range, so an import can resume at a record boundary.
 */
#ifndef MEDIFY_STORE_CSV_READER_H
#define MEDIFY_STORE_CSV_READER_H

#include "medify/base.h"

#define MD_CSV_MAX_FIELD_BYTES (1u << 20)   /* 1 MiB: the longest PMC-Patients summary is far below */
#define MD_CSV_MAX_RECORD_BYTES (4u << 20)  /* 4 MiB for all fields of one record together */
#define MD_CSV_MAX_FIELDS 64                /* PMC-Patients has 10 columns */
#define MD_CSV_ERROR_BYTES 160

typedef struct md_csv_params {
    size_t max_field_bytes;  /* 0: MD_CSV_MAX_FIELD_BYTES; never above it */
    size_t max_record_bytes; /* 0: MD_CSV_MAX_RECORD_BYTES; never above it */
} md_csv_params;

typedef struct md_csv_record {
    size_t n_fields;                        /* fields seen (may exceed MD_CSV_MAX_FIELDS on error) */
    const char *fields[MD_CSV_MAX_FIELDS];  /* NUL-terminated; valid until the next read */
    size_t field_bytes[MD_CSV_MAX_FIELDS];
    uint64_t line;         /* 1-based physical line where the record starts */
    uint64_t byte_start;   /* offset of its first byte in the file */
    uint64_t byte_end;     /* offset just past its terminator: where the next record starts */
    uint64_t next_line;    /* line where the next record starts */
    const char *error;     /* NULL, or why this row is unusable (fields then unreliable) */
} md_csv_record;

typedef struct md_csv_reader md_csv_reader;

/* Reads from f (not owned) whose current position is byte `start_offset` of the file,
 * on line `start_line`. A UTF-8 BOM is skipped when start_offset is 0. Free with
 * md_csv_reader_free. */
md_status md_csv_reader_new(FILE *f, md_csv_params params, uint64_t start_offset, uint64_t start_line,
                            md_csv_reader **out, md_error *err);
void md_csv_reader_free(md_csv_reader *r);

/* Reads the next non-blank record. Returns MD_OK with *eof false and the record, MD_OK
 * with *eof true at the end of input, or an error for I/O failure or OOM. A row-level
 * problem (bad quoting, invalid UTF-8, oversized field, unterminated quote at end of
 * file) is not an error of the call: it sets rec->error. */
md_status md_csv_read(md_csv_reader *r, md_csv_record *rec, bool *eof, md_error *err);

#endif
