/* The hold-back gate: stop strings and UTF-8 boundaries on generated text
 * (llm_internal.h).
 *
 * Invariant: the caller has been shown exactly the text before `pending`, and no
 * stop string starts in the shown text. After each push the earliest stop string in
 * `pending` (if any) ends the text there. Otherwise `pending` is cut at the longest
 * tail that is a proper prefix of some stop string (it may yet become one), and
 * further back to the start of an unfinished UTF-8 character; the head is released.
 * So `pending` never holds more than the longest stop string plus three bytes, and a
 * stop string can only begin inside it.
 */
#include <string.h>

#include "llm/llm_internal.h"

void md_llm_gate_init(md_llm_gate *g) {
    md_buf_init(&g->pending);
    md_buf_init(&g->scratch);
}

void md_llm_gate_free(md_llm_gate *g) {
    md_buf_free(&g->pending);
    md_buf_free(&g->scratch);
}

void md_llm_gate_reset(md_llm_gate *g) {
    md_buf_clear(&g->pending);
    md_buf_clear(&g->scratch);
}

bool md_llm_gate_ok(const md_llm_gate *g) { return md_buf_ok(&g->pending) && md_buf_ok(&g->scratch); }

/* The largest n' <= n such that s[0..n') does not end inside a UTF-8 character whose
 * remaining bytes could still arrive. */
static size_t utf8_complete_prefix(const char *s, size_t n) {
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
        size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

/* The first occurrence of needle[0..k) in s[0..n), or NULL (memmem is a GNU extension). */
static const char *find_bytes(const char *s, size_t n, const char *needle, size_t k) {
    if (k == 0 || k > n) return NULL;
    for (const char *p = s, *last = s + (n - k); p <= last; p++) {
        p = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, needle, k) == 0) return p;
    }
    return NULL;
}

/* Emits s[0..n) with invalid sequences replaced by U+FFFD. */
static bool emit_text(md_llm_gate *g, const md_llm_request *req, const char *s, size_t n) {
    if (n == 0) return true;
    if (md_utf8_valid(s, n, NULL)) return md_llm_emit(req, s, n);
    md_buf_clear(&g->scratch);
    const char *p = s, *end = s + n;
    while (p < end) {
        char enc[4];
        size_t k = md_utf8_encode(md_utf8_decode(&p, end), enc);
        md_buf_append(&g->scratch, enc, k);
    }
    if (!md_buf_ok(&g->scratch)) return true; /* md_llm_gate_ok reports it */
    return md_llm_emit(req, g->scratch.data, g->scratch.len);
}

/* Releases what of g->pending is final; on `final` everything. */
static md_llm_gate_result release(md_llm_gate *g, const md_llm_request *req, bool final) {
    md_buf *pb = &g->pending;
    const char *s = pb->data ? pb->data : "";
    size_t n = pb->len, cut = SIZE_MAX;
    for (size_t i = 0; i < req->n_stop; i++) {
        const char *hit = find_bytes(s, n, req->sampling.stop[i], strlen(req->sampling.stop[i]));
        if (hit && (size_t)(hit - s) < cut) cut = (size_t)(hit - s);
    }
    if (cut != SIZE_MAX) {
        bool go_on = emit_text(g, req, s, cut);
        md_buf_clear(pb);
        return go_on ? MD_LLM_GATE_STOP : MD_LLM_GATE_CANCEL;
    }
    size_t safe = n;
    if (!final) {
        size_t hold = 0;
        for (size_t i = 0; i < req->n_stop; i++) {
            const char *stop = req->sampling.stop[i];
            size_t k = strlen(stop);
            for (size_t m = (k - 1 < n ? k - 1 : n); m > hold; m--) {
                if (memcmp(s + n - m, stop, m) == 0) {
                    hold = m;
                    break;
                }
            }
        }
        safe = utf8_complete_prefix(s, n - hold);
    }
    bool go_on = emit_text(g, req, s, safe);
    if (pb->data) {
        memmove(pb->data, s + safe, n - safe);
        pb->len = n - safe;
        pb->data[pb->len] = '\0';
    }
    return go_on ? MD_LLM_GATE_MORE : MD_LLM_GATE_CANCEL;
}

md_llm_gate_result md_llm_gate_push(md_llm_gate *g, const md_llm_request *req, const char *bytes, size_t n) {
    md_buf_append(&g->pending, bytes, n);
    if (!md_buf_ok(&g->pending)) return MD_LLM_GATE_MORE; /* md_llm_gate_ok reports it */
    return release(g, req, false);
}

md_llm_gate_result md_llm_gate_flush(md_llm_gate *g, const md_llm_request *req) {
    if (!md_buf_ok(&g->pending)) return MD_LLM_GATE_MORE;
    md_llm_gate_result r = release(g, req, true);
    md_buf_clear(&g->pending);
    return r;
}
