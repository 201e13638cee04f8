/* The streaming CSV reader: RFC 4180 quoting (commas, line breaks, doubled quotes),
 * CRLF and LF, BOM, blank lines, the line and byte range of each record (and resuming
 * from a record's end), and each row-level failure class — quote in an unquoted
 * field, text after a closing quote, invalid UTF-8, NUL, oversized field, too many
 * fields, unterminated quote — reported on its row while the next row still parses.
 * An oversized field is consumed without being stored. */
#include "check.h"
#include "medify/base.h"
#include "store/csv_reader.h"

#include <stdlib.h>
#include <string.h>

static FILE *stream_of(const char *bytes, size_t n) {
    FILE *f = tmpfile();
    fwrite(bytes, 1, n, f);
    rewind(f);
    return f;
}

typedef struct reader {
    FILE *f;
    md_csv_reader *r;
} reader;

static reader open_str(const char *s, size_t n, md_csv_params p) {
    reader rd;
    rd.f = stream_of(s, n);
    md_error err = {0};
    CHECK_EQ_INT(md_csv_reader_new(rd.f, p, 0, 1, &rd.r, &err), MD_OK);
    return rd;
}

static void close_reader(reader *rd) {
    md_csv_reader_free(rd->r);
    fclose(rd->f);
}

static bool next(reader *rd, md_csv_record *rec) {
    bool eof = false;
    md_error err = {0};
    CHECK_EQ_INT(md_csv_read(rd->r, rec, &eof, &err), MD_OK);
    return !eof;
}

static void test_quoting(void) {
    const char *csv = "\xEF\xBB\xBF" "a,b,c\r\n"
                      "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
                      "\n"
                      "2,\"line one\nline two\",\"\"\n"
                      "3,,last";
    md_csv_params p = {0};
    reader rd = open_str(csv, strlen(csv), p);
    md_csv_record rec;
    CHECK(next(&rd, &rec));
    CHECK_EQ_INT(rec.n_fields, 3);
    CHECK_EQ_STR(rec.fields[0], "a"); /* BOM skipped */
    CHECK_EQ_INT(rec.line, 1);
    CHECK(rec.error == NULL);
    CHECK(next(&rd, &rec));
    CHECK_EQ_INT(rec.line, 2);
    CHECK_EQ_STR(rec.fields[1], "x, y");
    CHECK_EQ_STR(rec.fields[2], "say \"hi\"");
    uint64_t end2 = rec.byte_end, next2 = rec.next_line;
    CHECK_EQ_INT(next2, 3);
    CHECK(next(&rd, &rec)); /* the blank line 3 is skipped */
    CHECK_EQ_INT(rec.line, 4);
    CHECK_EQ_STR(rec.fields[1], "line one\nline two");
    CHECK_EQ_STR(rec.fields[2], "");
    CHECK_EQ_INT(rec.field_bytes[1], 17);
    CHECK(next(&rd, &rec));
    CHECK_EQ_INT(rec.line, 6); /* the quoted line break counted */
    CHECK_EQ_INT(rec.n_fields, 3);
    CHECK_EQ_STR(rec.fields[1], "");
    CHECK_EQ_STR(rec.fields[2], "last"); /* no final newline */
    CHECK_EQ_INT(rec.byte_end, strlen(csv));
    CHECK(!next(&rd, &rec));
    CHECK(!next(&rd, &rec)); /* EOF is sticky */
    close_reader(&rd);

    /* Resume at the end of record 2: the same records follow with the same lines. */
    FILE *f = stream_of(csv, strlen(csv));
    fseek(f, (long)end2, SEEK_SET);
    md_csv_reader *r = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_csv_reader_new(f, p, end2, next2, &r, &err), MD_OK);
    bool eof = false;
    CHECK_EQ_INT(md_csv_read(r, &rec, &eof, &err), MD_OK);
    CHECK(!eof);
    CHECK_EQ_INT(rec.line, 4);
    CHECK_EQ_STR(rec.fields[0], "2");
    md_csv_reader_free(r);
    fclose(f);
}

static void expect_row_error(const char *csv, size_t n, const char *want_substr, const char *next_first_field) {
    md_csv_params p = {.max_field_bytes = 64};
    reader rd = open_str(csv, n, p);
    md_csv_record rec;
    CHECK(next(&rd, &rec));
    CHECK_MSG(rec.error && strstr(rec.error, want_substr), "%s: got '%s'", want_substr, rec.error ? rec.error : "(none)");
    if (next_first_field) {
        CHECK(next(&rd, &rec));
        CHECK_MSG(!rec.error, "row after '%s' has error %s", want_substr, rec.error);
        CHECK_EQ_STR(rec.fields[0], next_first_field);
        CHECK_EQ_INT(rec.line, 2);
    }
    close_reader(&rd);
}

static void test_row_errors(void) {
    expect_row_error("1,ab\"c,d\n2,ok\n", 14, "quote inside an unquoted field", "2");
    expect_row_error("1,\"ab\"c,d\n2,ok\n", 15, "after the closing quote", "2");
    expect_row_error("1,caf\xC3(,d\n2,ok\n", 15, "invalid UTF-8 in field 2", "2");
    expect_row_error("1,a\0b,d\n2,ok\n", 13, "NUL byte", "2");
    char many[400] = "";
    for (int i = 0; i < 70; i++) strcat(many, "x,");
    strcat(many, "x\n2,ok\n");
    expect_row_error(many, strlen(many), "too many fields", "2");
    expect_row_error("1,\"never closed\n2,ok\n", 21, "unterminated quoted field", NULL);
    /* Overlong UTF-8 and surrogates are invalid too. */
    expect_row_error("\xC0\xAF\n2,ok\n", 8, "invalid UTF-8", "2");
    expect_row_error("\xED\xA0\x80\n2,ok\n", 9, "invalid UTF-8", "2");
}

/* A 5 MB field against a 64-byte limit: the row is reported, the reader's buffer
 * does not grow past the limit, and the next row parses. */
static void test_oversized(void) {
    size_t n_big = 5u << 20;
    char *csv = malloc(n_big + 64);
    size_t n = 0;
    memcpy(csv, "1,\"", 3);
    n = 3;
    memset(csv + n, 'y', n_big);
    n += n_big;
    memcpy(csv + n, "\",z\n2,ok\n", 9);
    n += 9;
    md_csv_params p = {.max_field_bytes = 64};
    reader rd = open_str(csv, n, p);
    md_csv_record rec;
    uint64_t before = md_alloc_count();
    CHECK(next(&rd, &rec));
    CHECK(md_alloc_count() - before < 20); /* no growth with the field */
    CHECK(rec.error && strstr(rec.error, "field 2 is longer than 64 bytes"));
    CHECK_EQ_INT(rec.line, 1);
    CHECK(next(&rd, &rec));
    CHECK(!rec.error);
    CHECK_EQ_STR(rec.fields[1], "ok");
    CHECK_EQ_INT(rec.line, 2);
    close_reader(&rd);

    /* The record limit applies to all fields together. */
    md_csv_params p2 = {.max_field_bytes = 64, .max_record_bytes = 100};
    const char *wide = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,"
                       "cccccccccccccccccccccccccccccccccccccccc\n2,ok\n";
    rd = open_str(wide, strlen(wide), p2);
    CHECK(next(&rd, &rec));
    CHECK(rec.error && strstr(rec.error, "record is longer than 100 bytes"));
    CHECK(next(&rd, &rec));
    CHECK(!rec.error);
    close_reader(&rd);
    free(csv);
}

static void test_oom(void) {
    const char *csv = "a,b\n1,2\n";
    for (uint64_t n = 1; n < 10; n++) {
        FILE *f = stream_of(csv, strlen(csv));
        md_csv_reader *r = NULL;
        md_error err = {0};
        md_csv_params p = {0};
        md_alloc_fail_after(n, true);
        md_status st = md_csv_reader_new(f, p, 0, 1, &r, &err);
        if (st == MD_OK) {
            md_csv_record rec;
            bool eof;
            st = md_csv_read(r, &rec, &eof, &err);
        }
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        md_csv_reader_free(r);
        fclose(f);
    }
}

int main(void) {
    test_quoting();
    test_row_errors();
    test_oversized();
    test_oom();
    return check_report("test_csv_reader");
}
