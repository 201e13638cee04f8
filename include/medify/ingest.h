/* medify ingest: importing case files into the store.
 *
 * Formats:
 *   pmc-csv   PMC-Patients CSV as published: columns patient_id, patient_uid, PMID,
 *             file_path, title, patient, age, gender, relevant_articles,
 *             similar_patients (any order; all ten required). `age` is a Python list
 *             of [value, unit] pairs, the last two are Python dicts (kept as JSON).
 *   pmc-json  the PMC-Patients JSON release: one array of objects with the same keys
 *             (age/dicts as JSON values or as the Python-literal strings).
 *   jsonl     one such object per line (also accepts "id"/"text"/"sex"/"pmid").
 *   csv       any CSV with a header, mapped by md_ingest_columns.
 *   auto      by extension (.csv, .json, .jsonl/.ndjson), then by the first byte and
 *             the CSV header.
 * Every format is read as a stream with bounded memory (MD_CSV_MAX_RECORD_BYTES per
 * record); a 550 MB file is never loaded whole.
 *
 * A run has two passes. The first validates every row without touching the store and
 * writes the quarantine file (one line per bad row: line, id, reason), then applies
 * the bad-row threshold: over it, the import fails with MD_ERR_LIMIT and the store is
 * untouched. This is why the threshold can promise "nothing of this run remains"
 * even though the second pass commits in batches. The second pass imports in
 * transactions of batch_rows rows, each committing the import state (byte offset,
 * line, counts) with its rows; a run killed at any moment resumes after the last
 * commit, and the content hash makes re-importing the same text a no-op.
 *
 * The import key is "<format>:<SHA-256 of the first MiB>:<size in bytes>": the same
 * file resumes; a changed file is a new import. A finished import is not re-read
 * unless params.restart is set (then every row is offered again and counts as a
 * duplicate).
 *
 * jansson allocates through malloc, not md_malloc (its allocator hook is
 * process-wide); so does SQLite.
 */
#ifndef MEDIFY_INGEST_H
#define MEDIFY_INGEST_H

#include "medify/base.h"
#include "medify/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_ingest_format {
    MD_INGEST_FORMAT_AUTO,
    MD_INGEST_FORMAT_PMC_CSV,
    MD_INGEST_FORMAT_PMC_JSON,
    MD_INGEST_FORMAT_JSONL,
    MD_INGEST_FORMAT_CSV,
    MD_INGEST_FORMAT_COUNT,
} md_ingest_format;

/* "auto", "pmc-csv", "pmc-json", "jsonl", "csv"; false for anything else. */
bool md_ingest_format_parse(const char *name, md_ingest_format *out);
const char *md_ingest_format_name(md_ingest_format f);

/* Column names for format csv. NULL: use the column of the default name ("text",
 * "id", "age", "sex", "title", "pmid") when the header has it; a name given must
 * exist. `text` is required. Age is a number of years or a PMC age list; sex is
 * M/F/male/female (any case) or empty. */
typedef struct md_ingest_columns {
    const char *text, *id, *age, *sex, *title, *pmid;
} md_ingest_columns;

#define MD_INGEST_DEFAULT_BATCH_ROWS 1000
#define MD_INGEST_DEFAULT_MAX_BAD_FRACTION 0.01 /* 1% of rows */
#define MD_INGEST_MAX_BATCH_ROWS 1000000
#define MD_INGEST_KEY_PREFIX_BYTES (1u << 20)   /* bytes hashed into the import key */

typedef struct md_ingest_params {
    md_ingest_format format;
    const char *data_dir;         /* for the default quarantine path; NULL: md_store_data_dir(NULL) */
    const char *quarantine_path;  /* NULL: DATA_DIR/quarantine/<file name>.tsv */
    const char *source;           /* NULL: "pmc-patients" for pmc formats, else "csv"/"jsonl" */
    const char *dataset_version;  /* NULL: "pmc-patients" for pmc formats, else none */
    size_t batch_rows;            /* rows per transaction; 1..MD_INGEST_MAX_BATCH_ROWS */
    double max_bad_fraction;      /* fail when bad rows > fraction * rows (0..1) */
    uint64_t max_bad_rows;        /* fail when bad rows > this; UINT64_MAX: no count limit */
    size_t max_field_bytes;       /* 0: MD_CSV_MAX_FIELD_BYTES (never above) */
    size_t max_record_bytes;      /* 0: MD_CSV_MAX_RECORD_BYTES (never above) */
    md_ingest_columns columns;    /* format csv only */
    bool restart;                 /* ignore saved progress and offer every row again */
    const md_logger *log;         /* progress lines (counts only); NULL: silent */
} md_ingest_params;

md_ingest_params md_ingest_default_params(void);

#define MD_INGEST_PATH_BYTES 1024
typedef struct md_ingest_report {
    md_ingest_format format;      /* as resolved from auto */
    uint64_t n_rows;              /* records in the file (header excluded) */
    uint64_t n_imported;          /* new cases, over all runs of this import */
    uint64_t n_duplicates;        /* rows whose content hash was already stored */
    uint64_t n_quarantined;       /* bad rows (written to the quarantine file) */
    uint64_t n_imported_this_run;
    bool resumed;                 /* continued an interrupted import */
    uint64_t resumed_at_line;
    bool already_done;            /* the import had finished before; nothing read */
    double seconds;
    uint64_t peak_rss_bytes;      /* of the process, from getrusage */
    char quarantine_path[MD_INGEST_PATH_BYTES];
    char import_key[160];
} md_ingest_report;

/* Imports the file at path into store. On MD_ERR_LIMIT (too many bad rows) the report
 * holds the counts of the validation pass and the store is unchanged. report may be
 * NULL. */
md_status md_ingest_file(md_store *store, const char *path, md_ingest_params params, md_ingest_report *report,
                         md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_INGEST_H */
