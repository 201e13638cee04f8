/* status.c: the one error table, turned into lookups.
 *
 * MD_STATUS_TABLE in base.h is the single source of truth: every md_status with its
 * stable name, message, process exit code and HTTP status. This file expands it into
 * an array indexed by -code (codes run 0, -1, -2, ... without gaps), so each lookup
 * is a bounds check and a load. The static_asserts fail the build when a row is added
 * without bumping MD_STATUS_COUNT or when a code leaves the contiguous range; the
 * designated initialisers make a duplicated code a -Woverride-init error.
 *
 * md_error is the status plus a formatted message; md_error_set returns the status so
 * error paths read `return md_error_set(err, MD_ERR_IO, "...")`.
 */
#include "medify/base.h"

#include <assert.h>
#include <string.h>

typedef struct status_row {
    const char *name;
    const char *message;
    int exit_code;
    int http;
} status_row;

#define STATUS_ROW(suffix, code, name, exit_code, http, message) \
    [-(code)] = {(name), (message), (exit_code), (http)},
static const status_row status_rows[] = {MD_STATUS_TABLE(STATUS_ROW)};
#undef STATUS_ROW

#define STATUS_PLUS_ONE(suffix, code, name, exit_code, http, message) +1
static_assert((0 MD_STATUS_TABLE(STATUS_PLUS_ONE)) == MD_STATUS_COUNT,
              "MD_STATUS_COUNT does not match the number of rows in MD_STATUS_TABLE");
#undef STATUS_PLUS_ONE
static_assert(MD_ARRAY_LEN(status_rows) == MD_STATUS_COUNT,
              "status codes must run 0, -1, ..., -(MD_STATUS_COUNT - 1) without gaps");

/* Exit code and HTTP status for values outside the table (a corrupted md_status). */
#define STATUS_UNKNOWN_EXIT_CODE 70 /* EX_SOFTWARE, sysexits.h */
#define STATUS_UNKNOWN_HTTP 500

static const status_row *status_find(md_status s) {
    int code = (int)s;
    if (code > 0 || code <= -MD_STATUS_COUNT) {
        return NULL;
    }
    return &status_rows[-code];
}

const char *md_status_name(md_status s) {
    const status_row *row = status_find(s);
    return row ? row->name : "unknown";
}

const char *md_status_message(md_status s) {
    const status_row *row = status_find(s);
    return row ? row->message : "unknown error";
}

int md_status_exit_code(md_status s) {
    const status_row *row = status_find(s);
    return row ? row->exit_code : STATUS_UNKNOWN_EXIT_CODE;
}

int md_status_http(md_status s) {
    const status_row *row = status_find(s);
    return row ? row->http : STATUS_UNKNOWN_HTTP;
}

md_status md_error_set(md_error *err, md_status status, const char *fmt, ...) {
    if (!err) {
        return status;
    }
    err->status = status;
    if (!fmt) {
        snprintf(err->message, sizeof(err->message), "%s", md_status_message(status));
        return status;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (n < 0) { /* an encoding error: keep something readable rather than garbage */
        snprintf(err->message, sizeof(err->message), "%s", md_status_message(status));
    }
    return status;
}

void md_error_clear(md_error *err) {
    if (!err) {
        return;
    }
    err->status = MD_OK;
    err->message[0] = '\0';
}
