/* import.c: md_ingest_file, streaming case files into the store.
 *
 * Shape: a record source (CSV through csv_reader.c, a JSON array split into objects
 * by a brace scanner, or JSON lines) yields one row at a time with its line, byte
 * range and the raw values of eight roles (id, pmid, title, text, age, sex, the two
 * annotation dicts). validate_row turns the raw values into an md_case_record or a
 * reason. The same source and validator run twice (see ingest.h): a validation pass
 * that writes the quarantine file and applies the threshold, then the import pass in
 * batches, each batch's import state committed with its rows.
 *
 * The JSON array scanner keeps string and escape state and depth, so it finds the end
 * of each top-level object without parsing it; jansson then parses that object alone.
 * Memory stays bounded by the record limit. After a resume the scanner starts inside
 * the array, just after the last committed object.
 *
 * Per-row strings live in an arena reset for every row. Every source hands over valid
 * UTF-8 (the CSV reader checks each field, jansson each JSON string), so validation
 * does not check it again.
 *
 * Two processes importing the same file into one store would both advance the same
 * import state; each batch re-reads the state inside its transaction and stops with
 * MD_ERR_CONFLICT when someone else moved it.
 */
#include "medify/ingest.h"
#include "store/csv_reader.h"
#include "store/pmc_literal.h"
#include "store/sha256.h"
#include "store/store_ops.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const char *const k_format_names[MD_INGEST_FORMAT_COUNT] = {"auto", "pmc-csv", "pmc-json", "jsonl", "csv"};

bool md_ingest_format_parse(const char *name, md_ingest_format *out) {
    for (int i = 0; i < MD_INGEST_FORMAT_COUNT; i++) {
        if (name && strcmp(name, k_format_names[i]) == 0) {
            *out = (md_ingest_format)i;
            return true;
        }
    }
    return false;
}

const char *md_ingest_format_name(md_ingest_format f) {
    return (unsigned)f < MD_INGEST_FORMAT_COUNT ? k_format_names[f] : "unknown";
}

md_ingest_params md_ingest_default_params(void) {
    md_ingest_params p;
    memset(&p, 0, sizeof p);
    p.format = MD_INGEST_FORMAT_AUTO;
    p.batch_rows = MD_INGEST_DEFAULT_BATCH_ROWS;
    p.max_bad_fraction = MD_INGEST_DEFAULT_MAX_BAD_FRACTION;
    p.max_bad_rows = UINT64_MAX;
    return p;
}

/* ------------------------------------------------------------ roles ---- */

typedef enum role {
    ROLE_ID,
    ROLE_PMID,
    ROLE_TITLE,
    ROLE_TEXT,
    ROLE_AGE,
    ROLE_SEX,
    ROLE_REL,
    ROLE_SIM,
    ROLE_COUNT,
} role;

/* PMC-Patients column (and JSON key) per role; alternates accepted in JSON objects. */
static const char *const k_pmc_names[ROLE_COUNT] = {"patient_uid", "PMID", "title", "patient",
                                                    "age", "gender", "relevant_articles", "similar_patients"};
static const char *const k_json_alt_names[ROLE_COUNT] = {"id", "pmid", NULL, "text", NULL, "sex", NULL, NULL};
/* The two PMC columns that map to no role but must be present in pmc-csv. */
static const char *const k_pmc_other_columns[] = {"patient_id", "file_path"};
_Static_assert(MD_ARRAY_LEN(k_pmc_names) == ROLE_COUNT, "one PMC name per role");

typedef struct raw_row {
    uint64_t line, byte_end, next_line;
    const char *error;              /* structural problem: quarantine with this reason */
    const char *value[ROLE_COUNT];  /* NUL-terminated or NULL */
} raw_row;

/* ----------------------------------------------------------- sources ---- */

typedef struct byte_reader {
    FILE *f;
    char buf[64 * 1024];
    size_t n, i;
    bool eof;
    uint64_t offset, line;
} byte_reader;

static int br_next(byte_reader *b) {
    if (b->i == b->n) {
        if (b->eof) return -1;
        b->n = fread(b->buf, 1, sizeof b->buf, b->f);
        b->i = 0;
        if (b->n < sizeof b->buf) {
            if (ferror(b->f)) return -2;
            b->eof = true;
        }
        if (b->n == 0) return -1;
    }
    b->offset++;
    int c = (unsigned char)b->buf[b->i++];
    if (c == '\n') b->line++;
    return c;
}

typedef struct source {
    md_ingest_format format;
    FILE *f;
    size_t max_record_bytes;
    /* csv */
    md_csv_reader *csv;
    md_csv_params csv_params;
    int col[ROLE_COUNT];   /* column index per role, -1 none */
    size_t n_columns;
    /* json */
    byte_reader br;
    bool in_array;         /* pmc-json: past the '[' */
    bool array_done;
    md_buf rec;
    json_t *obj;           /* current object (owned) */
    char *dumped[ROLE_COUNT]; /* json_dumps output per role (free) */
    char num[ROLE_COUNT][40];
    char error[256];
} source;

static void source_clear_row(source *s) {
    if (s->obj) json_decref(s->obj);
    s->obj = NULL;
    for (int i = 0; i < ROLE_COUNT; i++) {
        free(s->dumped[i]); /* jansson's allocation */
        s->dumped[i] = NULL;
    }
}

static void source_close(source *s) {
    source_clear_row(s);
    md_csv_reader_free(s->csv);
    s->csv = NULL;
    md_buf_free(&s->rec);
}

static int find_column(const md_csv_record *hdr, const char *name) {
    size_t n = hdr->n_fields < MD_CSV_MAX_FIELDS ? hdr->n_fields : MD_CSV_MAX_FIELDS;
    for (size_t i = 0; i < n; i++)
        if (strcmp(hdr->fields[i], name) == 0) return (int)i;
    return -1;
}

/* Reads the CSV header and maps roles to columns. */
static md_status csv_map_header(source *s, const md_csv_record *hdr, const md_ingest_columns *cols, md_error *err) {
    if (hdr->error) return md_error_set(err, MD_ERR_PARSE, "header (line %llu): %s", (unsigned long long)hdr->line, hdr->error);
    s->n_columns = hdr->n_fields;
    if (s->format == MD_INGEST_FORMAT_PMC_CSV) {
        char missing[256] = "";
        for (int r = 0; r < ROLE_COUNT; r++) {
            s->col[r] = find_column(hdr, k_pmc_names[r]);
            if (s->col[r] < 0 && strlen(missing) + strlen(k_pmc_names[r]) + 3 < sizeof missing) {
                strcat(missing, missing[0] ? ", " : "");
                strcat(missing, k_pmc_names[r]);
            }
        }
        for (size_t i = 0; i < MD_ARRAY_LEN(k_pmc_other_columns); i++) {
            if (find_column(hdr, k_pmc_other_columns[i]) < 0 && strlen(missing) + strlen(k_pmc_other_columns[i]) + 3 < sizeof missing) {
                strcat(missing, missing[0] ? ", " : "");
                strcat(missing, k_pmc_other_columns[i]);
            }
        }
        if (missing[0]) return md_error_set(err, MD_ERR_PARSE, "not a PMC-Patients CSV: missing column(s) %s", missing);
        return MD_OK;
    }
    const char *given[ROLE_COUNT] = {cols->id, cols->pmid, cols->title, cols->text, cols->age, cols->sex, NULL, NULL};
    static const char *const k_defaults[ROLE_COUNT] = {"id", "pmid", "title", "text", "age", "sex", NULL, NULL};
    for (int r = 0; r < ROLE_COUNT; r++) {
        s->col[r] = -1;
        const char *name = given[r] ? given[r] : k_defaults[r];
        if (!name) continue;
        s->col[r] = find_column(hdr, name);
        if (s->col[r] < 0 && (given[r] || r == ROLE_TEXT))
            return md_error_set(err, MD_ERR_PARSE, "csv: no column '%s' in the header (for %s)", name,
                                r == ROLE_TEXT ? "the text" : "a mapped field");
    }
    return MD_OK;
}

/* Opens a source on f positioned per (offset, line); reads the CSV header from the
 * start of the file first. */
static md_status source_open(source *s, md_ingest_format format, FILE *f, const md_ingest_params *p, uint64_t offset,
                             uint64_t line, md_error *err) {
    memset(s, 0, sizeof *s);
    s->format = format;
    s->f = f;
    s->csv_params.max_field_bytes = p->max_field_bytes;
    s->csv_params.max_record_bytes = p->max_record_bytes;
    s->max_record_bytes = p->max_record_bytes && p->max_record_bytes < MD_CSV_MAX_RECORD_BYTES ? p->max_record_bytes
                                                                                                : MD_CSV_MAX_RECORD_BYTES;
    md_buf_init(&s->rec);
    for (int r = 0; r < ROLE_COUNT; r++) s->col[r] = -1;
    if (fseeko(f, 0, SEEK_SET) != 0) return md_error_set(err, MD_ERR_IO, "cannot seek: %s", strerror(errno));
    md_status st;
    if (format == MD_INGEST_FORMAT_PMC_CSV || format == MD_INGEST_FORMAT_CSV) {
        if ((st = md_csv_reader_new(f, s->csv_params, 0, 1, &s->csv, err))) return st;
        md_csv_record hdr;
        bool eof = false;
        if ((st = md_csv_read(s->csv, &hdr, &eof, err))) return st;
        if (eof) return md_error_set(err, MD_ERR_EMPTY, "the file is empty (no CSV header)");
        if ((st = csv_map_header(s, &hdr, &p->columns, err))) return st;
        if (offset > hdr.byte_end) {
            md_csv_reader_free(s->csv);
            s->csv = NULL;
            if (fseeko(f, (off_t)offset, SEEK_SET) != 0)
                return md_error_set(err, MD_ERR_IO, "cannot seek to %llu: %s", (unsigned long long)offset, strerror(errno));
            if ((st = md_csv_reader_new(f, s->csv_params, offset, line, &s->csv, err))) return st;
        }
        return MD_OK;
    }
    s->br.f = f;
    s->br.line = 1;
    if (offset > 0) {
        if (fseeko(f, (off_t)offset, SEEK_SET) != 0)
            return md_error_set(err, MD_ERR_IO, "cannot seek to %llu: %s", (unsigned long long)offset, strerror(errno));
        s->br.offset = offset;
        s->br.line = line;
        s->in_array = true;
    } else {
        /* Skip a UTF-8 BOM. */
        int c0 = br_next(&s->br);
        if (c0 == 0xEF) {
            if (br_next(&s->br) != 0xBB || br_next(&s->br) != 0xBF)
                return md_error_set(err, MD_ERR_PARSE, "line 1: broken byte-order mark");
        } else {
            if (fseeko(f, 0, SEEK_SET) != 0) return md_error_set(err, MD_ERR_IO, "cannot seek: %s", strerror(errno));
            memset(&s->br, 0, sizeof s->br);
            s->br.f = f;
            s->br.line = 1;
        }
    }
    return MD_OK;
}

static void row_set_value(source *s, raw_row *row, role r, json_t *v) {
    if (!v || json_is_null(v)) return;
    if (json_is_string(v)) {
        row->value[r] = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(s->num[r], sizeof s->num[r], "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        row->value[r] = s->num[r];
    } else if (json_is_real(v)) {
        snprintf(s->num[r], sizeof s->num[r], "%.17g", json_real_value(v));
        row->value[r] = s->num[r];
    } else if (json_is_array(v) || json_is_object(v)) {
        s->dumped[r] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        row->value[r] = s->dumped[r];
        if (!row->value[r]) row->error = "out of memory converting a JSON value";
    } else if (json_is_boolean(v)) {
        row->value[r] = json_is_true(v) ? "true" : "false";
    }
}

static void row_from_object(source *s, raw_row *row) {
    if (!json_is_object(s->obj)) {
        row->error = "not a JSON object";
        return;
    }
    for (int r = 0; r < ROLE_COUNT; r++) {
        json_t *v = json_object_get(s->obj, k_pmc_names[r]);
        if (!v && k_json_alt_names[r]) v = json_object_get(s->obj, k_json_alt_names[r]);
        row_set_value(s, row, (role)r, v);
    }
}

static void parse_object_bytes(source *s, raw_row *row) {
    json_error_t je;
    s->obj = json_loadb(s->rec.data, s->rec.len, JSON_REJECT_DUPLICATES, &je);
    if (!s->obj) {
        snprintf(s->error, sizeof s->error, "invalid JSON: %s", je.text);
        row->error = s->error;
        return;
    }
    row_from_object(s, row);
}

/* JSON lines: one object per line; blank lines skipped. */
static md_status jsonl_next(source *s, raw_row *row, bool *eof, md_error *err) {
    for (;;) {
        md_buf_clear(&s->rec);
        row->line = s->br.line;
        bool too_long = false, any = false;
        int c;
        while ((c = br_next(&s->br)) >= 0 && c != '\n') {
            any = true;
            if (s->rec.len >= s->max_record_bytes) too_long = true;
            else md_buf_append_char(&s->rec, (char)c);
        }
        if (c == -2) return md_error_set(err, MD_ERR_IO, "read error at byte %llu", (unsigned long long)s->br.offset);
        if (!md_buf_ok(&s->rec)) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
        row->byte_end = s->br.offset;
        row->next_line = s->br.line;
        if (!any && c == -1) {
            *eof = true;
            return MD_OK;
        }
        size_t k = 0;
        while (k < s->rec.len && (s->rec.data[k] == ' ' || s->rec.data[k] == '\t' || s->rec.data[k] == '\r')) k++;
        if (k == s->rec.len && !too_long) continue;
        if (too_long) {
            snprintf(s->error, sizeof s->error, "line is longer than %zu bytes", s->max_record_bytes);
            row->error = s->error;
            return MD_OK;
        }
        parse_object_bytes(s, row);
        return MD_OK;
    }
}

static int skip_json_ws(byte_reader *b) {
    int c;
    do c = br_next(b);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    return c;
}

/* pmc-json: the next object of the top-level array. Structure errors between objects
 * are fatal (no reliable place to resume); errors inside an object quarantine it. */
static md_status json_array_next(source *s, raw_row *row, bool *eof, md_error *err) {
    if (s->array_done) {
        *eof = true;
        return MD_OK;
    }
    int c = skip_json_ws(&s->br);
    if (!s->in_array) {
        if (c != '[')
            return md_error_set(err, MD_ERR_PARSE, "line %llu: pmc-json: expected '[' (a JSON array of objects)",
                                (unsigned long long)s->br.line);
        s->in_array = true;
        c = skip_json_ws(&s->br);
        if (c == ']') {
            s->array_done = true;
            *eof = true;
            return MD_OK;
        }
    } else if (c == ',') {
        c = skip_json_ws(&s->br);
    } else if (c == ']') {
        s->array_done = true;
        int after = skip_json_ws(&s->br);
        if (after != -1)
            return md_error_set(err, MD_ERR_PARSE, "line %llu: pmc-json: text after the closing ']'",
                                (unsigned long long)s->br.line);
        *eof = true;
        return MD_OK;
    } else if (c == -1) {
        return md_error_set(err, MD_ERR_PARSE, "pmc-json: the array is not closed (truncated file?)");
    }
    if (c != '{')
        return md_error_set(err, MD_ERR_PARSE, "line %llu: pmc-json: expected an object", (unsigned long long)s->br.line);
    md_buf_clear(&s->rec);
    row->line = s->br.line;
    md_buf_append_char(&s->rec, '{');
    int depth = 1;
    bool in_str = false, esc = false, too_long = false;
    while (depth > 0) {
        c = br_next(&s->br);
        if (c == -2) return md_error_set(err, MD_ERR_IO, "read error at byte %llu", (unsigned long long)s->br.offset);
        if (c == -1)
            return md_error_set(err, MD_ERR_PARSE, "pmc-json: object starting at line %llu is not closed",
                                (unsigned long long)row->line);
        if (s->rec.len >= s->max_record_bytes) too_long = true;
        else md_buf_append_char(&s->rec, (char)c);
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    if (!md_buf_ok(&s->rec)) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    row->byte_end = s->br.offset;
    row->next_line = s->br.line;
    if (too_long) {
        snprintf(s->error, sizeof s->error, "object is longer than %zu bytes", s->max_record_bytes);
        row->error = s->error;
        return MD_OK;
    }
    parse_object_bytes(s, row);
    return MD_OK;
}

static md_status csv_next(source *s, raw_row *row, bool *eof, md_error *err) {
    md_csv_record rec;
    md_status st = md_csv_read(s->csv, &rec, eof, err);
    if (st || *eof) return st;
    row->line = rec.line;
    row->byte_end = rec.byte_end;
    row->next_line = rec.next_line;
    if (rec.error) {
        snprintf(s->error, sizeof s->error, "%s", rec.error);
        row->error = s->error;
        return MD_OK;
    }
    if (rec.n_fields != s->n_columns) {
        snprintf(s->error, sizeof s->error, "expected %zu fields, found %zu", s->n_columns, rec.n_fields);
        row->error = s->error;
        return MD_OK;
    }
    for (int r = 0; r < ROLE_COUNT; r++)
        if (s->col[r] >= 0) row->value[r] = rec.fields[s->col[r]];
    return MD_OK;
}

static md_status source_next(source *s, raw_row *row, bool *eof, md_error *err) {
    source_clear_row(s);
    memset(row, 0, sizeof *row);
    *eof = false;
    switch (s->format) {
    case MD_INGEST_FORMAT_PMC_CSV:
    case MD_INGEST_FORMAT_CSV: return csv_next(s, row, eof, err);
    case MD_INGEST_FORMAT_JSONL: return jsonl_next(s, row, eof, err);
    case MD_INGEST_FORMAT_PMC_JSON: return json_array_next(s, row, eof, err);
    default: return md_error_set(err, MD_ERR_INVALID_ARG, "no format");
    }
}

/* -------------------------------------------------------- validation ---- */

static bool blank(const char *s) {
    if (!s) return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
    return true;
}

/* Copies s trimmed of surrounding whitespace. */
static const char *trimmed_copy(md_arena *a, const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return md_arena_strndup(a, s, n);
}

typedef struct validator {
    md_ingest_format format;
    const char *source, *dataset_version;
    md_buf json;
} validator;

/* Returns MD_OK with rec filled, MD_ERR_PARSE with reason for a bad row, or another
 * status (OOM) that stops the import. */
static md_status validate_row(validator *v, const raw_row *row, md_arena *a, md_case_record *rec, char *reason,
                              size_t reason_bytes) {
    md_error e = {0};
    memset(rec, 0, sizeof *rec);
    rec->age_years = -1;
    rec->source = v->source;
    rec->dataset_version = v->dataset_version;
    bool pmc = v->format == MD_INGEST_FORMAT_PMC_CSV || v->format == MD_INGEST_FORMAT_PMC_JSON;
#define BAD(...)                                                                                                       \
    do {                                                                                                               \
        snprintf(reason, reason_bytes, __VA_ARGS__);                                                                   \
        return MD_ERR_PARSE;                                                                                           \
    } while (0)
    if (row->error) BAD("%s", row->error);
    const char *const *val = row->value;
    if (blank(val[ROLE_TEXT])) BAD("missing text (%s)", pmc ? "patient" : "text");
    if (pmc && blank(val[ROLE_ID])) BAD("missing patient_uid");
    rec->text = trimmed_copy(a, val[ROLE_TEXT]);
    if (!blank(val[ROLE_ID])) rec->external_id = trimmed_copy(a, val[ROLE_ID]);
    if (!blank(val[ROLE_TITLE])) rec->title = trimmed_copy(a, val[ROLE_TITLE]);
    if (!blank(val[ROLE_PMID])) {
        const char *p = trimmed_copy(a, val[ROLE_PMID]);
        if (!p) return MD_ERR_NOMEM;
        for (const char *q = p; *q; q++)
            if (*q < '0' || *q > '9') BAD("PMID is not a number");
        if (strlen(p) > 12) BAD("PMID is too long");
        rec->pmid = p;
    }
    const char *age = val[ROLE_AGE];
    if (!blank(age)) {
        while (*age == ' ') age++;
        if (*age == '[') {
            md_status st = md_pmc_age_parse(age, strlen(age), &rec->age_years, &e);
            if (st == MD_ERR_NOMEM) return st;
            if (st) BAD("%.400s", e.message);
        } else {
            char *end;
            double years = strtod(age, &end);
            while (*end == ' ') end++;
            if (end == age || *end || !isfinite(years) || years < 0 || years > MD_PMC_MAX_AGE_YEARS)
                BAD("age: expected a list like [[45.0, 'year']] or a number of years");
            rec->age_years = years;
        }
    } else if (pmc) {
        BAD("missing age");
    }
    const char *sex = val[ROLE_SEX];
    if (!blank(sex)) {
        const char *t = trimmed_copy(a, sex);
        if (!t) return MD_ERR_NOMEM;
        if (strcasecmp(t, "F") == 0 || strcasecmp(t, "female") == 0) rec->sex = "female";
        else if (strcasecmp(t, "M") == 0 || strcasecmp(t, "male") == 0) rec->sex = "male";
        else BAD("gender: expected M or F");
    } else if (pmc) {
        BAD("missing gender");
    }
    for (int r = ROLE_REL; r <= ROLE_SIM; r++) {
        if (blank(val[r])) continue;
        md_buf_clear(&v->json);
        md_status st = md_pmc_dict_to_json(val[r], strlen(val[r]), &v->json, &e);
        if (st == MD_ERR_NOMEM) return st;
        if (st) BAD("%s: %.400s", k_pmc_names[r], e.message);
        const char *j = md_arena_strndup(a, v->json.data, v->json.len);
        if (r == ROLE_REL) rec->relevant_articles_json = j;
        else rec->similar_patients_json = j;
        if (!j) return MD_ERR_NOMEM;
    }
#undef BAD
    if (!rec->text || (val[ROLE_ID] && !blank(val[ROLE_ID]) && !rec->external_id) ||
        (val[ROLE_TITLE] && !blank(val[ROLE_TITLE]) && !rec->title))
        return MD_ERR_NOMEM;
    return MD_OK;
}

/* ----------------------------------------------------------- helpers ---- */

static uint64_t peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024u; /* kilobytes on Linux */
}

static md_status detect_format(FILE *f, const char *path, md_ingest_format *out, md_error *err) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        if (strcasecmp(dot, ".json") == 0) {
            *out = MD_INGEST_FORMAT_PMC_JSON;
            return MD_OK;
        }
        if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0) {
            *out = MD_INGEST_FORMAT_JSONL;
            return MD_OK;
        }
    }
    /* Sniff: first non-blank byte, and for CSV whether the header is PMC-Patients'. */
    char head[4096];
    size_t n = fread(head, 1, sizeof head - 1, f);
    head[n] = '\0';
    if (fseeko(f, 0, SEEK_SET) != 0) return md_error_set(err, MD_ERR_IO, "cannot seek: %s", strerror(errno));
    size_t i = n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < n && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) i++;
    if (i == n) return md_error_set(err, MD_ERR_EMPTY, "the file is empty");
    if (head[i] == '[') *out = MD_INGEST_FORMAT_PMC_JSON;
    else if (head[i] == '{') *out = MD_INGEST_FORMAT_JSONL;
    else {
        char *eol = strchr(head + i, '\n');
        if (eol) *eol = '\0';
        *out = strstr(head + i, "patient_uid") && strstr(head + i, "similar_patients") ? MD_INGEST_FORMAT_PMC_CSV
                                                                                      : MD_INGEST_FORMAT_CSV;
    }
    return MD_OK;
}

static md_status import_key(FILE *f, md_ingest_format format, char *out, size_t out_bytes, md_error *err) {
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) return md_error_set(err, MD_ERR_IO, "cannot stat the input: %s", strerror(errno));
    md_sha256 c;
    md_sha256_init(&c);
    char buf[16384];
    size_t left = MD_INGEST_KEY_PREFIX_BYTES;
    while (left > 0) {
        size_t got = fread(buf, 1, left < sizeof buf ? left : sizeof buf, f);
        if (got == 0) break;
        md_sha256_update(&c, buf, got);
        left -= got;
    }
    if (ferror(f)) return md_error_set(err, MD_ERR_IO, "read error hashing the input");
    if (fseeko(f, 0, SEEK_SET) != 0) return md_error_set(err, MD_ERR_IO, "cannot seek: %s", strerror(errno));
    uint8_t d[MD_SHA256_DIGEST_BYTES];
    char hex[MD_SHA256_HEX_BYTES];
    md_sha256_final(&c, d);
    md_sha256_to_hex(d, hex);
    snprintf(out, out_bytes, "%s:%s:%lld", md_ingest_format_name(format), hex, (long long)sb.st_size);
    return MD_OK;
}

/* A TSV cell: tabs and line breaks become spaces, at most max_bytes (whole UTF-8). */
static void write_cell(FILE *q, const char *s, size_t max_bytes) {
    if (!s) return;
    size_t n = strlen(s);
    if (n > max_bytes) {
        n = max_bytes;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    for (size_t i = 0; i < n; i++) fputc(s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? ' ' : s[i], q);
}

static md_status quarantine_path(const md_ingest_params *p, const char *path, char *out, size_t out_bytes,
                                 md_error *err) {
    if (p->quarantine_path && *p->quarantine_path) {
        if ((size_t)snprintf(out, out_bytes, "%s", p->quarantine_path) >= out_bytes)
            return md_error_set(err, MD_ERR_INVALID_ARG, "quarantine path is too long");
        return MD_OK;
    }
    const char *dir = md_store_data_dir(p->data_dir);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char qdir[MD_INGEST_PATH_BYTES];
    if ((size_t)snprintf(qdir, sizeof qdir, "%s/quarantine", dir) >= sizeof qdir ||
        (size_t)snprintf(out, out_bytes, "%s/%s.tsv", qdir, base) >= out_bytes)
        return md_error_set(err, MD_ERR_INVALID_ARG, "quarantine path is too long");
    return md_store_mkdir_p(qdir, err);
}

/* -------------------------------------------------------------- passes ---- */

typedef struct run {
    md_store *store;
    const char *path;
    FILE *f;
    md_ingest_params p;
    md_ingest_format format;
    validator v;
    md_arena arena;
    char reason[512];
} run;

/* Pass 1: validates every row, writes the quarantine file; counts rows and bad rows. */
static md_status validate_pass(run *r, const char *qpath, uint64_t *n_rows, uint64_t *n_bad, md_error *err) {
    source s;
    md_status st = source_open(&s, r->format, r->f, &r->p, 0, 1, err);
    FILE *q = NULL;
    if (st == MD_OK) {
        q = fopen(qpath, "w");
        if (!q) st = md_error_set(err, MD_ERR_IO, "cannot write quarantine file %s: %s", qpath, strerror(errno));
        else fputs("line\tid\treason\n", q);
    }
    *n_rows = *n_bad = 0;
    while (st == MD_OK) {
        raw_row row;
        bool eof = false;
        md_arena_reset(&r->arena);
        if ((st = source_next(&s, &row, &eof, err)) || eof) break;
        (*n_rows)++;
        md_case_record rec;
        md_status vs = validate_row(&r->v, &row, &r->arena, &rec, r->reason, sizeof r->reason);
        if (vs == MD_ERR_PARSE) {
            (*n_bad)++;
            fprintf(q, "%llu\t", (unsigned long long)row.line);
            write_cell(q, row.error ? NULL : row.value[ROLE_ID], 128);
            fputc('\t', q);
            write_cell(q, r->reason, sizeof r->reason);
            fputc('\n', q);
        } else if (vs != MD_OK) {
            st = md_error_set(err, vs, "line %llu: out of memory", (unsigned long long)row.line);
        }
    }
    if (q && fclose(q) != 0 && st == MD_OK)
        st = md_error_set(err, MD_ERR_IO, "cannot write quarantine file %s", qpath);
    source_close(&s);
    return st;
}

static void log_batch(const run *r, const md_import_state *state) {
    if (!r->p.log) return;
    md_log(r->p.log, MD_LOG_LEVEL_INFO, "import batch committed", MD_LOG_INT("line", state->line),
           MD_LOG_INT("imported", state->n_imported), MD_LOG_INT("duplicates", state->n_duplicates),
           MD_LOG_INT("quarantined", state->n_quarantined));
}

/* Pass 2: imports from the saved state on, batch by batch. */
static md_status import_pass(run *r, const char *key, md_import_state *state, uint64_t *n_new, md_error *err) {
    source s;
    md_status st = source_open(&s, r->format, r->f, &r->p, state->byte_offset, state->line ? state->line : 1, err);
    bool eof = false;
    *n_new = 0;
    while (st == MD_OK && !eof) {
        if ((st = md_store_begin(r->store, err))) break;
        md_import_state now;
        bool found = false;
        if ((st = md_store_import_get(r->store, key, &now, &found, err)) ||
            (found && (now.byte_offset != state->byte_offset || now.done))) {
            if (st == MD_OK)
                st = md_error_set(err, MD_ERR_CONFLICT, "another import of this file is running into the same store");
            md_store_rollback(r->store);
            break;
        }
        size_t n_batch = 0;
        md_import_state next = *state;
        while (n_batch < r->p.batch_rows) {
            raw_row row;
            md_arena_reset(&r->arena);
            if ((st = source_next(&s, &row, &eof, err)) || eof) break;
            n_batch++;
            md_case_record rec;
            md_status vs = validate_row(&r->v, &row, &r->arena, &rec, r->reason, sizeof r->reason);
            if (vs == MD_ERR_PARSE) {
                next.n_quarantined++;
            } else if (vs != MD_OK) {
                st = md_error_set(err, vs, "line %llu: out of memory", (unsigned long long)row.line);
                break;
            } else {
                int64_t id = 0;
                bool inserted = false;
                if ((st = md_store_case_put(r->store, &rec, &id, &inserted, err))) break;
                if (inserted) {
                    next.n_imported++;
                    (*n_new)++;
                } else {
                    next.n_duplicates++;
                }
            }
            next.byte_offset = row.byte_end;
            next.line = row.next_line;
        }
        if (st == MD_OK) {
            next.done = eof;
            st = md_store_import_put(r->store, key, &next, err);
        }
        if (st == MD_OK) st = md_store_commit(r->store, err);
        if (st != MD_OK) {
            md_store_rollback(r->store);
            break;
        }
        *state = next;
        log_batch(r, state);
    }
    source_close(&s);
    return st;
}

md_status md_ingest_file(md_store *store, const char *path, md_ingest_params params, md_ingest_report *report,
                         md_error *err) {
    uint64_t t0 = md_clock_monotonic_ns();
    md_ingest_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    if (!store || !path) return md_error_set(err, MD_ERR_INVALID_ARG, "md_ingest_file: no store or path");
    if ((unsigned)params.format >= MD_INGEST_FORMAT_COUNT)
        return md_error_set(err, MD_ERR_INVALID_ARG, "unknown import format");
    if (params.batch_rows == 0 || params.batch_rows > MD_INGEST_MAX_BATCH_ROWS)
        return md_error_set(err, MD_ERR_INVALID_ARG, "batch size must be 1 to %d rows", MD_INGEST_MAX_BATCH_ROWS);
    if (!(params.max_bad_fraction >= 0 && params.max_bad_fraction <= 1))
        return md_error_set(err, MD_ERR_INVALID_ARG, "max bad fraction must be within 0..1");
    run r;
    memset(&r, 0, sizeof r);
    r.store = store;
    r.path = path;
    r.p = params;
    r.f = fopen(path, "rb");
    if (!r.f)
        return md_error_set(err, errno == ENOENT ? MD_ERR_NOT_FOUND : MD_ERR_IO, "cannot open %s: %s", path,
                            strerror(errno));
    md_arena_init(&r.arena, 0);
    md_buf_init(&r.v.json);
    md_status st = MD_OK;
    r.format = params.format;
    if (r.format == MD_INGEST_FORMAT_AUTO) st = detect_format(r.f, path, &r.format, err);
    report->format = r.format;
    bool pmc = r.format == MD_INGEST_FORMAT_PMC_CSV || r.format == MD_INGEST_FORMAT_PMC_JSON;
    r.v.format = r.format;
    r.v.source = params.source ? params.source : pmc ? "pmc-patients" : r.format == MD_INGEST_FORMAT_JSONL ? "jsonl" : "csv";
    r.v.dataset_version = params.dataset_version ? params.dataset_version : pmc ? "pmc-patients" : NULL;
    char key[sizeof report->import_key];
    if (st == MD_OK) st = import_key(r.f, r.format, key, sizeof key, err);
    if (st == MD_OK) snprintf(report->import_key, sizeof report->import_key, "%s", key);
    md_import_state state = {0};
    bool found = false;
    if (st == MD_OK) st = md_store_import_get(store, key, &state, &found, err);
    if (st == MD_OK && params.restart) {
        memset(&state, 0, sizeof state);
        found = false;
    }
    if (st == MD_OK && found && state.done) {
        report->already_done = true;
        report->n_imported = state.n_imported;
        report->n_duplicates = state.n_duplicates;
        report->n_quarantined = state.n_quarantined;
        report->n_rows = state.n_imported + state.n_duplicates + state.n_quarantined;
        goto finish;
    }
    if (st == MD_OK) st = quarantine_path(&params, path, report->quarantine_path, sizeof report->quarantine_path, err);
    uint64_t n_rows = 0, n_bad = 0;
    if (st == MD_OK) st = validate_pass(&r, report->quarantine_path, &n_rows, &n_bad, err);
    report->n_rows = n_rows;
    report->n_quarantined = n_bad;
    if (st == MD_OK && n_rows == 0) st = md_error_set(err, MD_ERR_EMPTY, "%s holds no records", path);
    if (st == MD_OK && (n_bad > params.max_bad_rows || (double)n_bad > params.max_bad_fraction * (double)n_rows)) {
        st = md_error_set(err, MD_ERR_LIMIT,
                          "%llu of %llu rows are bad (limit: %.4g of rows%s); nothing imported, see %s",
                          (unsigned long long)n_bad, (unsigned long long)n_rows, params.max_bad_fraction,
                          params.max_bad_rows == UINT64_MAX ? "" : " or the bad-row count", report->quarantine_path);
    }
    if (st == MD_OK) {
        if (found && state.byte_offset > 0) {
            report->resumed = true;
            report->resumed_at_line = state.line;
        }
        /* A restart starts the saved progress over (the batches check it). */
        if (params.restart) st = md_store_import_put(store, key, &state, err);
        if (params.log)
            md_log(params.log, MD_LOG_LEVEL_INFO, "import validated", MD_LOG_INT("rows", n_rows),
                   MD_LOG_INT("bad", n_bad), MD_LOG_BOOL("resumed", report->resumed));
        if (st == MD_OK) st = import_pass(&r, key, &state, &report->n_imported_this_run, err);
        report->n_imported = state.n_imported;
        report->n_duplicates = state.n_duplicates;
        report->n_quarantined = state.n_quarantined;
    }
finish:
    fclose(r.f);
    md_arena_free(&r.arena);
    md_buf_free(&r.v.json);
    report->seconds = (double)(md_clock_monotonic_ns() - t0) / 1e9;
    report->peak_rss_bytes = peak_rss_bytes();
    return st;
}
