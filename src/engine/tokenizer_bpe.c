/* tokenizer_bpe.c: byte-level BPE ("gpt2" vocabularies: Llama 3, OpenBioLLM).
 *
 * Three stages, as in GPT-2 (Radford et al. 2019, sec. 2.2) and llama.cpp's
 * llm_tokenizer_bpe_session:
 *
 * 1. Pre-tokenisation splits the text into words. The Llama 3 split is the regex
 *      (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *      | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *    implemented by hand over code points: at each position the alternatives are
 *    tried in order and the first that matches (greedily) is taken. The "default"
 *    split is llama.cpp's cascade of four patterns, each applied to the pieces of the
 *    previous one: runs of [\p{P}$+<=>^~|], then the GPT-2 pattern
 *    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+,
 *    then runs of \p{N}, then triples of ASCII digits. Classes come from the Unicode
 *    tables (unicode_tables.c); \s is White_Space.
 * 2. Each word's UTF-8 bytes are written in the GPT-2 byte alphabet (printable bytes
 *    stand for themselves, the 68 others for U+0100..U+0143), so every token is text.
 * 3. If the whole word is a token and the pre-tokenizer says so (ignore_merges, set
 *    for Llama 3) it is emitted as is. Otherwise the word starts as one symbol per
 *    character and the adjacent pair with the lowest merge rank is merged until no
 *    pair has a rank (ties: leftmost first). A final symbol that is not a token is
 *    emitted byte by byte, each byte looked up as a one-byte token text and dropped
 *    when there is none, which is what llama.cpp does.
 *
 * Invalid UTF-8 bytes become U+FFFD before stage 2 (llama.cpp's decoder), so they
 * are tokenized as the three bytes EF BF BD.
 *
 * Invariants of the merge loop: symbols form a doubly linked list over the word in
 * order; a merged-away symbol has n == 0; a queued pair is still valid iff both
 * symbols still have the lengths recorded when it was queued (a symbol only grows by
 * absorbing its right neighbour, so equal lengths mean equal texts).
 */
#include "engine/tokenizer_internal.h"

#include <string.h>

#define CP_NONE UINT32_C(0xFFFFFFFF) /* "past the end of the piece" */

/* ------------------------------------------------------ GPT-2 alphabet ---- */

/* Bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68
 * bytes, in increasing order, for U+0100.. (0x00..0x20 → U+0100..U+0120, 0x7F..0xA0 →
 * U+0121..U+0142, 0xAD → U+0143). */
uint32_t md_tok_gpt2_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) {
        return b;
    }
    if (b <= 0x20) return 0x100u + b;
    if (b <= 0xA0) return 0x121u + (uint32_t)(b - 0x7F);
    return 0x143; /* 0xAD */
}

int md_tok_gpt2_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) {
        return (int)cp;
    }
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143) return 0xAD;
    return -1;
}

/* -------------------------------------------------------- code points ---- */

typedef struct cp_text {
    uint32_t *cps;
    uint32_t *flags;
    size_t n;
} cp_text;

static void cp_text_free(cp_text *t) {
    md_free(t->cps);
    md_free(t->flags);
    t->cps = t->flags = NULL;
    t->n = 0;
}

static md_status cp_text_decode(const char *text, size_t n_bytes, cp_text *t) {
    t->n = 0;
    t->cps = md_calloc(n_bytes ? n_bytes : 1, sizeof(uint32_t));
    t->flags = md_calloc(n_bytes ? n_bytes : 1, sizeof(uint32_t));
    if (!t->cps || !t->flags) {
        cp_text_free(t);
        return MD_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_bytes;) {
        size_t len;
        uint32_t cp = md_tok_utf8_decode(text + i, n_bytes - i, &len);
        t->cps[t->n] = cp;
        t->flags[t->n] = md_ucd_flags(cp);
        t->n++;
        i += len;
    }
    return MD_OK;
}

/* Word lengths in code points; the words tile the text in order. */
typedef struct len_list {
    size_t *v;
    size_t n, cap;
    bool failed;
} len_list;

static void len_push(len_list *l, size_t len) {
    if (len == 0 || l->failed) {
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        size_t *v = cap < l->cap || cap > SIZE_MAX / sizeof(size_t) ? NULL : md_realloc(l->v, cap * sizeof(size_t));
        if (!v) {
            l->failed = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = len;
}

/* Splitter state over one piece [ini, end) of the code points. */
typedef struct piece {
    const cp_text *t;
    size_t end;
    size_t prev_end; /* end of the last emitted word */
    len_list *out;
} piece;

static uint32_t pc_cp(const piece *p, size_t pos) { return pos < p->end ? p->t->cps[pos] : CP_NONE; }
static uint32_t pc_fl(const piece *p, size_t pos) { return pos < p->end ? p->t->flags[pos] : 0; }

/* Emits the word [prev_end, end) and returns its length. */
static size_t pc_emit(piece *p, size_t end) {
    size_t len = end - p->prev_end;
    len_push(p->out, len);
    p->prev_end = end;
    return len;
}

#define F_LETTER MD_UCD_CLASS_LETTER
#define F_NUMBER MD_UCD_CLASS_NUMBER
#define F_WS     MD_UCD_WHITESPACE

static bool is_cr_lf(uint32_t c) { return c == '\r' || c == '\n'; }

/* A contraction at pos ('s 't 'm 'd 're 've 'll); returns its length or 0. */
static size_t contraction_len(const piece *p, size_t pos, bool fold_case) {
    if (pc_cp(p, pos) != '\'' || pos + 1 >= p->end) {
        return 0;
    }
    uint32_t a = pc_cp(p, pos + 1);
    if (fold_case) a = md_ucd_tolower(a);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        return 2;
    }
    if (pos + 2 < p->end) {
        uint32_t b = pc_cp(p, pos + 2);
        if (fold_case) b = md_ucd_tolower(b);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
            return 3;
        }
    }
    return 0;
}

/* Trailing whitespace handling shared by both splits; returns the new position. */
static size_t split_whitespace(piece *p, size_t pos, bool newline_rule) {
    size_t n_ws = 0, last_cr_lf_end = 0;
    while (pc_fl(p, pos + n_ws) & F_WS) {
        if (is_cr_lf(pc_cp(p, pos + n_ws))) {
            last_cr_lf_end = pos + n_ws + 1;
        }
        n_ws++;
    }
    if (newline_rule && last_cr_lf_end > 0) { /* \s*[\r\n]+ */
        pos = last_cr_lf_end;
    } else if (n_ws > 1 && pc_cp(p, pos + n_ws) != CP_NONE) { /* \s+(?!\S): leave one for the next word */
        pos += n_ws - 1;
    } else if (n_ws > 0) { /* \s+ */
        pos += n_ws;
    } else { /* nothing matched: one code point on its own */
        pos++;
    }
    pc_emit(p, pos);
    return pos;
}

static void split_llama3(piece *p, size_t ini) {
    for (size_t pos = ini; pos < p->end;) {
        uint32_t c = p->t->cps[pos], f = p->t->flags[pos];
        size_t clen = contraction_len(p, pos, true);
        if (clen) { /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
            pos += pc_emit(p, pos + clen);
            continue;
        }
        if (!is_cr_lf(c) && !(f & F_NUMBER) && ((f & F_LETTER) || (pc_fl(p, pos + 1) & F_LETTER))) {
            pos++; /* [^\r\n\p{L}\p{N}]?\p{L}+ : the optional lead, or the first letter */
            while (pc_fl(p, pos) & F_LETTER)
                pos++;
            pc_emit(p, pos);
            continue;
        }
        if (f & F_NUMBER) { /* \p{N}{1,3} */
            size_t run = pos;
            while (pc_fl(p, pos) & F_NUMBER) {
                pos++;
                if (pos - run >= 3) {
                    pc_emit(p, pos);
                    run = pos;
                }
            }
            pc_emit(p, pos);
            continue;
        }
        uint32_t f2 = c == ' ' ? pc_fl(p, pos + 1) : f;
        if (!(f2 & (F_WS | F_LETTER | F_NUMBER))) { /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
            pos += c == ' ';
            while (f2 && !(f2 & (F_WS | F_LETTER | F_NUMBER)))
                f2 = pc_fl(p, ++pos);
            while (is_cr_lf(pc_cp(p, pos)))
                pos++;
            pc_emit(p, pos);
            continue;
        }
        pos = split_whitespace(p, pos, true);
    }
}

static void split_gpt2(piece *p, size_t ini) {
    for (size_t pos = ini; pos < p->end;) {
        uint32_t c = p->t->cps[pos], f = p->t->flags[pos];
        size_t clen = contraction_len(p, pos, false);
        if (clen) {
            pos += pc_emit(p, pos + clen);
            continue;
        }
        uint32_t f2 = c == ' ' ? pc_fl(p, pos + 1) : f;
        uint32_t run_class = (f2 & F_LETTER) ? F_LETTER : (f2 & F_NUMBER) ? F_NUMBER : 0;
        if (run_class) { /* ' ?\p{L}+' or ' ?\p{N}+' */
            pos += c == ' ';
            while (f2 & run_class)
                f2 = pc_fl(p, ++pos);
            pc_emit(p, pos);
            continue;
        }
        if (f2 && !(f2 & (F_WS | F_LETTER | F_NUMBER))) { /* ' ?[^\s\p{L}\p{N}]+' */
            pos += c == ' ';
            while (f2 && !(f2 & (F_WS | F_LETTER | F_NUMBER)))
                f2 = pc_fl(p, ++pos);
            pc_emit(p, pos);
            continue;
        }
        pos = split_whitespace(p, pos, false);
    }
}

/* A pattern stage of the default cascade: splits each piece into maximal runs of code
 * points that satisfy pred and the gaps between them. */
typedef bool (*cp_pred)(uint32_t cp, uint32_t flags);

static bool is_default_punct(uint32_t cp, uint32_t flags) {
    if (cp < 0x80) { /* ASCII \p{P} plus the listed $ + < = > ^ ~ | (not `) */
        return cp != 0 && strchr("!\"#%&'()*,-./:;?@[\\]_{}$+<=>^~|", (int)cp) != NULL;
    }
    return !(flags & F_WS) && (flags & MD_UCD_CLASS_MASK) == MD_UCD_CLASS_PUNCTUATION;
}

static bool is_number(uint32_t cp, uint32_t flags) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return !(flags & F_WS) && (flags & MD_UCD_CLASS_MASK) == MD_UCD_CLASS_NUMBER;
}

static void split_runs(const cp_text *t, size_t ini, size_t end, cp_pred pred, len_list *out) {
    size_t pos = ini;
    while (pos < end) {
        bool in = pred(t->cps[pos], t->flags[pos]);
        size_t start = pos;
        while (pos < end && pred(t->cps[pos], t->flags[pos]) == in)
            pos++;
        len_push(out, pos - start);
    }
}

static bool is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static void split_digit_triples(const cp_text *t, size_t ini, size_t end, len_list *out) {
    size_t gap = ini, pos = ini;
    while (pos + 3 <= end) {
        if (is_ascii_digit(t->cps[pos]) && is_ascii_digit(t->cps[pos + 1]) && is_ascii_digit(t->cps[pos + 2])) {
            len_push(out, pos - gap);
            len_push(out, 3);
            pos += 3;
            gap = pos;
        } else {
            pos++;
        }
    }
    len_push(out, end - gap);
}

/* Splits the whole text into word lengths (in code points). */
static md_status pretokenize(md_tokenizer_pre pre, const cp_text *t, len_list *words) {
    words->n = 0;
    words->failed = false;
    if (t->n == 0) {
        return MD_OK;
    }
    if (pre == MD_TOKENIZER_PRE_LLAMA3) {
        piece p = {t, t->n, 0, words};
        split_llama3(&p, 0);
        return words->failed ? MD_ERR_NOMEM : MD_OK;
    }
    /* the default cascade: each stage re-splits every piece of the previous one */
    len_list a = {0}, b = {0};
    len_push(&a, t->n);
    for (int stage = 0; stage < 4 && !a.failed && !b.failed; stage++) {
        b.n = 0;
        size_t start = 0;
        for (size_t i = 0; i < a.n; i++) {
            size_t end = start + a.v[i];
            if (stage == 0) {
                split_runs(t, start, end, is_default_punct, &b);
            } else if (stage == 1) {
                piece p = {t, end, start, &b};
                split_gpt2(&p, start);
            } else if (stage == 2) {
                split_runs(t, start, end, is_number, &b);
            } else {
                split_digit_triples(t, start, end, &b);
            }
            start = end;
        }
        len_list swap = a;
        a = b;
        b = swap;
    }
    md_status st = (a.failed || b.failed) ? MD_ERR_NOMEM : MD_OK;
    for (size_t i = 0; i < a.n && st == MD_OK; i++) {
        len_push(words, a.v[i]);
    }
    md_free(a.v);
    md_free(b.v);
    return st == MD_OK && words->failed ? MD_ERR_NOMEM : st;
}

md_status md_tok_bpe_pretokenize(md_tokenizer_pre pre, const char *text, size_t n_bytes, md_tok_word_fn fn, void *ctx) {
    cp_text t = {0};
    len_list words = {0};
    md_status st = cp_text_decode(text, n_bytes, &t);
    if (st == MD_OK) {
        st = pretokenize(pre, &t, &words);
    }
    md_buf w;
    md_buf_init(&w);
    size_t start = 0;
    for (size_t i = 0; i < words.n && st == MD_OK; i++) {
        md_buf_clear(&w);
        for (size_t k = start; k < start + words.v[i]; k++) {
            char enc[4];
            md_buf_append(&w, enc, md_tok_utf8_encode(t.cps[k], enc));
        }
        if (!md_buf_ok(&w)) {
            st = MD_ERR_NOMEM;
            break;
        }
        fn(ctx, w.data ? w.data : "", w.len);
        start += words.v[i];
    }
    md_buf_free(&w);
    md_free(words.v);
    cp_text_free(&t);
    return st;
}

/* ---------------------------------------------------------------- merges ---- */

typedef struct symbol {
    uint32_t start, n; /* bytes in the encoded word */
    int32_t prev, next;
} symbol;

typedef struct bigram {
    uint32_t rank;
    int32_t left, right;
    uint32_t n_left, n_right;
} bigram;

typedef struct bpe_scratch {
    char *word; /* the word in the GPT-2 alphabet */
    size_t word_cap;
    symbol *syms;
    size_t syms_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
    char *key;
    size_t key_cap;
    bool failed;
} bpe_scratch;

static bool grow(void **p, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) {
        return true;
    }
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2 / item) return false;
        cap2 *= 2;
    }
    void *q = md_realloc(*p, cap2 * item);
    if (!q) return false;
    *p = q;
    *cap = cap2;
    return true;
}

static bool bigram_less(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_scratch *s, bigram g) {
    if (!grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof(bigram))) {
        s->failed = true;
        return;
    }
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_less(&g, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = g;
}

static bigram heap_pop(bpe_scratch *s) {
    bigram top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) break;
        if (c + 1 < s->heap_n && bigram_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!bigram_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n) s->heap[i] = last;
    return top;
}

static void try_bigram(const md_tokenizer *tok, bpe_scratch *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) {
        return;
    }
    const symbol *l = &s->syms[left], *r = &s->syms[right];
    size_t need = 4 + (size_t)l->n + r->n;
    if (!grow((void **)&s->key, &s->key_cap, need, 1)) {
        s->failed = true;
        return;
    }
    size_t n_key = md_tok_merge_key(s->key, s->key_cap, s->word + l->start, l->n, s->word + r->start, r->n);
    uint64_t rank;
    if (n_key == 0 || !md_map_get(&tok->merges, s->key, n_key, &rank)) {
        return;
    }
    heap_push(s, (bigram){(uint32_t)rank, left, right, l->n, r->n});
}

/* Encodes code points t->cps[start, start + len) as one word. */
static void bpe_word(const md_tokenizer *tok, const cp_text *t, size_t start, size_t len, bpe_scratch *s,
                     md_tok_out *out) {
    /* each code point is at most 4 UTF-8 bytes, each byte at most 2 bytes in the alphabet */
    if (len > SIZE_MAX / 8 || !grow((void **)&s->word, &s->word_cap, len * 8, 1) ||
        !grow((void **)&s->syms, &s->syms_cap, len * 4, sizeof(symbol))) {
        s->failed = true;
        return;
    }
    size_t n_word = 0, n_syms = 0;
    for (size_t k = start; k < start + len; k++) {
        char raw[4];
        size_t n_raw = md_tok_utf8_encode(t->cps[k], raw);
        for (size_t j = 0; j < n_raw; j++) {
            char enc[4];
            size_t n_enc = md_tok_utf8_encode(md_tok_gpt2_cp((uint8_t)raw[j]), enc);
            s->syms[n_syms] = (symbol){(uint32_t)n_word, (uint32_t)n_enc, (int32_t)n_syms - 1, (int32_t)n_syms + 1};
            n_syms++;
            memcpy(s->word + n_word, enc, n_enc);
            n_word += n_enc;
        }
    }
    if (n_syms == 0) {
        return;
    }
    s->syms[n_syms - 1].next = -1;

    if (tok->ignore_merges) {
        int32_t id = md_tok_find(tok, s->word, n_word);
        if (id != MD_TOKEN_NULL) {
            md_tok_out_push(out, id);
            return;
        }
    }

    s->heap_n = 0;
    for (size_t i = 1; i < n_syms; i++) {
        try_bigram(tok, s, (int32_t)i - 1, (int32_t)i);
    }
    while (s->heap_n > 0 && !s->failed) {
        bigram g = heap_pop(s);
        symbol *l = &s->syms[g.left], *r = &s->syms[g.right];
        if (l->n == 0 || r->n == 0 || l->n != g.n_left || r->n != g.n_right) {
            continue; /* stale */
        }
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) {
            s->syms[r->next].prev = g.left;
        }
        try_bigram(tok, s, l->prev, g.left);
        try_bigram(tok, s, g.left, l->next);
    }
    for (int32_t i = 0; i >= 0; i = s->syms[i].next) {
        const symbol *sym = &s->syms[i];
        if (sym->n == 0) {
            continue;
        }
        int32_t id = md_tok_find(tok, s->word + sym->start, sym->n);
        if (id != MD_TOKEN_NULL) {
            md_tok_out_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < sym->n; j++) { /* byte by byte; bytes without a token are dropped */
            int32_t b = tok->byte_ids[(unsigned char)s->word[sym->start + j]];
            if (b != MD_TOKEN_NULL) {
                md_tok_out_push(out, b);
            }
        }
    }
}

md_status md_tok_bpe_encode(const md_tokenizer *tok, const char *text, size_t n_bytes, md_tok_out *out) {
    cp_text t = {0};
    len_list words = {0};
    bpe_scratch s = {0};
    md_status st = cp_text_decode(text, n_bytes, &t);
    if (st == MD_OK) {
        st = pretokenize(tok->pre, &t, &words);
    }
    size_t start = 0;
    for (size_t i = 0; i < words.n && st == MD_OK; i++) {
        bpe_word(tok, &t, start, words.v[i], &s, out);
        start += words.v[i];
        if (s.failed || out->failed) {
            st = MD_ERR_NOMEM;
        }
    }
    md_free(s.word);
    md_free(s.syms);
    md_free(s.heap);
    md_free(s.key);
    md_free(words.v);
    cp_text_free(&t);
    return st;
}
