/* csv_reader.c: a streaming RFC 4180 reader.
 *
 * A byte-at-a-time state machine over a 64 KiB read buffer (RFC 4180, section 2):
 * fields are separated by commas and records by CRLF or LF (a lone CR also ends a
 * record); a field that starts with a double quote runs to the matching quote, may
 * hold commas, line breaks and doubled quotes (""), and must be followed by a comma
 * or the record end. Deviations mark the row bad but parsing continues in the most
 * plausible state (a stray quote in an unquoted field is kept as data; bytes after a
 * closing quote are appended), so one broken row does not derail the rest. An
 * unterminated quote can only end at end of file: its row is reported bad.
 *
 * Invariants: the record buffer never exceeds max_record_bytes plus the terminators;
 * a field past max_field_bytes stops being stored (its row is marked too large) but
 * its bytes are still consumed. Line numbers count LF, CRLF and lone CR once each.
 * UTF-8 is validated per field once the record is complete.
 */
#include "store/csv_reader.h"

#include <errno.h>
#include <string.h>

#define CSV_READ_CHUNK_BYTES (64u * 1024u)

struct md_csv_reader {
    FILE *f;
    size_t max_field_bytes, max_record_bytes;
    char in[CSV_READ_CHUNK_BYTES];
    size_t n_in, i_in;       /* bytes in `in`, next one to consume */
    bool at_eof;
    uint64_t offset;         /* file offset of in[i_in] */
    uint64_t line;           /* line of in[i_in] */
    bool check_bom;
    md_buf rec;              /* field bytes, each followed by NUL */
    size_t field_start[MD_CSV_MAX_FIELDS];
    char error[MD_CSV_ERROR_BYTES];
};

md_status md_csv_reader_new(FILE *f, md_csv_params params, uint64_t start_offset, uint64_t start_line,
                            md_csv_reader **out, md_error *err) {
    *out = NULL;
    if (!f) return md_error_set(err, MD_ERR_INVALID_ARG, "csv: no input stream");
    md_csv_reader *r = md_calloc(1, sizeof *r);
    if (!r) return md_error_set(err, MD_ERR_NOMEM, "csv: out of memory");
    r->f = f;
    r->max_field_bytes = params.max_field_bytes && params.max_field_bytes < MD_CSV_MAX_FIELD_BYTES
                             ? params.max_field_bytes
                             : MD_CSV_MAX_FIELD_BYTES;
    r->max_record_bytes = params.max_record_bytes && params.max_record_bytes < MD_CSV_MAX_RECORD_BYTES
                              ? params.max_record_bytes
                              : MD_CSV_MAX_RECORD_BYTES;
    r->offset = start_offset;
    r->line = start_line ? start_line : 1;
    r->check_bom = start_offset == 0;
    md_buf_init(&r->rec);
    *out = r;
    return MD_OK;
}

void md_csv_reader_free(md_csv_reader *r) {
    if (!r) return;
    md_buf_free(&r->rec);
    md_free(r);
}

/* Next byte, or -1 at end of input, -2 on a read error. */
static int next_byte(md_csv_reader *r) {
    if (r->i_in == r->n_in) {
        if (r->at_eof) return -1;
        r->n_in = fread(r->in, 1, sizeof r->in, r->f);
        r->i_in = 0;
        if (r->n_in < sizeof r->in) {
            if (ferror(r->f)) return -2;
            r->at_eof = true;
        }
        if (r->n_in == 0) return -1;
    }
    r->offset++;
    return (unsigned char)r->in[r->i_in++];
}

static int peek_byte(md_csv_reader *r) {
    if (r->i_in == r->n_in) {
        if (r->at_eof) return -1;
        r->n_in = fread(r->in, 1, sizeof r->in, r->f);
        r->i_in = 0;
        if (r->n_in < sizeof r->in) {
            if (ferror(r->f)) return -2;
            r->at_eof = true;
        }
        if (r->n_in == 0) return -1;
    }
    return (unsigned char)r->in[r->i_in];
}

static void row_error(md_csv_reader *r, const char *msg) {
    if (!r->error[0]) snprintf(r->error, sizeof r->error, "%s", msg);
}

typedef struct field_acc {
    size_t n_bytes;  /* bytes of the current field seen (stored or not) */
    size_t n_fields; /* fields started so far */
    bool storing;    /* current field is being stored */
} field_acc;

static void start_field(md_csv_reader *r, field_acc *acc) {
    acc->n_bytes = 0;
    if (acc->n_fields < MD_CSV_MAX_FIELDS) {
        r->field_start[acc->n_fields] = r->rec.len;
        acc->storing = true;
    } else {
        row_error(r, "too many fields");
        acc->storing = false;
    }
    acc->n_fields++;
}

static void put_byte(md_csv_reader *r, field_acc *acc, char c) {
    acc->n_bytes++;
    if (!acc->storing) return;
    if (acc->n_bytes > r->max_field_bytes) {
        char msg[MD_CSV_ERROR_BYTES];
        snprintf(msg, sizeof msg, "field %zu is longer than %zu bytes", acc->n_fields, r->max_field_bytes);
        row_error(r, msg);
        acc->storing = false;
        return;
    }
    if (r->rec.len + 1 > r->max_record_bytes) {
        char msg[MD_CSV_ERROR_BYTES];
        snprintf(msg, sizeof msg, "record is longer than %zu bytes", r->max_record_bytes);
        row_error(r, msg);
        acc->storing = false;
        return;
    }
    md_buf_append_char(&r->rec, c);
}

/* Appends the run of ordinary bytes that starts at the next input byte and ends before
 * the first byte that can end it (or at the end of the buffer): the fast path for long
 * fields. NUL stops the run so the byte path sees it. */
static void put_run(md_csv_reader *r, field_acc *acc, bool quoted) {
    size_t start = r->i_in, end = start;
    if (quoted) {
        while (end < r->n_in && r->in[end] != '"' && r->in[end] != '\n' && r->in[end] != '\r' && r->in[end] != '\0')
            end++;
    } else {
        while (end < r->n_in && r->in[end] != ',' && r->in[end] != '"' && r->in[end] != '\n' && r->in[end] != '\r' &&
               r->in[end] != '\0')
            end++;
    }
    size_t n = end - start;
    if (n == 0) return;
    if (acc->storing) {
        size_t room_field = r->max_field_bytes - acc->n_bytes;
        size_t room_rec = r->max_record_bytes > r->rec.len ? r->max_record_bytes - r->rec.len : 0;
        size_t take = n < room_field ? n : room_field;
        take = take < room_rec ? take : room_rec;
        md_buf_append(&r->rec, r->in + start, take);
        if (take < n) {
            char msg[MD_CSV_ERROR_BYTES];
            if (room_field <= room_rec)
                snprintf(msg, sizeof msg, "field %zu is longer than %zu bytes", acc->n_fields, r->max_field_bytes);
            else
                snprintf(msg, sizeof msg, "record is longer than %zu bytes", r->max_record_bytes);
            row_error(r, msg);
            acc->storing = false;
        }
    }
    acc->n_bytes += n;
    r->i_in = end;
    r->offset += n;
}

static void end_field(md_csv_reader *r, field_acc *acc) {
    /* The NUL after each field: stored fields and dropped ones alike keep offsets sane. */
    if (acc->n_fields <= MD_CSV_MAX_FIELDS) md_buf_append_char(&r->rec, '\0');
}

md_status md_csv_read(md_csv_reader *r, md_csv_record *rec, bool *eof, md_error *err) {
    *eof = false;
    for (;;) {
        md_buf_clear(&r->rec);
        r->error[0] = '\0';
        memset(rec, 0, sizeof *rec);
        if (r->check_bom) {
            r->check_bom = false;
            if (peek_byte(r) == 0xEF) {
                /* Only skip a complete BOM; anything else is data. The buffer holds
                 * at least three bytes unless the file is shorter. */
                if (r->n_in - r->i_in >= 3 && (unsigned char)r->in[r->i_in + 1] == 0xBB &&
                    (unsigned char)r->in[r->i_in + 2] == 0xBF) {
                    r->i_in += 3;
                    r->offset += 3;
                }
            }
        }
        rec->line = r->line;
        rec->byte_start = r->offset;
        field_acc acc = {0};
        enum { FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED, AFTER_CLOSE } state = FIELD_START;
        bool any_byte = false;
        bool ended = false;
        start_field(r, &acc);
        while (!ended) {
            int c = next_byte(r);
            if (c == -2) {
                int e = errno;
                return md_error_set(err, MD_ERR_IO, "csv: read error at byte %llu: %s",
                                    (unsigned long long)r->offset, e ? strerror(e) : "unknown");
            }
            if (c == -1) {
                if (!any_byte) {
                    *eof = true;
                    return MD_OK;
                }
                if (state == QUOTED) {
                    char msg[MD_CSV_ERROR_BYTES];
                    snprintf(msg, sizeof msg, "unterminated quoted field (field %zu) runs to end of file", acc.n_fields);
                    row_error(r, msg);
                }
                end_field(r, &acc);
                break;
            }
            any_byte = true;
            bool line_end = c == '\n' || c == '\r';
            if (line_end && state != QUOTED) {
                if (c == '\r' && peek_byte(r) == '\n') next_byte(r);
                r->line++;
                end_field(r, &acc);
                ended = true;
                break;
            }
            switch (state) {
            case FIELD_START:
                if (c == '"') {
                    state = QUOTED;
                } else if (c == ',') {
                    end_field(r, &acc);
                    start_field(r, &acc);
                } else {
                    put_byte(r, &acc, (char)c);
                    put_run(r, &acc, false);
                    state = UNQUOTED;
                }
                break;
            case UNQUOTED:
                if (c == ',') {
                    end_field(r, &acc);
                    start_field(r, &acc);
                    state = FIELD_START;
                } else {
                    if (c == '"') row_error(r, "quote inside an unquoted field");
                    put_byte(r, &acc, (char)c);
                    put_run(r, &acc, false);
                }
                break;
            case QUOTED:
                if (c == '"') {
                    state = QUOTE_IN_QUOTED;
                } else {
                    if (line_end) {
                        if (c == '\r' && peek_byte(r) == '\n') {
                            put_byte(r, &acc, '\r');
                            c = next_byte(r);
                        }
                        r->line++;
                    }
                    put_byte(r, &acc, (char)c);
                    put_run(r, &acc, true);
                }
                break;
            case QUOTE_IN_QUOTED:
                if (c == '"') {
                    put_byte(r, &acc, '"'); /* doubled quote */
                    state = QUOTED;
                } else if (c == ',') {
                    end_field(r, &acc);
                    start_field(r, &acc);
                    state = FIELD_START;
                } else {
                    row_error(r, "text after the closing quote of a field");
                    put_byte(r, &acc, (char)c);
                    state = AFTER_CLOSE;
                }
                break;
            case AFTER_CLOSE:
                if (c == ',') {
                    end_field(r, &acc);
                    start_field(r, &acc);
                    state = FIELD_START;
                } else {
                    put_byte(r, &acc, (char)c);
                }
                break;
            }
        }
        if (!md_buf_ok(&r->rec)) return md_error_set(err, MD_ERR_NOMEM, "csv: out of memory");
        rec->byte_end = r->offset;
        rec->next_line = r->line;
        /* A blank line (one empty field, no quotes) is not a record. */
        if (acc.n_fields == 1 && r->rec.len <= 1 && state == FIELD_START && !r->error[0]) continue;
        rec->n_fields = acc.n_fields;
        size_t n_stored = acc.n_fields < MD_CSV_MAX_FIELDS ? acc.n_fields : MD_CSV_MAX_FIELDS;
        for (size_t i = 0; i < n_stored; i++) {
            size_t start = r->field_start[i];
            rec->fields[i] = r->rec.data + start;
            rec->field_bytes[i] = strlen(r->rec.data + start);
        }
        if (!r->error[0]) {
            for (size_t i = 0; i < n_stored; i++) {
                size_t bad = 0;
                if (!md_utf8_valid(rec->fields[i], rec->field_bytes[i], &bad)) {
                    snprintf(r->error, sizeof r->error, "invalid UTF-8 in field %zu at byte %zu", i + 1, bad);
                    break;
                }
            }
        }
        /* NUL bytes inside a field would silently truncate it. */
        if (!r->error[0]) {
            size_t n_total = 0;
            for (size_t i = 0; i < n_stored; i++) n_total += rec->field_bytes[i] + 1;
            if (n_total != r->rec.len) snprintf(r->error, sizeof r->error, "NUL byte in a field");
        }
        rec->error = r->error[0] ? r->error : NULL;
        return MD_OK;
    }
}
