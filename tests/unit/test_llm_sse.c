/* The server-sent-events parser and writer (src/llm/sse.h): line ends, fields,
 * comments, dispatch rules, bounds, and the same events whatever the chunking. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "llm/sse.h"

typedef struct collected {
    md_buf log; /* "name=data|" per event */
    int n;
    int stop_after; /* 0: never stop */
} collected;

static bool on_event(const char *event, const char *data, size_t n_data, void *ctx) {
    collected *c = ctx;
    CHECK(data[n_data] == '\0');
    md_buf_append_str(&c->log, event);
    md_buf_append_char(&c->log, '=');
    md_buf_append(&c->log, data, n_data);
    md_buf_append_char(&c->log, '|');
    c->n++;
    return !(c->stop_after && c->n >= c->stop_after);
}

/* Parses stream in chunks of `chunk` bytes (0: whole) and returns the event log
 * (caller frees); *idle receives md_sse_parser_idle at the end. */
static char *parse(const char *stream, size_t n, size_t chunk, bool *idle, md_status *status) {
    md_sse_parser p;
    md_sse_parser_init(&p, 0);
    collected c = {0};
    md_buf_init(&c.log);
    md_status st = MD_OK;
    if (chunk == 0) chunk = n ? n : 1;
    for (size_t i = 0; i < n && st == MD_OK; i += chunk)
        st = md_sse_feed(&p, stream + i, i + chunk <= n ? chunk : n - i, on_event, &c, NULL);
    if (idle) *idle = md_sse_parser_idle(&p);
    if (status) *status = st;
    md_sse_parser_free(&p);
    md_buf_append_str(&c.log, "");
    return md_buf_steal(&c.log);
}

static void expect(const char *stream, const char *log, bool idle_expected, const char *what) {
    bool idle = false;
    md_status st = MD_ERR_INTERNAL;
    char *got = parse(stream, strlen(stream), 0, &idle, &st);
    CHECK_MSG(st == MD_OK, "%s: status %d", what, st);
    CHECK_MSG(got && strcmp(got, log) == 0, "%s: got \"%s\", expected \"%s\"", what, got ? got : "(null)", log);
    CHECK_MSG(idle == idle_expected, "%s: idle %d", what, idle);
    md_free(got);
}

static void test_rules(void) {
    expect("data: hello\n\n", "message=hello|", true, "one event");
    expect("data: a\ndata: b\n\n", "message=a\nb|", true, "multi-line data");
    expect("data: a\r\ndata: b\r\n\r\n", "message=a\nb|", true, "CRLF");
    expect("data: a\rdata: b\r\r", "message=a\nb|", true, "CR");
    expect(": keep-alive\ndata: x\n: another\n\n", "message=x|", true, "comments");
    expect("event: delta\ndata: x\n\ndata: y\n\n", "delta=x|message=y|", true, "event name is per event");
    expect("data:x\n\n", "message=x|", true, "no space after the colon");
    expect("data:  x\n\n", "message= x|", true, "only one space dropped");
    expect("data\n\n", "message=|", true, "field without colon: empty data line");
    expect("data: \n\n", "message=|", true, "empty data");
    expect("\n\n\nevent: e\n\n", "", true, "blank lines and an event without data dispatch nothing");
    expect("id: 7\nretry: 100\nfoo: bar\ndata: z\n\n", "message=z|", true, "id, retry and unknown fields ignored");
    expect("\xEF\xBB\xBF"
           "data: bom\n\n",
           "message=bom|", true, "leading BOM skipped");
    expect("data: {\"a\":1}\n\ndata: [DONE]\n\n", "message={\"a\":1}|message=[DONE]|", true, "OpenAI-style");
    expect("data: a\n\ndata: unfinished\n", "message=a|", false, "truncated event not dispatched");
    expect("data: a\n\ndata: partial", "message=a|", false, "truncated line");
    expect("data: a: b:c\n\n", "message=a: b:c|", true, "colons in the value");
}

/* The same events whatever the chunking: every split into two chunks, and byte by byte. */
static void test_chunking(void) {
    static const char stream[] = "\xEF\xBB\xBF: hello\r\n"
                                 "event: chunk\r\n"
                                 "data: {\"choices\":[{\"delta\":{\"content\":\"caf\xC3\xA9\"}}]}\r\n"
                                 "\r\n"
                                 "data: line1\rdata: line2\r\r"
                                 "data: x\n"
                                 "data: y\n"
                                 "\n"
                                 "data: [DONE]\n\n";
    size_t n = sizeof stream - 1;
    char *whole = parse(stream, n, 0, NULL, NULL);
    CHECK(whole && strcmp(whole, "chunk={\"choices\":[{\"delta\":{\"content\":\"caf\xC3\xA9\"}}]}|message=line1\nline2|"
                                 "message=x\ny|message=[DONE]|") == 0);
    for (size_t split = 1; split < n; split++) {
        md_sse_parser p;
        md_sse_parser_init(&p, 0);
        collected c = {0};
        md_buf_init(&c.log);
        CHECK(md_sse_feed(&p, stream, split, on_event, &c, NULL) == MD_OK);
        CHECK(md_sse_feed(&p, stream + split, n - split, on_event, &c, NULL) == MD_OK);
        md_buf_append_str(&c.log, "");
        CHECK_MSG(whole && c.log.data && strcmp(c.log.data, whole) == 0, "split at %zu: %s", split, c.log.data);
        CHECK(md_sse_parser_idle(&p));
        md_buf_free(&c.log);
        md_sse_parser_free(&p);
    }
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        char *got = parse(stream, n, chunk, NULL, NULL);
        CHECK_MSG(whole && got && strcmp(got, whole) == 0, "chunks of %zu", chunk);
        md_free(got);
    }
    md_free(whole);
}

static void test_bounds_and_stop(void) {
    md_sse_parser p;
    md_sse_parser_init(&p, 16);
    collected c = {0};
    md_buf_init(&c.log);
    char long_line[100];
    memset(long_line, 'x', sizeof long_line);
    CHECK(md_sse_feed(&p, "data: ", 6, on_event, &c, NULL) == MD_OK);
    md_error err = {0};
    CHECK(md_sse_feed(&p, long_line, sizeof long_line, on_event, &c, &err) == MD_ERR_TOO_LARGE);
    CHECK(strstr(err.message, "exceeds") != NULL);
    CHECK(md_sse_feed(&p, "\n\n", 2, on_event, &c, NULL) == MD_OK); /* ignored after an error */
    CHECK_EQ_INT(c.n, 0);
    md_sse_parser_free(&p);

    /* many short data lines: the event bound, not only the line bound */
    md_sse_parser_init(&p, 16);
    md_status st = MD_OK;
    for (int i = 0; i < 10 && st == MD_OK; i++)
        st = md_sse_feed(&p, "data: abcd\n", 11, on_event, &c, NULL);
    CHECK(st == MD_ERR_TOO_LARGE);
    md_sse_parser_free(&p);

    /* the callback stops the parser */
    md_sse_parser_init(&p, 0);
    c.stop_after = 1;
    static const char two[] = "data: 1\n\ndata: 2\n\n";
    CHECK(md_sse_feed(&p, two, sizeof two - 1, on_event, &c, NULL) == MD_OK);
    CHECK(p.stopped);
    CHECK_EQ_INT(c.n, 1);
    md_sse_parser_free(&p);
    md_buf_free(&c.log);
}

static void test_writer(void) {
    md_buf b;
    md_buf_init(&b);
    md_sse_write_comment(&b, "ping");
    md_sse_write_event(&b, NULL, "{\"x\":1}", 7);
    md_sse_write_event(&b, "note", "a\nb\r\nc\rd", 8);
    md_sse_write_event(&b, NULL, "ends\n", 5);
    md_sse_write_event(&b, NULL, "", 0);
    CHECK(md_buf_ok(&b));
    CHECK(strncmp(b.data, ": ping\ndata: {\"x\":1}\n\nevent: note\ndata: a\ndata: b\ndata: c\ndata: d\n\n", 67) == 0);
    bool idle = false;
    char *got = parse(b.data, b.len, 3, &idle, NULL);
    CHECK_MSG(got && strcmp(got, "message={\"x\":1}|note=a\nb\nc\nd|message=ends\n|message=|") == 0, "%s", got);
    CHECK(idle);
    md_free(got);
    md_buf_free(&b);
}

/* Every allocation of a parse fails in turn: an error or the right events, never a crash
 * or a leak. */
static void test_oom(void) {
    static const char stream[] = "event: e\ndata: one\ndata: two\n\ndata: three\n\n";
    for (uint64_t k = 1; k < 40; k++) {
        md_sse_parser p;
        md_sse_parser_init(&p, 0);
        collected c = {0};
        md_buf_init(&c.log);
        md_alloc_fail_after(k, false);
        md_status st = md_sse_feed(&p, stream, sizeof stream - 1, on_event, &c, NULL);
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        if (st == MD_OK && md_buf_ok(&c.log)) CHECK_EQ_INT(c.n, 2);
        md_buf_free(&c.log);
        md_sse_parser_free(&p);
    }
}

int main(void) {
    test_rules();
    test_chunking();
    test_bounds_and_stop();
    test_writer();
    test_oom();
    return check_report("test_llm_sse");
}
