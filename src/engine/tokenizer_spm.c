/* tokenizer_spm.c: SentencePiece BPE ("llama" vocabularies: Llama 2, Mistral,
 * BioMistral), as llama.cpp's llm_tokenizer_spm runs it.
 *
 * SentencePiece (Kudo & Richardson 2018) writes spaces as U+2581 '▁' so that words
 * carry their leading space; with add_space_prefix one '▁' is put before the text
 * (before each raw fragment that follows a special token, and before the first one).
 * The text is then split into UTF-8 characters (the length announced by each lead
 * byte, cut short at the end of the text) and merged greedily by piece score: the
 * adjacent pair whose concatenation is a token with the highest score is merged first
 * (ties: leftmost), again and again, until no adjacent pair forms a token. Every final
 * symbol is a token, except single characters the vocabulary lacks; those are written
 * with byte-fallback tokens "<0xXX>", one per UTF-8 byte (a byte with no such token
 * falls back to its one-byte text, then to <unk>, where llama.cpp would throw).
 *
 * Invariants: symbols are contiguous ranges of the escaped text in a linked list; a
 * merged-away symbol has n == 0; a queued pair is valid iff both symbols are alive
 * and their lengths still add up to the length recorded when it was queued.
 */
#include "engine/tokenizer_internal.h"

#include <string.h>

#define SPM_SPACE       "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK */
#define SPM_SPACE_BYTES 3

typedef struct spm_symbol {
    size_t start, n;
    int64_t prev, next;
} spm_symbol;

typedef struct spm_bigram {
    float score;
    int64_t left, right;
    size_t size;
} spm_bigram;

typedef struct spm_state {
    const md_tokenizer *tok;
    const char *text;
    spm_symbol *syms;
    spm_bigram *heap;
    size_t heap_n, heap_cap;
    bool failed;
} spm_state;

/* Higher score first, then leftmost. */
static bool spm_before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void spm_push(spm_state *s, spm_bigram g) {
    if (s->heap_n == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        spm_bigram *h = cap > SIZE_MAX / sizeof(spm_bigram) ? NULL : md_realloc(s->heap, cap * sizeof(spm_bigram));
        if (!h) {
            s->failed = true;
            return;
        }
        s->heap = h;
        s->heap_cap = cap;
    }
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!spm_before(&g, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = g;
}

static spm_bigram spm_pop(spm_state *s) {
    spm_bigram top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) break;
        if (c + 1 < s->heap_n && spm_before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!spm_before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n) s->heap[i] = last;
    return top;
}

static void spm_try(spm_state *s, int64_t left, int64_t right) {
    if (left < 0 || right < 0) {
        return;
    }
    size_t size = s->syms[left].n + s->syms[right].n;
    int32_t id = md_tok_find(s->tok, s->text + s->syms[left].start, size);
    if (id == MD_TOKEN_NULL) {
        return;
    }
    spm_push(s, (spm_bigram){s->tok->tokens[id].score, left, right, size});
}

static void spm_emit_bytes(const md_tokenizer *tok, const char *p, size_t n, md_tok_out *out) {
    for (size_t j = 0; j < n; j++) {
        int32_t id = tok->byte_ids[(unsigned char)p[j]];
        if (id == MD_TOKEN_NULL) {
            id = tok->ids.unk;
        }
        if (id != MD_TOKEN_NULL) {
            md_tok_out_push(out, id);
        }
    }
}

md_status md_tok_spm_encode(const md_tokenizer *tok, const char *text, size_t n_bytes, bool prefix_space,
                            md_tok_out *out) {
    /* escape: optional leading space, then every ' ' → '▁' */
    size_t n_spaces = prefix_space ? 1 : 0;
    for (size_t i = 0; i < n_bytes; i++) {
        n_spaces += text[i] == ' ';
    }
    if (n_bytes > SIZE_MAX / 4) {
        return MD_ERR_NOMEM;
    }
    size_t n_esc = n_bytes + n_spaces * (SPM_SPACE_BYTES - 1) + (prefix_space ? 1 : 0);
    if (n_esc == 0) {
        return MD_OK;
    }
    char *esc = md_malloc(n_esc);
    spm_symbol *syms = md_calloc(n_esc, sizeof(spm_symbol));
    if (!esc || !syms) {
        md_free(esc);
        md_free(syms);
        return MD_ERR_NOMEM;
    }
    size_t k = 0;
    if (prefix_space) {
        memcpy(esc, SPM_SPACE, SPM_SPACE_BYTES);
        k = SPM_SPACE_BYTES;
    }
    for (size_t i = 0; i < n_bytes; i++) {
        if (text[i] == ' ') {
            memcpy(esc + k, SPM_SPACE, SPM_SPACE_BYTES);
            k += SPM_SPACE_BYTES;
        } else {
            esc[k++] = text[i];
        }
    }
    n_esc = k;

    size_t n_syms = 0;
    for (size_t off = 0; off < n_esc;) {
        size_t len = md_tok_utf8_len((unsigned char)esc[off]);
        if (len > n_esc - off) len = n_esc - off;
        syms[n_syms] = (spm_symbol){off, len, (int64_t)n_syms - 1, off + len == n_esc ? -1 : (int64_t)n_syms + 1};
        n_syms++;
        off += len;
    }

    spm_state s = {tok, esc, syms, NULL, 0, 0, false};
    for (size_t i = 1; i < n_syms; i++) {
        spm_try(&s, (int64_t)i - 1, (int64_t)i);
    }
    while (s.heap_n > 0 && !s.failed) {
        spm_bigram g = spm_pop(&s);
        spm_symbol *l = &syms[g.left], *r = &syms[g.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size) {
            continue;
        }
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) {
            syms[r->next].prev = g.left;
        }
        spm_try(&s, l->prev, g.left);
        spm_try(&s, g.left, l->next);
    }
    for (int64_t i = 0; i >= 0 && !s.failed; i = syms[i].next) {
        int32_t id = md_tok_find(tok, esc + syms[i].start, syms[i].n);
        if (id != MD_TOKEN_NULL) {
            md_tok_out_push(out, id);
        } else {
            spm_emit_bytes(tok, esc + syms[i].start, syms[i].n, out);
        }
    }
    md_status st = s.failed || out->failed ? MD_ERR_NOMEM : MD_OK;
    md_free(s.heap);
    md_free(syms);
    md_free(esc);
    return st;
}
