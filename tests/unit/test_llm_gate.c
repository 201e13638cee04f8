/* The hold-back gate both llm backends release text through (src/llm/llm_gate.c):
 * stop strings cut exactly, also across pushes and byte by byte; a partial stop string
 * is never shown; a UTF-8 character is never split; invalid bytes become U+FFFD;
 * a flush releases what was held; a cancel from the callback is reported. */
#include <string.h>

#include "check.h"
#include "llm/llm_internal.h"

typedef struct seen {
    md_buf all;
    int n, cancel_at;
    bool valid;
} seen;

static bool on_piece(const char *piece, size_t len, void *ctx) {
    seen *s = ctx;
    s->n++;
    if (!md_utf8_valid(piece, len, NULL)) s->valid = false;
    md_buf_append(&s->all, piece, len);
    md_buf_append_str(&s->all, "");
    return !(s->cancel_at && s->n >= s->cancel_at);
}

static md_llm_request request(seen *s, const char *stop0, const char *stop1) {
    md_llm_request r = {0};
    r.sampling = md_llm_sampling_default();
    r.sampling.stop[0] = stop0;
    r.sampling.stop[1] = stop1;
    r.n_stop = stop0 ? (stop1 ? 2 : 1) : 0;
    r.on_piece = on_piece;
    r.ctx = s;
    return r;
}

/* Pushes text in pieces of `step` bytes; returns the result of the push that ended it,
 * or of the final flush. *shown receives what the caller saw. */
static md_llm_gate_result run(const char *text, size_t step, const char *stop0, const char *stop1, int cancel_at,
                              md_buf *shown, bool *valid, const char *must_not_show) {
    seen s = {.valid = true, .cancel_at = cancel_at};
    md_buf_init(&s.all);
    md_llm_request r = request(&s, stop0, stop1);
    md_llm_gate g;
    md_llm_gate_init(&g);
    md_llm_gate_result res = MD_LLM_GATE_MORE;
    size_t n = strlen(text);
    for (size_t i = 0; i < n && res == MD_LLM_GATE_MORE; i += step) {
        res = md_llm_gate_push(&g, &r, text + i, n - i < step ? n - i : step);
        if (must_not_show && s.all.data) CHECK(strstr(s.all.data, must_not_show) == NULL);
    }
    if (res == MD_LLM_GATE_MORE) res = md_llm_gate_flush(&g, &r);
    CHECK(md_llm_gate_ok(&g));
    md_llm_gate_free(&g);
    md_buf_clear(shown);
    md_buf_append(shown, s.all.data ? s.all.data : "", s.all.len);
    md_buf_append_str(shown, "");
    *valid = s.valid;
    md_buf_free(&s.all);
    return res;
}

static void test_stops(void) {
    md_buf out;
    md_buf_init(&out);
    bool valid = false;
    static const char text[] = "Fever for 3 days.\nUser: more?";
    for (size_t step = 1; step <= sizeof text; step++) {
        CHECK_EQ_INT(run(text, step, "\nUser:", NULL, 0, &out, &valid, "\nUser"), MD_LLM_GATE_STOP);
        CHECK_EQ_STR(out.data, "Fever for 3 days.");
        /* two stops: the earlier one in the text wins, whichever is listed first */
        CHECK_EQ_INT(run(text, step, "more", "3 d", 0, &out, &valid, "3 d"), MD_LLM_GATE_STOP);
        CHECK_EQ_STR(out.data, "Fever for ");
        /* a stop that never completes: everything is shown in the end */
        CHECK_EQ_INT(run(text, step, "more!", NULL, 0, &out, &valid, NULL), MD_LLM_GATE_MORE);
        CHECK_EQ_STR(out.data, text);
        /* a stop string at the very start */
        CHECK_EQ_INT(run(text, step, "Fever", NULL, 0, &out, &valid, NULL), MD_LLM_GATE_STOP);
        CHECK_EQ_STR(out.data, "");
        /* overlapping prefix: "aab" in "aaab" */
        CHECK_EQ_INT(run("xaaab", step, "aab", NULL, 0, &out, &valid, "aab"), MD_LLM_GATE_STOP);
        CHECK_EQ_STR(out.data, "xa");
    }
    md_buf_free(&out);
}

static void test_utf8(void) {
    md_buf out;
    md_buf_init(&out);
    bool valid = false;
    static const char text[] = "caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x8A ok";
    for (size_t step = 1; step <= 4; step++) {
        CHECK_EQ_INT(run(text, step, NULL, NULL, 0, &out, &valid, NULL), MD_LLM_GATE_MORE);
        CHECK_EQ_STR(out.data, text);
        CHECK(valid); /* no piece ever ended inside a character */
    }
    /* invalid bytes: a stray continuation byte, a lead byte followed by ASCII, a
     * truncated character at the end */
    CHECK_EQ_INT(run("a\x80"
                     "b\xE2z\xF0\x9F",
                     1, NULL, NULL, 0, &out, &valid, NULL),
                 MD_LLM_GATE_MORE);
    CHECK_EQ_STR(out.data, "a\xEF\xBF\xBD"
                           "b\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(valid);
    md_buf_free(&out);
}

static void test_cancel(void) {
    md_buf out;
    md_buf_init(&out);
    bool valid = false;
    CHECK_EQ_INT(run("one two three", 4, NULL, NULL, 2, &out, &valid, NULL), MD_LLM_GATE_CANCEL);
    CHECK_EQ_STR(out.data, "one two ");
    md_buf_free(&out);
}

int main(void) {
    test_stops();
    test_utf8();
    test_cancel();
    return check_report("test_llm_gate");
}
