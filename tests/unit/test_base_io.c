/* Bounded reads: a stream over the limit gives MD_ERR_TOO_LARGE after reading little
 * more than the limit (checked against an endless stream), the limit itself is
 * accepted, NUL bytes survive, read errors and missing files map to their statuses,
 * and OOM frees everything. */
#define _GNU_SOURCE /* fopencookie: a stream whose reads we can count */
#include "check.h"
#include "medify/base.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An endless (well, 256 MiB) stream of 'x' that counts the bytes it hands out, or
 * one that fails every read. */
typedef struct endless {
    size_t n_served;
    size_t n_limit;
    int fail;
} endless;

static ssize_t endless_read(void *cookie, char *buf, size_t size) {
    endless *e = cookie;
    if (e->fail) {
        return -1;
    }
    size_t n = e->n_limit - e->n_served < size ? e->n_limit - e->n_served : size;
    memset(buf, 'x', n);
    e->n_served += n;
    return (ssize_t)n;
}

static FILE *endless_open(endless *e) {
    cookie_io_functions_t io = {.read = endless_read};
    return fopencookie(e, "r", io);
}

static FILE *stream_of(const void *bytes, size_t n) {
    FILE *f = tmpfile();
    fwrite(bytes, 1, n, f);
    rewind(f);
    return f;
}

static void test_limit(void) {
    char data[5000];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (char)('a' + i % 26);
    }
    char *out = NULL;
    size_t n = 0;
    md_error err;

    /* exactly at the limit: accepted */
    FILE *f = stream_of(data, sizeof(data));
    CHECK_EQ_INT(md_read_stream(f, sizeof(data), &out, &n, &err), MD_OK);
    CHECK_EQ_INT(n, sizeof(data));
    CHECK(out && memcmp(out, data, sizeof(data)) == 0 && out[n] == '\0');
    md_free(out);
    fclose(f);

    /* one byte over: refused, nothing handed out */
    f = stream_of(data, sizeof(data));
    out = (char *)1;
    md_error_clear(&err);
    CHECK_EQ_INT(md_read_stream(f, sizeof(data) - 1, &out, &n, &err), MD_ERR_TOO_LARGE);
    CHECK(out == NULL);
    CHECK_EQ_INT(err.status, MD_ERR_TOO_LARGE);
    CHECK(strstr(err.message, "4999") != NULL);
    fclose(f);

    /* max 0: only the empty stream fits */
    f = stream_of(data, 1);
    CHECK_EQ_INT(md_read_stream(f, 0, &out, &n, NULL), MD_ERR_TOO_LARGE);
    fclose(f);
    f = stream_of(data, 0);
    CHECK_EQ_INT(md_read_stream(f, 0, &out, &n, NULL), MD_OK);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(n, 0);
    md_free(out);
    fclose(f);
}

static void test_endless_stream_stops_early(void) {
    endless e = {.n_served = 0, .n_limit = (size_t)256 << 20, .fail = 0};
    FILE *f = endless_open(&e);
    CHECK(f != NULL);
    setvbuf(f, NULL, _IONBF, 0); /* no stdio read-ahead: the cookie sees every request */
    char *out = NULL;
    size_t n = 0;
    size_t max = 100000;
    CHECK_EQ_INT(md_read_stream(f, max, &out, &n, NULL), MD_ERR_TOO_LARGE);
    CHECK(out == NULL);
    /* it asked for the limit plus one byte, not for the rest of the stream */
    CHECK_MSG(e.n_served == max + 1, "served %zu bytes for max %zu", e.n_served, max);
    fclose(f);

    /* large but within the limit: many chunks, all bytes kept */
    e = (endless){.n_served = 0, .n_limit = 1000000, .fail = 0};
    f = endless_open(&e);
    CHECK_EQ_INT(md_read_stream(f, 1000000, &out, &n, NULL), MD_OK);
    CHECK_EQ_INT(n, 1000000);
    CHECK(out && out[0] == 'x' && out[999999] == 'x' && out[1000000] == '\0');
    md_free(out);
    fclose(f);
}

static void test_binary_and_errors(void) {
    const char bin[] = {'a', 0, 'b', 0, 0};
    FILE *f = stream_of(bin, sizeof(bin));
    char *out = NULL;
    size_t n = 0;
    CHECK_EQ_INT(md_read_stream(f, 100, &out, &n, NULL), MD_OK);
    CHECK_EQ_INT(n, sizeof(bin));
    CHECK(out && memcmp(out, bin, sizeof(bin)) == 0);
    md_free(out);
    fclose(f);

    endless e = {.fail = 1};
    f = endless_open(&e);
    md_error err;
    CHECK_EQ_INT(md_read_stream(f, 100, &out, &n, &err), MD_ERR_IO);
    CHECK(out == NULL);
    fclose(f);

    CHECK_EQ_INT(md_read_stream(NULL, 100, &out, &n, NULL), MD_ERR_INVALID_ARG);

    /* OOM: an error, no output, nothing leaked (ASan checks the last part) */
    f = stream_of("hello", 5);
    md_alloc_fail_after(1, true);
    CHECK_EQ_INT(md_read_stream(f, 100, &out, &n, &err), MD_ERR_NOMEM);
    md_alloc_fail_after(0, false);
    CHECK(out == NULL);
    fclose(f);
}

static void test_read_file(void) {
    char dir[] = "/tmp/medify-test-io-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    FILE *f = fopen(path, "wb");
    fputs("fever 3 days\n", f);
    fclose(f);

    char *out = NULL;
    size_t n = 0;
    md_error err;
    CHECK_EQ_INT(md_read_file(path, 1024, &out, &n, &err), MD_OK);
    CHECK_EQ_STR(out, "fever 3 days\n");
    CHECK_EQ_INT(n, 13);
    md_free(out);

    md_error_clear(&err);
    CHECK_EQ_INT(md_read_file(path, 5, &out, &n, &err), MD_ERR_TOO_LARGE);
    CHECK(out == NULL);
    CHECK(strstr(err.message, "notes.txt") != NULL);

    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing.txt", dir);
    CHECK_EQ_INT(md_read_file(missing, 1024, &out, &n, &err), MD_ERR_NOT_FOUND);
    CHECK(strstr(err.message, "missing.txt") != NULL);

    CHECK_EQ_INT(md_read_file(dir, 1024, &out, &n, &err), MD_ERR_IO); /* a directory */
    CHECK(out == NULL);

    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_limit();
    test_endless_stream_stops_early();
    test_binary_and_errors();
    test_read_file();
    return check_report("test_base_io");
}
