/* Out-of-order synonym matching: the second pass of the matcher.
 *
 * Patients do not write synonyms in the KB's word order: "ache round my belly button"
 * for "belly button pain", "swallowed one of those little flat batteries" for
 * "swallowed battery", "way worse when I walk" for "worse when walking". After the
 * exact pass, this pass looks, clause by clause, for synonyms whose content words
 * (fillers left out) all occur among the tokens no exact match claimed, in any order,
 * within a short span. Pain words form one class ("ache", "hurts", "sore" meet
 * "pain"), so a site named in any synonym composes with any pain word.
 *
 * Guards against false findings: only synonyms with two or more content words take
 * part; synonyms containing a negation word ("can't breathe") never do, so a negation
 * can never be assembled from scattered words; a clause ends at punctuation and at
 * "and", "but", "or"; a match may not span a token an exact match claimed; and the
 * words must sit within n_content + BAG_SLACK tokens. Exact matches always win: this
 * pass only sees what they left.
 */
#include <string.h>

#include "clinical/matcher_bag.h"

#define BAG_SLACK 5        /* extra tokens a span may hold beyond its content words */
#define BAG_MAX_CANDIDATES 256
#define BAG_MAX_CLAUSE 64

static const char *const k_pain_words[] = {"pain", "ache", "aching", "hurt", "hurts", "hurting", "sore",
                                           "soreness", "painful", "tender", "agony", "aches", "pains"};
static const char *const k_clause_words[] = {"and", "but", "or", "however", "although", "though", "whereas",
                                             "because", "then"};

void bag_init(bag_index *b) { memset(b, 0, sizeof *b); }

void bag_free(bag_index *b) {
    md_free(b->phrases);
    md_free(b->words);
    md_free(b->word_class);
    md_free(b->post_offsets);
    md_free(b->postings);
    memset(b, 0, sizeof *b);
}

md_status bag_add(bag_index *b, const int32_t *words, size_t n_words, uint32_t obs) {
    if (n_words < 2 || n_words > UINT16_MAX) return MD_OK;
    if (b->n_phrases == b->cap_phrases) {
        size_t cap = b->cap_phrases ? b->cap_phrases * 2 : 1024;
        bag_phrase *p = md_realloc(b->phrases, cap * sizeof *p);
        if (!p) return MD_ERR_NOMEM;
        b->phrases = p;
        b->cap_phrases = cap;
    }
    while (b->n_words + n_words > b->cap_words) {
        size_t cap = b->cap_words ? b->cap_words * 2 : 4096;
        int32_t *w = md_realloc(b->words, cap * sizeof *w);
        if (!w) return MD_ERR_NOMEM;
        b->words = w;
        b->cap_words = cap;
    }
    /* n_content holds the raw word count until bag_finish filters the phrase */
    b->phrases[b->n_phrases++] = (bag_phrase){obs, (uint32_t)b->n_words, (uint16_t)n_words, false};
    memcpy(b->words + b->n_words, words, n_words * sizeof *words);
    b->n_words += n_words;
    return MD_OK;
}

md_status bag_finish(bag_index *b, size_t n_vocab, const uint8_t *function_word, const uint8_t *negation,
                     bag_lookup_fn lookup, const matcher *m) {
    b->n_vocab = n_vocab;
    b->word_class = md_calloc(n_vocab + 1, sizeof *b->word_class);
    b->post_offsets = md_calloc(n_vocab + 2, sizeof *b->post_offsets);
    if (!b->word_class || !b->post_offsets) return MD_ERR_NOMEM;
    const uint8_t *filler = function_word;
    for (size_t w = 0; w < n_vocab; w++) b->word_class[w] = (int32_t)w;
    /* pain words share the class of "pain" (stems, as interned) */
    char stem[32];
    snprintf(stem, sizeof stem, "pain");
    int32_t pain = lookup(m, stem);
    for (size_t i = 0; pain >= 0 && i < MD_ARRAY_LEN(k_pain_words); i++) {
        snprintf(stem, sizeof stem, "%s", k_pain_words[i]);
        text_stem(stem);
        int32_t w = lookup(m, stem);
        if (w >= 0) b->word_class[w] = pain;
    }
    /* filter each phrase to its content classes */
    for (size_t p = 0; p < b->n_phrases; p++) {
        bag_phrase *ph = &b->phrases[p];
        size_t raw = ph->n_content, k = 0;
        bool neg = false;
        for (size_t i = 0; i < raw; i++) {
            int32_t w = b->words[ph->first + i];
            if (w < 0 || (size_t)w >= n_vocab) continue;
            if (negation[w]) neg = true;
            if (filler[w]) continue;
            int32_t c = b->word_class[w];
            bool dup = false;
            for (size_t j = 0; j < k; j++)
                if (b->words[ph->first + j] == c) dup = true;
            if (!dup) b->words[ph->first + k++] = c;
        }
        ph->n_content = (uint16_t)k;
        ph->usable = k >= 2 && !neg;
    }
    /* postings by the first content class of each usable phrase */
    for (size_t p = 0; p < b->n_phrases; p++)
        if (b->phrases[p].usable) b->post_offsets[b->words[b->phrases[p].first] + 1]++;
    for (size_t w = 0; w < n_vocab; w++) b->post_offsets[w + 1] += b->post_offsets[w];
    b->postings = md_calloc(b->post_offsets[n_vocab] + 1, sizeof *b->postings);
    uint32_t *fill = md_calloc(n_vocab + 1, sizeof *fill);
    if (!b->postings || !fill) {
        md_free(fill);
        return MD_ERR_NOMEM;
    }
    for (size_t p = 0; p < b->n_phrases; p++) {
        if (!b->phrases[p].usable) continue;
        int32_t c = b->words[b->phrases[p].first];
        b->postings[b->post_offsets[c] + fill[c]++] = (uint32_t)p;
    }
    md_free(fill);
    return MD_OK;
}

typedef struct candidate {
    uint32_t phrase;
    uint16_t n_content;
    uint16_t span;
    uint8_t pos[BAG_MAX_CLAUSE]; /* clause-relative positions used */
    uint8_t lo, hi;
} candidate;

static bool clause_break(const tok *t) {
    if (t->kind == TOK_PUNCT) return true;
    if (t->kind != TOK_WORD) return false;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_clause_words); i++)
        if (strcmp(t->norm, k_clause_words[i]) == 0) return true;
    return false;
}

/* Finds every candidate in clause [cb, ce) and accepts the best non-overlapping ones. */
static size_t scan_clause(const bag_index *b, const tok_list *toks, size_t cb, size_t ce, const uint8_t *claimed,
                          const uint8_t *flags, match *out, size_t n_out) {
    size_t n = ce - cb;
    if (n < 2 || n > BAG_MAX_CLAUSE) return 0;
    int32_t cls[BAG_MAX_CLAUSE];
    for (size_t j = 0; j < n; j++) {
        const tok *t = &toks->items[cb + j];
        cls[j] = -1;
        if (claimed[cb + j] || t->word < 0 || (size_t)t->word >= b->n_vocab || (flags[cb + j] & 1)) continue;
        cls[j] = b->word_class[t->word];
    }
    static const size_t k_max = BAG_MAX_CANDIDATES;
    candidate *cand = md_malloc(k_max * sizeof *cand);
    if (!cand) return 0;
    size_t n_cand = 0;
    for (size_t j = 0; j < n && n_cand < k_max; j++) {
        if (cls[j] < 0) continue;
        for (uint32_t q = b->post_offsets[cls[j]]; q < b->post_offsets[cls[j] + 1] && n_cand < k_max; q++) {
            const bag_phrase *ph = &b->phrases[b->postings[q]];
            candidate c;
            c.phrase = b->postings[q];
            c.n_content = ph->n_content;
            c.lo = c.hi = (uint8_t)j;
            c.pos[0] = (uint8_t)j;
            bool ok = true;
            for (size_t k = 1; k < ph->n_content && ok; k++) {
                int32_t want = b->words[ph->first + k];
                /* nearest unused token of this class */
                size_t best = SIZE_MAX, best_d = SIZE_MAX;
                for (size_t x = 0; x < n; x++) {
                    if (cls[x] != want) continue;
                    bool used = false;
                    for (size_t u = 0; u < k; u++)
                        if (c.pos[u] == x) used = true;
                    if (used) continue;
                    size_t d = x > j ? x - j : j - x;
                    if (d < best_d) {
                        best_d = d;
                        best = x;
                    }
                }
                if (best == SIZE_MAX) ok = false;
                else {
                    c.pos[k] = (uint8_t)best;
                    if (best < c.lo) c.lo = (uint8_t)best;
                    if (best > c.hi) c.hi = (uint8_t)best;
                }
            }
            if (!ok) continue;
            c.span = (uint16_t)(c.hi - c.lo + 1);
            if (c.span > c.n_content + BAG_SLACK) continue;
            bool clean = true; /* no claimed token inside the span */
            for (size_t x = c.lo; x <= c.hi; x++)
                if (claimed[cb + x]) clean = false;
            if (clean) cand[n_cand++] = c;
        }
    }
    /* best first: more content words, then a tighter span */
    for (size_t i = 1; i < n_cand; i++) {
        candidate v = cand[i];
        size_t k = i;
        while (k > 0 && (cand[k - 1].n_content < v.n_content ||
                         (cand[k - 1].n_content == v.n_content && cand[k - 1].span > v.span))) {
            cand[k] = cand[k - 1];
            k--;
        }
        cand[k] = v;
    }
    size_t added = 0;
    uint8_t taken[BAG_MAX_CLAUSE] = {0};
    for (size_t i = 0; i < n_cand; i++) {
        const candidate *c = &cand[i];
        bool free_span = true;
        for (size_t x = c->lo; x <= c->hi; x++)
            if (taken[x]) free_span = false;
        if (!free_span) continue;
        for (size_t x = c->lo; x <= c->hi; x++) taken[x] = 1;
        bool negated = false;
        for (size_t x = c->lo; x <= c->hi; x++)
            if (flags[cb + x] & 2) negated = true;
        out[n_out + added++] = (match){b->phrases[c->phrase].obs, cb + c->lo, cb + c->hi + 1U, negated};
    }
    md_free(cand);
    return added;
}

size_t bag_scan(const bag_index *b, const tok_list *toks, match *out, size_t n_done, const uint8_t *flags) {
    if (!b->postings || toks->n == 0) return 0;
    uint8_t small[256];
    uint8_t *claimed = toks->n <= sizeof small ? small : md_calloc(toks->n, 1);
    if (!claimed) return 0;
    memset(claimed, 0, toks->n);
    for (size_t i = 0; i < n_done; i++)
        for (size_t k = out[i].tok_begin; k < out[i].tok_end; k++) claimed[k] = 1;
    size_t added = 0, cb = 0;
    for (size_t i = 0; i <= toks->n; i++) {
        if (i < toks->n && !clause_break(&toks->items[i])) continue;
        added += scan_clause(b, toks, cb, i, claimed, flags, out, n_done + added);
        cb = i + 1;
    }
    if (claimed != small) md_free(claimed);
    /* keep matches in text order for the passes that follow */
    size_t total = n_done + added;
    for (size_t i = 1; i < total; i++) {
        match v = out[i];
        size_t k = i;
        while (k > 0 && out[k - 1].tok_begin > v.tok_begin) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = v;
    }
    return added;
}
