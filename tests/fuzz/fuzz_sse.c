/* Fuzzes the server-sent-events parser (src/llm/sse.h) differentially: the input is
 * parsed whole, then split at a point taken from its first bytes, then byte by byte;
 * the three event logs and the final idle state must be identical, and no input may
 * crash or leak (the sanitizers watch). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool on_event(const char *event, const char *d, size_t n, void *ctx) {
    md_buf *log = ctx;
    md_buf_append_str(log, event);
    md_buf_append_char(log, '\0');
    md_buf_append(log, d, n);
    md_buf_append_char(log, '\0');
    return true;
}

/* Parses in pieces of `step` bytes, the first piece `first` bytes long. */
static void parse(const char *s, size_t n, size_t first, size_t step, md_buf *log, md_status *st, bool *idle) {
    md_sse_parser p;
    md_sse_parser_init(&p, 4096);
    *st = MD_OK;
    size_t i = 0;
    while (i < n && *st == MD_OK) {
        size_t k = i == 0 ? first : step;
        if (k == 0 || k > n - i) k = n - i;
        *st = md_sse_feed(&p, s + i, k, on_event, log, NULL);
        i += k;
    }
    *idle = md_sse_parser_idle(&p);
    md_sse_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    const char *s = (const char *)data;
    size_t split = size ? (size_t)data[0] % (size + 1) : 0;
    md_buf a, b, c;
    md_buf_init(&a);
    md_buf_init(&b);
    md_buf_init(&c);
    md_status sa, sb, sc;
    bool ia, ib, ic;
    parse(s, size, size, size, &a, &sa, &ia);
    parse(s, size, split, size, &b, &sb, &ib);
    parse(s, size, 1, 1, &c, &sc, &ic);
    if (md_buf_ok(&a) && md_buf_ok(&b) && md_buf_ok(&c) && sa == MD_OK) {
        if (sb != MD_OK || sc != MD_OK || a.len != b.len || a.len != c.len ||
            (a.len && (memcmp(a.data, b.data, a.len) != 0 || memcmp(a.data, c.data, a.len) != 0)) || ia != ib ||
            ia != ic)
            abort(); /* the chunking changed the result */
    }
    md_buf_free(&a);
    md_buf_free(&b);
    md_buf_free(&c);
    return 0;
}
