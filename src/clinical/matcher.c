/* The synonym matcher: finds KB observations in tokenised patient text.
 *
 * Every synonym is tokenised and stemmed like patient text, its stems interned as word
 * ids, and the id sequence inserted into a trie whose edges live in one hash map keyed
 * by (node, word). Scanning tries, at each token, every path through the trie and
 * keeps the match with the most phrase words (ties: the shorter span). Between two
 * phrase words the text may contain up to MAX_SKIP filler words ("pain in *my* chest",
 * "neck *is really* stiff") or negation words ("chest *doesn't* hurt", which marks the
 * match as negated). A match claims its tokens, so "can't breathe" is one finding and
 * its "can't" is not a negation trigger.
 *
 * Misspellings: unknown words of five or more letters are corrected to a vocabulary
 * word at edit distance one (insertion, deletion, substitution or transposition) when
 * exactly one such word exists. The index is the symmetric-delete scheme (Garbe 2012):
 * each vocabulary word and each of its one-letter deletions map to the word; a query
 * and its one-letter deletions are looked up in that map.
 */
#include <string.h>

#include "clinical/internal.h"
#include "clinical/matcher_bag.h"

#define MAX_SKIP 3           /* filler words allowed between two phrase words */
#define MIN_CORRECT_LEN 5    /* shorter words are never spelling-corrected */
/* A corrected word standing alone as a whole finding must be longer: short everyday
 * words sit one letter away from symptom words ("skinny" / "spinny"). */
#define MIN_CORRECT_ALONE_LEN 7
#define AMBIGUOUS UINT64_MAX

typedef struct node {
    int32_t obs;    /* observation ending here, -1 if none */
    uint16_t depth; /* phrase words from the root */
} node;

struct matcher {
    md_map words;     /* stem → word id */
    char **word_text; /* id → stem (arena) */
    size_t n_words, cap_words;
    node *nodes;
    size_t n_nodes, cap_nodes;
    md_map edges;     /* (node << 32 | word) as 8 bytes → child node */
    md_map deletes;   /* word or one-deletion → word id, AMBIGUOUS when shared */
    md_arena arena;
    bag_index bags;   /* phrases for out-of-order matching (matcher_bag.c) */
    int32_t *root;    /* word id → child of the root (every scan starts there), -1 if none */
};

static const char *const k_fillers[] = {
    "my",     "the",      "a",        "an",        "some",    "his",     "her",    "their",
    "our",    "your",     "its",      "this",      "that",    "these",   "those",  "very",
    "really", "so",       "quite",    "bit",       "little",  "slightly","slight", "bad",
    "badly",  "terrible", "terribly", "awful",     "awfully", "horrible","horribly","extremely",
    "pretty", "kind",     "sort",     "just",      "is",      "are",     "was",    "were",
    "been",   "be",       "feels",    "feel",      "felt",    "seems",   "keeps",  "kept",
    "getting","gets",     "got",      "becoming",  "gone",    "all",     "too",    "also",
    "both",   "left",     "right",    "upper",     "lower",   "suddenly","constantly",
    "sometimes", "always", "still",   "now",       "again",   "often",   "real",   "super",
    "mild",   "severe",   "sharp",    "dull",      "massive", "huge",    "intense","of",
    "in",     "on",       "around",   "whole",     "entire",  "feeling", "having", "like",
    "became", "become",   "becomes",  "turned",    "turning", "has",     "have",    "had",
    "any",
};

static const char *const k_negations[] = {
    "not", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "never", "no", "hasnt", "havent",
};

md_status matcher_lexicon(md_map *lx) {
    md_status st = lexicon_add(lx, LEX_k_fillers, k_fillers, MD_ARRAY_LEN(k_fillers), sizeof k_fillers[0]);
    if (st == MD_OK) st = lexicon_add(lx, LEX_k_negations, k_negations, MD_ARRAY_LEN(k_negations), sizeof k_negations[0]);
    return st;
}

/* Both lists hold single words, so the lexicon bit is exact membership. */
#define IS_FILLER(t) (((t)->lex >> LEX_k_fillers & 1u) != 0)
#define IS_NEGATION(t) (((t)->lex >> LEX_k_negations & 1u) != 0)

matcher *matcher_new(void) {
    matcher *m = md_calloc(1, sizeof *m);
    if (!m) return NULL;
    md_map_init(&m->words);
    md_map_init(&m->edges);
    md_map_init(&m->deletes);
    md_arena_init(&m->arena, 0);
    bag_init(&m->bags);
    m->nodes = md_malloc(64 * sizeof *m->nodes);
    if (!m->nodes) {
        matcher_free(m);
        return NULL;
    }
    m->cap_nodes = 64;
    m->nodes[0] = (node){-1, 0};
    m->n_nodes = 1;
    return m;
}

void matcher_free(matcher *m) {
    if (!m) return;
    md_map_free(&m->words);
    md_map_free(&m->edges);
    md_map_free(&m->deletes);
    md_arena_free(&m->arena);
    bag_free(&m->bags);
    md_free(m->root);
    md_free(m->word_text);
    md_free(m->nodes);
    md_free(m);
}

int32_t matcher_lookup(const matcher *m, const char *stem) {
    uint64_t v;
    if (md_map_get(&m->words, stem, strlen(stem), &v)) return (int32_t)v;
    return -1;
}

int32_t matcher_intern(matcher *m, const char *stem) {
    int32_t id = matcher_lookup(m, stem);
    if (id >= 0) return id;
    if (m->n_words == m->cap_words) {
        size_t cap = m->cap_words ? m->cap_words * 2 : 256;
        char **wt = md_realloc(m->word_text, cap * sizeof *wt);
        if (!wt) return -1;
        m->word_text = wt;
        m->cap_words = cap;
    }
    char *copy = md_arena_strdup(&m->arena, stem);
    if (!copy) return -1;
    if (md_map_put(&m->words, stem, strlen(stem), m->n_words) != MD_OK) return -1;
    m->word_text[m->n_words] = copy;
    return (int32_t)m->n_words++;
}

size_t matcher_n_words(const matcher *m) { return m->n_words; }

static uint64_t edge_key(uint32_t from, int32_t word) {
    return ((uint64_t)from << 32) | (uint32_t)word;
}

static int32_t edge_get(const matcher *m, uint32_t from, int32_t word) {
    if (from == 0 && m->root) return m->root[word];
    uint64_t key = edge_key(from, word), v;
    if (md_map_get(&m->edges, (const char *)&key, sizeof key, &v)) return (int32_t)v;
    return -1;
}

md_status matcher_add(matcher *m, const int32_t *words, size_t n_words, uint32_t obs,
                      uint32_t *existing_obs) {
    if (n_words == 0) return MD_ERR_INVALID_ARG;
    uint32_t cur = 0;
    for (size_t i = 0; i < n_words; i++) {
        int32_t next = edge_get(m, cur, words[i]);
        if (next < 0) {
            if (m->n_nodes == m->cap_nodes) {
                size_t cap = m->cap_nodes * 2;
                node *nodes = md_realloc(m->nodes, cap * sizeof *nodes);
                if (!nodes) return MD_ERR_NOMEM;
                m->nodes = nodes;
                m->cap_nodes = cap;
            }
            next = (int32_t)m->n_nodes;
            m->nodes[m->n_nodes++] = (node){-1, (uint16_t)(i + 1)};
            uint64_t key = edge_key(cur, words[i]);
            if (md_map_put(&m->edges, (const char *)&key, sizeof key, (uint64_t)next) != MD_OK)
                return MD_ERR_NOMEM;
        }
        cur = (uint32_t)next;
    }
    if (m->nodes[cur].obs >= 0 && (uint32_t)m->nodes[cur].obs != obs) {
        if (existing_obs) *existing_obs = (uint32_t)m->nodes[cur].obs;
        return MD_ERR_CONFLICT;
    }
    bool fresh = m->nodes[cur].obs < 0;
    m->nodes[cur].obs = (int32_t)obs;
    return fresh ? bag_add(&m->bags, words, n_words, obs) : MD_OK;
}

static md_status delete_put(matcher *m, const char *key, size_t n, uint32_t word) {
    uint64_t v;
    if (md_map_get(&m->deletes, key, n, &v)) {
        if (v == word || v == AMBIGUOUS) return MD_OK;
        return md_map_put(&m->deletes, key, n, AMBIGUOUS);
    }
    return md_map_put(&m->deletes, key, n, word);
}

/* Words that carry no content for out-of-order matching: a narrower set than the
 * fillers, because "all", "too" or "extra" make "took all paracetamol" mean something
 * that "took paracetamol" does not. */
static const char *const k_function_words[] = {"my", "the", "a", "an", "his", "her", "their", "our", "your",
                                               "its", "this", "that", "these", "those", "of", "in", "on", "is",
                                               "are", "was", "were", "been", "be", "some", "any", "it", "to"};

static const char *const k_bag_negations[] = {"cant", "cannot", "wont", "unable", "nor", "without"};

md_status matcher_finish(matcher *m) {
    m->root = md_malloc((m->n_words + 1) * sizeof *m->root);
    if (!m->root) return MD_ERR_NOMEM;
    for (size_t w = 0; w < m->n_words; w++) {
        uint64_t key = edge_key(0, (int32_t)w), v;
        m->root[w] = md_map_get(&m->edges, (const char *)&key, sizeof key, &v) ? (int32_t)v : -1;
    }
    /* Word ids of the function words and negations, by their stems. */
    uint8_t *function_word = md_calloc(m->n_words + 1, 1), *negation = md_calloc(m->n_words + 1, 1);
    if (!function_word || !negation) {
        md_free(function_word);
        md_free(negation);
        return MD_ERR_NOMEM;
    }
    char stem[64];
    for (size_t i = 0; i < MD_ARRAY_LEN(k_function_words); i++) {
        snprintf(stem, sizeof stem, "%s", k_function_words[i]);
        text_stem(stem);
        int32_t w = matcher_lookup(m, stem);
        if (w >= 0) function_word[w] = 1;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(k_negations) + MD_ARRAY_LEN(k_bag_negations); i++) {
        const char *word = i < MD_ARRAY_LEN(k_negations) ? k_negations[i] : k_bag_negations[i - MD_ARRAY_LEN(k_negations)];
        int32_t w = matcher_lookup(m, word);
        if (w >= 0) negation[w] = 1;
    }
    md_status bst = bag_finish(&m->bags, m->n_words, function_word, negation, matcher_lookup, m);
    md_free(function_word);
    md_free(negation);
    if (bst != MD_OK) return bst;
    char buf[128];
    for (size_t id = 0; id < m->n_words; id++) {
        const char *w = m->word_text[id];
        size_t n = strlen(w);
        if (n < MIN_CORRECT_LEN || n >= sizeof buf) continue;
        bool alpha = true;
        for (size_t i = 0; i < n; i++)
            if (w[i] < 'a' || w[i] > 'z') alpha = false;
        if (!alpha) continue;
        md_status st = delete_put(m, w, n, (uint32_t)id);
        for (size_t i = 0; i < n && st == MD_OK; i++) {
            memcpy(buf, w, i);
            memcpy(buf + i, w + i + 1, n - i - 1);
            st = delete_put(m, buf, n - 1, (uint32_t)id);
        }
        if (st != MD_OK) return st;
    }
    return MD_OK;
}

/* Restricted Damerau-Levenshtein distance, capped: returns 0, 1 or 2 (2 = "more"). */
static int edit_distance_le1(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na > nb + 1 || nb > na + 1) return 2;
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    if (i == na && i == nb) return 0;
    if (na == nb) {
        if (strcmp(a + i + 1, b + i + 1) == 0) return 1; /* substitution */
        if (i + 1 < na && a[i] == b[i + 1] && a[i + 1] == b[i] && strcmp(a + i + 2, b + i + 2) == 0)
            return 1; /* transposition */
        return 2;
    }
    if (na == nb + 1) return strcmp(a + i + 1, b + i) == 0 ? 1 : 2;
    return strcmp(a + i, b + i + 1) == 0 ? 1 : 2;
}

static int32_t correct(const matcher *m, const char *w) {
    size_t n = strlen(w);
    if (n < MIN_CORRECT_LEN || n >= 128) return -1;
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z') return -1;
    int32_t found = -1;
    char buf[128];
    uint64_t v;
    for (size_t i = 0; i <= n; i++) {
        const char *key = w;
        size_t kn = n;
        if (i < n) {
            memcpy(buf, w, i);
            memcpy(buf + i, w + i + 1, n - i - 1);
            key = buf;
            kn = n - 1;
        }
        if (!md_map_get(&m->deletes, key, kn, &v) || v == AMBIGUOUS) continue;
        const char *cand = m->word_text[v];
        if (edit_distance_le1(w, cand) != 1) continue;
        if (found >= 0 && found != (int32_t)v) return -1; /* two candidates: do not guess */
        found = (int32_t)v;
    }
    return found;
}

void matcher_resolve_words(const matcher *m, tok_list *toks) {
    for (size_t i = 0; i < toks->n; i++) {
        tok *t = &toks->items[i];
        t->word = -1;
        t->corrected = false;
        if (t->kind == TOK_PUNCT) continue;
        t->word = matcher_lookup(m, t->stem);
        if (t->word < 0 && t->kind == TOK_WORD) {
            /* Never "correct" the words the context scanners rely on. */
            /* Words the scanners know (fillers, negations, time and context words)
             * are English, not misspelt symptoms. */
            if (t->lex != 0) continue;
            t->word = correct(m, t->stem);
            t->corrected = t->word >= 0;
        }
    }
}

enum { FLAG_FILLER = 1, FLAG_NEGATION = 2 };

typedef struct best {
    int32_t obs;
    size_t end;
    unsigned depth;
    bool negated;
} best;

static void dfs(const matcher *m, const tok_list *toks, const uint8_t *flags, uint32_t cur,
                size_t j, unsigned skips, bool negated, best *b) {
    if (j >= toks->n) return;
    const tok *t = &toks->items[j];
    if (t->word >= 0) {
        int32_t next = edge_get(m, cur, t->word);
        if (next >= 0) {
            const node *nd = &m->nodes[next];
            bool weak_alone = nd->depth == 1 && t->corrected && strlen(t->norm) < MIN_CORRECT_ALONE_LEN;
            if (nd->obs >= 0 && !weak_alone &&
                (nd->depth > b->depth || (nd->depth == b->depth && j + 1 < b->end))) {
                b->obs = nd->obs;
                b->end = j + 1;
                b->depth = nd->depth;
                b->negated = negated;
            }
            dfs(m, toks, flags, (uint32_t)next, j + 1, 0, negated, b);
        }
    }
    if (cur != 0 && flags[j] && skips < MAX_SKIP)
        dfs(m, toks, flags, cur, j + 1, skips + 1, negated || (flags[j] & FLAG_NEGATION), b);
}

size_t matcher_scan(const matcher *m, const tok_list *toks, match *out) {
    uint8_t small[256];
    uint8_t *flags = toks->n <= sizeof small ? small : md_calloc(toks->n, 1);
    if (!flags) return 0;
    for (size_t i = 0; i < toks->n; i++) {
        const tok *t = &toks->items[i];
        flags[i] = 0;
        /* a comma between two words of a phrase ("red, hot, swollen") is skipped too */
        if (t->kind == TOK_PUNCT && t->punct == ',') flags[i] = FLAG_FILLER;
        if (t->kind != TOK_WORD) continue;
        if (IS_FILLER(t)) flags[i] |= FLAG_FILLER;
        if (IS_NEGATION(t)) flags[i] |= FLAG_NEGATION;
    }
    size_t n_out = 0, i = 0;
    while (i < toks->n) {
        best b = {-1, 0, 0, false};
        dfs(m, toks, flags, 0, i, 0, false, &b);
        if (b.obs < 0) {
            i++;
            continue;
        }
        out[n_out++] = (match){(uint32_t)b.obs, i, b.end, b.negated};
        /* Overlapping findings: "unbearable pain in my belly" is severe pain (the first
         * match) and abdominal pain (a match that starts inside it and runs past its
         * end). Accept at most one such extension per match. */
        size_t end = b.end;
        for (size_t j = i + 1; j < b.end; j++) {
            best x = {-1, 0, 0, false};
            dfs(m, toks, flags, 0, j, 0, false, &x);
            if (x.obs >= 0 && x.end > b.end && (uint32_t)x.obs != (uint32_t)b.obs) {
                out[n_out++] = (match){(uint32_t)x.obs, j, x.end, x.negated};
                end = x.end;
                break;
            }
        }
        i = end;
    }
    n_out += bag_scan(&m->bags, toks, out, n_out, flags);
    if (flags != small) md_free(flags);
    return n_out;
}
