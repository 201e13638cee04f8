/* Tokenisation of patient text and of KB synonyms (both go through here, so they
 * normalise identically).
 *
 * Each code point is folded to lower-case ASCII (md_utf8_fold); apostrophes inside a
 * word are dropped ("can't" → "cant"); letters and digits form separate tokens
 * ("45yo" → "45" "yo", "covid19" → "covid" "19"), except a decimal point between
 * digits ("39.5"). Sentence punctuation and line breaks become TOK_PUNCT so that
 * negation and context scopes can end there. Anything else is a word break.
 *
 * Words then pass through a light suffix stripper (text_stem) so that "vomiting",
 * "vomited" and "vomits" meet "vomit"; it is applied to synonyms too, so its
 * occasional oddities ("tired" → "tir") are consistent on both sides.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "clinical/internal.h"

static md_status tok_push(tok_list *t, tok item) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        tok *items = md_realloc(t->items, cap * sizeof *items);
        if (!items) return MD_ERR_NOMEM;
        t->items = items;
        t->cap = cap;
    }
    t->items[t->n++] = item;
    return MD_OK;
}

void tok_list_free(tok_list *t) {
    md_free(t->items);
    t->items = NULL;
    t->n = t->cap = 0;
}

static bool ends_with(const char *w, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(w + n - k, suffix, k) == 0;
}

void text_stem(char *w) {
    size_t n = strlen(w);
    if (n <= 3) return;
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)w[i])) return;
    if (ends_with(w, n, "ies") && n > 4) {
        w[n - 3] = 'y';
        w[n - 2] = '\0';
        n -= 2;
    } else if (w[n - 1] == 's' && !ends_with(w, n, "ss") && !ends_with(w, n, "us") &&
               !ends_with(w, n, "is")) {
        w[--n] = '\0';
    }
    bool stripped = false;
    if (ends_with(w, n, "ing") && n - 3 >= 3) {
        n -= 3;
        w[n] = '\0';
        stripped = true;
    }
    if (ends_with(w, n, "ed") && n - 2 >= 3) {
        n -= 2;
        w[n] = '\0';
        stripped = true;
    }
    if (ends_with(w, n, "ly") && n - 2 >= 4) {
        n -= 2;
        w[n] = '\0';
    }
    if (n > 3 && w[n - 1] == 'e') w[--n] = '\0';
    /* Doubled final consonant left by -ing/-ed ("throbbing" → "throbb"): undouble so
     * it meets "throb" — but only when five letters remain, so that "fitting" (a
     * seizure) does not become "fit" (healthy) nor "spotting" (bleeding) "spot", and never for words that had no
     * suffix ("butt"). */
    if (stripped && n >= 6 && w[n - 1] == w[n - 2] && !strchr("aeiouls", w[n - 1])) w[--n] = '\0';
}

/* Contractions and spelling variants folded to one form before stemming. */
static const char *const k_canonical[][2] = {
    {"cannot", "cant"},     {"aint", "isnt"},
    {"doesn", "doesnt"},    {"don", "dont"},    {"didn", "didnt"},  {"isn", "isnt"},
    {"haven", "havent"},    {"hasn", "hasnt"},  {"wasn", "wasnt"},  {"couldn", "couldnt"},
    {"wouldn", "wouldnt"},  {"shouldn", "shouldnt"}, {"aren", "arent"},
    {"u", "you"},           {"ur", "your"},     {"pls", "please"},  {"thru", "through"},
};

static const char *canonical(const char *w) {
    for (size_t i = 0; i < MD_ARRAY_LEN(k_canonical); i++)
        if (strcmp(w, k_canonical[i][0]) == 0) return k_canonical[i][1];
    return w;
}

typedef enum cls { CLS_SPACE, CLS_ALPHA, CLS_DIGIT, CLS_APOS, CLS_PUNCT, CLS_OTHER } cls;

static cls classify(char c) {
    if (c >= 'a' && c <= 'z') return CLS_ALPHA;
    if (c >= '0' && c <= '9') return CLS_DIGIT;
    if (c == '\'') return CLS_APOS;
    if (strchr(".,;:!?/()", c)) return CLS_PUNCT;
    if (c == ' ' || c == '\t') return CLS_SPACE;
    if (c == '\n' || c == '\r') return CLS_PUNCT;
    return CLS_OTHER;
}

/* A folded character with the byte range of the code point it came from. */
typedef struct fch {
    char c;
    size_t begin, end;
} fch;

static md_status emit_word(tok_list *out, md_arena *a, const fch *chars, size_t i0, size_t i1,
                           bool digits) {
    size_t n = 0;
    char buf[128];
    for (size_t i = i0; i < i1 && n + 1 < sizeof buf; i++)
        if (chars[i].c != '\'') buf[n++] = chars[i].c;
    buf[n] = '\0';
    if (n == 0) return MD_OK;
    tok t = {0};
    t.begin = chars[i0].begin;
    t.end = chars[i1 - 1].end;
    t.word = -1;
    t.finding = -1;
    if (digits) {
        t.kind = TOK_NUMBER;
        t.number = strtod(buf, NULL);
        t.norm = md_arena_strdup(a, buf);
        t.stem = t.norm;
    } else {
        t.kind = TOK_WORD;
        const char *canon = canonical(buf);
        t.norm = md_arena_strdup(a, canon);
        char stem[128];
        size_t cn = strlen(canon);
        if (cn >= sizeof stem) cn = sizeof stem - 1;
        memcpy(stem, canon, cn);
        stem[cn] = '\0';
        text_stem(stem);
        t.stem = md_arena_strdup(a, stem);
    }
    if (!t.norm || !t.stem) return MD_ERR_NOMEM;
    return tok_push(out, t);
}

md_status text_tokenize(const char *text, size_t n_bytes, md_arena *a, tok_list *out) {
    /* Pass 1: fold to ASCII characters with source offsets. */
    fch *chars = md_malloc((n_bytes * 2 + 1) * sizeof *chars); /* filled before use */
    if (!chars) return MD_ERR_NOMEM;
    size_t n_chars = 0;
    const char *p = text, *end = text + n_bytes;
    while (p < end) {
        size_t begin = (size_t)(p - text);
        unsigned char b0 = (unsigned char)*p;
        if (b0 < 0x80) { /* ASCII fast path: most text */
            char c = (char)(b0 >= 'A' && b0 <= 'Z' ? b0 - 'A' + 'a' : b0);
            if (c == '`') c = '\'';
            chars[n_chars++] = (fch){c, begin, begin + 1};
            p++;
            continue;
        }
        uint32_t cp = md_utf8_decode(&p, end);
        size_t cp_end = (size_t)(p - text);
        char folded[2];
        size_t k = md_utf8_fold(cp, folded);
        if (k == 0) {
            /* No ASCII folding (emoji, CJK, ...): a word break. */
            chars[n_chars++] = (fch){' ', begin, cp_end};
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            char c = folded[j];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            if (c == '`') c = '\'';
            chars[n_chars++] = (fch){c, begin, cp_end};
        }
    }
    /* Pass 2: group into tokens. */
    md_status st = MD_OK;
    size_t i = 0;
    while (i < n_chars && st == MD_OK) {
        cls k = classify(chars[i].c);
        if (k == CLS_ALPHA) {
            size_t j = i + 1;
            while (j < n_chars) {
                cls kj = classify(chars[j].c);
                if (kj == CLS_ALPHA) {
                    j++;
                } else if (kj == CLS_APOS && j + 1 < n_chars && classify(chars[j + 1].c) == CLS_ALPHA) {
                    j++;
                } else {
                    break;
                }
            }
            st = emit_word(out, a, chars, i, j, false);
            i = j;
        } else if (k == CLS_DIGIT) {
            size_t j = i + 1;
            while (j < n_chars) {
                if (classify(chars[j].c) == CLS_DIGIT) {
                    j++;
                } else if ((chars[j].c == '.' || chars[j].c == ',') && j + 1 < n_chars &&
                           classify(chars[j + 1].c) == CLS_DIGIT && chars[j].c == '.') {
                    j++;
                } else {
                    break;
                }
            }
            st = emit_word(out, a, chars, i, j, true);
            i = j;
        } else if (k == CLS_PUNCT) {
            char c = chars[i].c;
            if (c == '\n' || c == '\r') c = '.';
            /* Collapse runs of the same break ("...", "\r\n", "!!"). */
            if (!(out->n > 0 && out->items[out->n - 1].kind == TOK_PUNCT &&
                  out->items[out->n - 1].punct == c && chars[i].begin == out->items[out->n - 1].end)) {
                tok t = {0};
                t.kind = TOK_PUNCT;
                t.punct = c;
                t.begin = chars[i].begin;
                t.end = chars[i].end;
                t.word = -1;
                t.finding = -1;
                char s[2] = {c, '\0'};
                t.norm = md_arena_strdup(a, s);
                t.stem = t.norm;
                if (!t.norm) st = MD_ERR_NOMEM;
                else st = tok_push(out, t);
            }
            i++;
        } else if (chars[i].c == '&') {
            tok t = {0};
            t.kind = TOK_WORD;
            t.begin = chars[i].begin;
            t.end = chars[i].end;
            t.word = -1;
            t.finding = -1;
            t.norm = md_arena_strdup(a, "and");
            t.stem = t.norm;
            st = t.norm ? tok_push(out, t) : MD_ERR_NOMEM;
            i++;
        } else {
            i++;
        }
    }
    md_free(chars);
    return st;
}

bool tok_is(const tok *t, const char *norm) {
    return t->kind != TOK_PUNCT && strcmp(t->norm, norm) == 0;
}

bool tok_is_clause_break(const tok *t) {
    return t->kind == TOK_PUNCT && strchr(".;!?", t->punct) != NULL;
}
