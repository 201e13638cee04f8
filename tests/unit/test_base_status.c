/* The status table: every status maps to its own name, message, exit code and HTTP
 * status; names are unique snake_case; codes are contiguous; md_error formats. */
#include "check.h"
#include "medify/base.h"

#include <ctype.h>
#include <string.h>

typedef struct expected_row {
    md_status status;
    int code;
    const char *name;
    int exit_code;
    int http;
    const char *message;
} expected_row;

static const expected_row expected[] = {
#define ROW(suffix, code, name, exit_code, http, message) \
    {MD_##suffix, code, name, exit_code, http, message},
    MD_STATUS_TABLE(ROW)
#undef ROW
};

static void test_table_round_trip(void) {
    CHECK_EQ_INT(MD_ARRAY_LEN(expected), MD_STATUS_COUNT);
    for (size_t i = 0; i < MD_ARRAY_LEN(expected); i++) {
        const expected_row *row = &expected[i];
        CHECK_EQ_INT(row->status, row->code);
        CHECK_EQ_INT(row->code, -(int)i); /* contiguous: index i has code -i */
        CHECK_EQ_STR(md_status_name(row->status), row->name);
        CHECK_EQ_STR(md_status_message(row->status), row->message);
        CHECK_EQ_INT(md_status_exit_code(row->status), row->exit_code);
        CHECK_EQ_INT(md_status_http(row->status), row->http);
        /* names are stable snake_case identifiers (they appear in API error bodies) */
        for (const char *p = row->name; *p; p++) {
            int allowed = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
            CHECK_MSG(allowed, "name %s has '%c'", row->name, *p);
        }
        for (size_t j = 0; j < i; j++) {
            CHECK_MSG(strcmp(expected[j].name, row->name) != 0, "duplicate name %s", row->name);
        }
    }
}

static void test_known_values(void) {
    /* Pinned by hand, independent of the X-macro: these are part of the API. */
    CHECK_EQ_INT(MD_OK, 0);
    CHECK_EQ_STR(md_status_name(MD_OK), "ok");
    CHECK_EQ_INT(md_status_exit_code(MD_OK), 0);
    CHECK_EQ_INT(md_status_http(MD_OK), 200);
    CHECK_EQ_STR(md_status_name(MD_ERR_NOMEM), "out_of_memory");
    CHECK_EQ_INT(md_status_http(MD_ERR_NOMEM), 503);
    CHECK_EQ_INT(md_status_exit_code(MD_ERR_NOMEM), 70);
    CHECK_EQ_STR(md_status_name(MD_ERR_TOO_LARGE), "too_large");
    CHECK_EQ_INT(md_status_http(MD_ERR_TOO_LARGE), 413);
    CHECK_EQ_INT(md_status_http(MD_ERR_NOT_FOUND), 404);
    CHECK_EQ_INT(md_status_exit_code(MD_ERR_NOT_FOUND), 66);
    CHECK_EQ_INT(md_status_http(MD_ERR_LIMIT), 429);
    CHECK_EQ_STR(md_status_name(MD_ERR_INTERNAL), "internal_error");
    CHECK_EQ_INT(MD_ERR_INTERNAL, -18);
    CHECK_EQ_INT(md_status_http(MD_ERR_METHOD_NOT_ALLOWED), 405);
    CHECK_EQ_INT(md_status_http(MD_ERR_UNSUPPORTED_MEDIA), 415);
    CHECK_EQ_STR(md_status_name(MD_ERR_UNAVAILABLE), "unavailable");
    CHECK_EQ_INT(md_status_http(MD_ERR_UNAVAILABLE), 503);
}

static void test_unknown_values(void) {
    md_status bogus[] = {(md_status)1, (md_status)-MD_STATUS_COUNT, (md_status)-1000,
                         (md_status)42};
    for (size_t i = 0; i < MD_ARRAY_LEN(bogus); i++) {
        CHECK_EQ_STR(md_status_name(bogus[i]), "unknown");
        CHECK(md_status_message(bogus[i]) != NULL);
        CHECK(md_status_exit_code(bogus[i]) != 0);
        CHECK_EQ_INT(md_status_http(bogus[i]), 500);
    }
}

static void test_error_set(void) {
    md_error err;
    md_error_clear(&err);
    CHECK_EQ_INT(err.status, MD_OK);
    CHECK_EQ_STR(err.message, "");

    CHECK_EQ_INT(md_error_set(&err, MD_ERR_PARSE, "%s:%d: unknown key '%s'", "file.kb", 12, "foo"),
                 MD_ERR_PARSE);
    CHECK_EQ_INT(err.status, MD_ERR_PARSE);
    CHECK_EQ_STR(err.message, "file.kb:12: unknown key 'foo'");

    /* NULL err: still returns the status, so `return md_error_set(NULL, ...)` works. */
    CHECK_EQ_INT(md_error_set(NULL, MD_ERR_IO, "x %d", 1), MD_ERR_IO);

    /* A message longer than the buffer is truncated, NUL-terminated. */
    char long_text[2000];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    md_error_set(&err, MD_ERR_INVALID_ARG, "%s", long_text);
    CHECK_EQ_INT(strlen(err.message), MD_ERROR_MSG_BYTES - 1);

    md_error_clear(&err);
    CHECK_EQ_INT(err.status, MD_OK);
    CHECK_EQ_STR(err.message, "");
    md_error_clear(NULL); /* no crash */
}

int main(void) {
    test_table_round_trip();
    test_known_values();
    test_unknown_values();
    test_error_set();
    return check_report("test_base_status");
}
