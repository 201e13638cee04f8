/* search_tokenize.c: medical-aware tokenisation for BM25.
 *
 * Pipeline per word:
 *   1. Fold: UTF-8 is decoded and folded to lower-case ASCII (md_utf8_fold); anything
 *      without a folding is a word break. A word is a run of [a-z0-9] that may contain
 *      '-' between alphanumerics and '.' between digits ("38.5"); apostrophes are
 *      dropped ("patient's" → "patients" → stem "patient").
 *   2. Numbers with units: a number followed by a unit becomes one token. Measurement
 *      units attach directly ("38.5 c", "38.5°C", "38.5c" → 38.5c; "10 mg" → 10mg);
 *      durations join with '_' and a singular unit ("3 days", "3days" → 3_day;
 *      "24 hrs" → 24_hour). Both spellings give the same token, so documents and
 *      queries meet.
 *   3. Hyphens: "non-blanching" yields non-blanching, then each part (non, blanching)
 *      through steps 4-6, so both exact phrases and loose wording match.
 *   4. Abbreviations expand to their words (sob → shortness breath; the words then go
 *      through the rest of the pipeline).
 *   5. Stop words are dropped (a short English list; negations are dropped too, since
 *      BM25 is a bag of words and "no" carries no ranking signal).
 *   6. British spellings fold to American (haem → hem, oesoph → esoph, ...) and
 *      Harman's S-stemmer removes plurals (Harman 1991, "How effective is suffixing?",
 *      JASIS 42(1):7-15): -ies → -y, -es → -e, -s → "" with its exceptions.
 *
 * Invariants: tokens are 1..MD_SEARCH_MAX_TOKEN_BYTES bytes of [a-z0-9._-]; the same
 * text always yields the same tokens; nothing is allocated (tokens live on the stack).
 */
#include <ctype.h>
#include <string.h>

#include "medify/search.h"

#define WORD_CAP 256 /* raw word buffer; longer words are truncated then dropped */

/* ------------------------------------------------------------------ tables ---- */

static const char *const k_stop_words[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him",
    "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me",
    "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only",
    "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
    "your", "yours",
};

typedef struct abbrev {
    const char *abbr;
    const char *expansion;
} abbrev;

/* Common clinical abbreviations (sorted for bsearch). Ambiguous ones that are also
 * ordinary words ("pt", "hr" without a number) are deliberately absent. */
static const abbrev k_abbrevs[] = {
    {"abx", "antibiotics"},
    {"af", "atrial fibrillation"},
    {"afib", "atrial fibrillation"},
    {"aki", "acute kidney injury"},
    {"bp", "blood pressure"},
    {"cabg", "coronary artery bypass graft"},
    {"cad", "coronary artery disease"},
    {"cap", "community acquired pneumonia"},
    {"cbc", "full blood count"},
    {"chf", "congestive heart failure"},
    {"ckd", "chronic kidney disease"},
    {"cns", "central nervous system"},
    {"copd", "chronic obstructive pulmonary disease"},
    {"crp", "c reactive protein"},
    {"csf", "cerebrospinal fluid"},
    {"ct", "computed tomography"},
    {"cva", "stroke"},
    {"cxr", "chest radiograph"},
    {"dka", "diabetic ketoacidosis"},
    {"dm", "diabetes mellitus"},
    {"dvt", "deep vein thrombosis"},
    {"ecg", "electrocardiogram"},
    {"ed", "emergency department"},
    {"ekg", "electrocardiogram"},
    {"esr", "erythrocyte sedimentation rate"},
    {"fbc", "full blood count"},
    {"gerd", "gastroesophageal reflux disease"},
    {"gi", "gastrointestinal"},
    {"gord", "gastroesophageal reflux disease"},
    {"hb", "hemoglobin"},
    {"htn", "hypertension"},
    {"ibd", "inflammatory bowel disease"},
    {"ibs", "irritable bowel syndrome"},
    {"icu", "intensive care unit"},
    {"iv", "intravenous"},
    {"loc", "loss consciousness"},
    {"mi", "myocardial infarction"},
    {"mri", "magnetic resonance imaging"},
    {"nsaid", "nonsteroidal anti inflammatory drug"},
    {"nsaids", "nonsteroidal anti inflammatory drug"},
    {"pe", "pulmonary embolism"},
    {"sob", "shortness breath"},
    {"t2dm", "type 2 diabetes mellitus"},
    {"tb", "tuberculosis"},
    {"tia", "transient ischemic attack"},
    {"uri", "upper respiratory infection"},
    {"urti", "upper respiratory infection"},
    {"uti", "urinary tract infection"},
    {"wbc", "white blood cell"},
};

typedef struct unit {
    const char *spelling;
    const char *canonical;
    bool duration; /* joins with '_' */
} unit;

static const unit k_units[] = {
    {"c", "c", false},           {"f", "f", false},           {"mg", "mg", false},
    {"g", "g", false},           {"kg", "kg", false},         {"mcg", "mcg", false},
    {"ug", "mcg", false},        {"ml", "ml", false},         {"l", "l", false},
    {"mmhg", "mmhg", false},     {"bpm", "bpm", false},       {"cm", "cm", false},
    {"mm", "mm", false},         {"iu", "iu", false},         {"mmol", "mmol", false},
    {"kpa", "kpa", false},       {"lb", "lb", false},         {"lbs", "lb", false},
    {"second", "second", true},  {"seconds", "second", true}, {"sec", "second", true},
    {"minute", "minute", true},  {"minutes", "minute", true}, {"min", "minute", true},
    {"mins", "minute", true},    {"hour", "hour", true},      {"hours", "hour", true},
    {"hr", "hour", true},        {"hrs", "hour", true},       {"h", "hour", true},
    {"day", "day", true},        {"days", "day", true},       {"d", "day", true},
    {"week", "week", true},      {"weeks", "week", true},     {"wk", "week", true},
    {"wks", "week", true},       {"month", "month", true},    {"months", "month", true},
    {"mo", "month", true},       {"year", "year", true},      {"years", "year", true},
    {"yr", "year", true},        {"yrs", "year", true},       {"y", "year", true},
};

/* British → American spelling folds, applied as substring rewrites. */
static const char *const k_spelling[][2] = {
    {"oesophag", "esophag"}, {"haem", "hem"}, {"anaem", "anem"}, {"aemia", "emia"},
    {"paed", "ped"},         {"oedem", "edem"}, {"diarrhoe", "diarrhe"}, {"ischaem", "ischem"},
    {"oestr", "estr"},       {"foet", "fet"}, {"tumour", "tumor"}, {"colour", "color"},
    {"orthopaed", "orthoped"}, {"leukaem", "leukem"}, {"septicaem", "septicem"},
};

/* ----------------------------------------------------------------- helpers ---- */

static bool is_stop(const char *w) {
    size_t lo = 0, hi = MD_ARRAY_LEN(k_stop_words);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(w, k_stop_words[mid]);
        if (c == 0) return true;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return false;
}

static const char *find_abbrev(const char *w) {
    size_t lo = 0, hi = MD_ARRAY_LEN(k_abbrevs);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(w, k_abbrevs[mid].abbr);
        if (c == 0) return k_abbrevs[mid].expansion;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

static const unit *find_unit(const char *w, size_t n) {
    for (size_t i = 0; i < MD_ARRAY_LEN(k_units); i++)
        if (strlen(k_units[i].spelling) == n && memcmp(k_units[i].spelling, w, n) == 0) return &k_units[i];
    return NULL;
}

static bool is_number(const char *w, size_t n) {
    if (n == 0 || !isdigit((unsigned char)w[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)w[i]) && w[i] != '.') return false;
    return true;
}

static size_t number_prefix(const char *w, size_t n) {
    size_t i = 0;
    while (i < n && (isdigit((unsigned char)w[i]) || (w[i] == '.' && i > 0 && i + 1 < n && isdigit((unsigned char)w[i + 1]))))
        i++;
    return i;
}

static void fold_spelling(char *w) {
    for (size_t r = 0; r < MD_ARRAY_LEN(k_spelling); r++) {
        const char *from = k_spelling[r][0], *to = k_spelling[r][1];
        size_t nf = strlen(from), nt = strlen(to);
        char *p;
        while ((p = strstr(w, from)) != NULL) memmove(p + nt, p + nf, strlen(p + nf) + 1), memcpy(p, to, nt);
    }
}

/* Harman's S-stemmer. */
static void stem(char *w) {
    size_t n = strlen(w);
    if (n <= 3 || isdigit((unsigned char)w[0])) return;
    if (n > 3 && strcmp(w + n - 3, "ies") == 0 && w[n - 4] != 'e' && w[n - 4] != 'a') {
        w[n - 3] = 'y';
        w[n - 2] = '\0';
    } else if (strcmp(w + n - 2, "es") == 0 && w[n - 3] != 'a' && w[n - 3] != 'e' && w[n - 3] != 'o') {
        w[n - 1] = '\0';
    } else if (w[n - 1] == 's' && w[n - 2] != 'u' && w[n - 2] != 's') {
        w[n - 1] = '\0';
    }
}

typedef struct tok_state {
    md_token_fn fn;
    void *ctx;
    int depth; /* abbreviation expansion depth */
} tok_state;

static md_status emit(tok_state *st, const char *t, size_t n) {
    if (n == 0 || n > MD_SEARCH_MAX_TOKEN_BYTES) return MD_OK;
    char buf[MD_SEARCH_MAX_TOKEN_BYTES + 1];
    memcpy(buf, t, n);
    buf[n] = '\0';
    return st->fn(buf, n, st->ctx);
}

static md_status tokenize_words(tok_state *st, const char *text, size_t n_bytes);

/* Steps 4-6 for one hyphen-free word (or a hyphen part). */
static md_status emit_simple(tok_state *st, const char *w, size_t n) {
    if (n == 0 || n > MD_SEARCH_MAX_TOKEN_BYTES) return MD_OK;
    char buf[MD_SEARCH_MAX_TOKEN_BYTES + 1];
    memcpy(buf, w, n);
    buf[n] = '\0';
    if (is_stop(buf)) return MD_OK;
    const char *exp = st->depth == 0 ? find_abbrev(buf) : NULL;
    if (exp) {
        st->depth++;
        md_status s = tokenize_words(st, exp, strlen(exp));
        st->depth--;
        return s;
    }
    fold_spelling(buf);
    stem(buf);
    return emit(st, buf, strlen(buf));
}

/* A word that may hold hyphens and an attached unit ("38.5c", "3days"). */
static md_status emit_word(tok_state *st, const char *w, size_t n) {
    size_t np = number_prefix(w, n);
    if (np > 0 && np < n && memchr(w, '-', n) == NULL) {
        const unit *u = find_unit(w + np, n - np);
        if (u) {
            char buf[WORD_CAP];
            int len = snprintf(buf, sizeof buf, "%.*s%s%s", (int)np, w, u->duration ? "_" : "", u->canonical);
            return len > 0 ? emit(st, buf, (size_t)len) : MD_OK;
        }
    }
    if (memchr(w, '-', n) == NULL) return emit_simple(st, w, n);
    md_status s = emit(st, w, n); /* the whole hyphenated term, unstemmed */
    if (s != MD_OK) return s;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || w[i] == '-') {
            s = emit_simple(st, w + start, i - start);
            if (s != MD_OK) return s;
            start = i + 1;
        }
    }
    return MD_OK;
}

static bool word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* Handles one raw word (no invalid dots): the number+unit lookahead, then emit_word.
 * A number is held in `pending` until the next word shows whether it is a unit. */
typedef struct word_state {
    char pending[WORD_CAP];
    size_t n_pending;
} word_state;

static md_status flush_pending(tok_state *st, word_state *ws) {
    md_status s = ws->n_pending ? emit(st, ws->pending, ws->n_pending) : MD_OK;
    ws->n_pending = 0;
    return s;
}

static md_status handle_word(tok_state *st, word_state *ws, const char *w, size_t n) {
    if (n == 0) return MD_OK;
    if (ws->n_pending) {
        const unit *u = find_unit(w, n);
        if (u) {
            char buf[WORD_CAP * 2];
            int len = snprintf(buf, sizeof buf, "%.*s%s%s", (int)ws->n_pending, ws->pending, u->duration ? "_" : "",
                               u->canonical);
            ws->n_pending = 0;
            return len > 0 ? emit(st, buf, (size_t)len) : MD_OK;
        }
        md_status s = flush_pending(st, ws);
        if (s != MD_OK) return s;
    }
    if (is_number(w, n) && n < WORD_CAP) {
        memcpy(ws->pending, w, n);
        ws->n_pending = n;
        return MD_OK;
    }
    return emit_word(st, w, n);
}

/* Splits a collected run at dots that are not between two digits. */
static md_status handle_run(tok_state *st, word_state *ws, char *w, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        bool split = i == n || (w[i] == '.' && !(i > 0 && isdigit((unsigned char)w[i - 1]) && i + 1 < n &&
                                                 isdigit((unsigned char)w[i + 1])));
        if (!split) continue;
        size_t a = start, b = i;
        while (a < b && (w[a] == '-' || w[a] == '.')) a++;
        while (b > a && (w[b - 1] == '-' || w[b - 1] == '.')) b--;
        md_status s = handle_word(st, ws, w + a, b - a);
        if (s != MD_OK) return s;
        start = i + 1;
    }
    return MD_OK;
}

/* Splits folded text into runs of word characters and joiners. */
static md_status tokenize_words(tok_state *st, const char *text, size_t n_bytes) {
    const char *p = text, *end = text + n_bytes;
    char word[WORD_CAP];
    size_t n_word = 0;
    bool too_long = false;
    word_state ws = {.n_pending = 0};
    md_status s = MD_OK;

    for (;;) {
        bool at_end = p >= end;
        char folded[2];
        size_t n_folded = 0;
        bool unfoldable = false;
        if (!at_end) {
            uint32_t cp = md_utf8_decode(&p, end);
            if (cp < 0x80) {
                folded[0] = (char)tolower((int)cp);
                n_folded = 1;
            } else {
                n_folded = md_utf8_fold(cp, folded);
                unfoldable = n_folded == 0;
            }
        }
        for (size_t f = 0; f < (n_folded ? n_folded : 1); f++) {
            char c = n_folded ? folded[f] : ' ';
            if (c == '\'') continue; /* apostrophes vanish inside words */
            if (word_char(c) || ((c == '-' || c == '.') && n_word > 0)) {
                if (n_word + 1 < WORD_CAP) word[n_word++] = c;
                else too_long = true;
                continue;
            }
            if (n_word > 0 && !too_long && (s = handle_run(st, &ws, word, n_word)) != MD_OK) return s;
            n_word = 0;
            too_long = false;
            /* a number survives spaces and symbols such as the degree sign before its
             * unit; other punctuation (",", ";", ")") ends it */
            bool keeps = at_end ? false : (unfoldable || c == ' ' || c == '\t' || c == '\n' || c == '\r');
            if (!keeps && (s = flush_pending(st, &ws)) != MD_OK) return s;
        }
        if (at_end) break;
    }
    return flush_pending(st, &ws);
}

md_status md_search_tokenize(const char *text, size_t n_bytes, md_token_fn fn, void *ctx) {
    if (!text || !fn) return MD_ERR_INVALID_ARG;
    tok_state st = {fn, ctx, 0};
    return tokenize_words(&st, text, n_bytes);
}

typedef struct arena_ctx {
    md_arena *a;
    md_vec v;
} arena_ctx;

static md_status push_arena(const char *tok, size_t n, void *ctx) {
    arena_ctx *ac = ctx;
    char *copy = md_arena_strndup(ac->a, tok, n);
    if (!copy) return MD_ERR_NOMEM;
    return md_vec_push(&ac->v, &copy);
}

md_status md_search_tokenize_arena(const char *text, size_t n_bytes, md_arena *a, char ***tokens, size_t *n_tokens) {
    arena_ctx ac = {a, {0}};
    md_vec_init(&ac.v, sizeof(char *));
    *tokens = NULL;
    *n_tokens = 0;
    md_status s = md_search_tokenize(text, n_bytes, push_arena, &ac);
    if (s == MD_OK && ac.v.n > 0) {
        char **arr = md_arena_calloc(a, ac.v.n, sizeof(char *));
        if (!arr) s = MD_ERR_NOMEM;
        else {
            memcpy(arr, ac.v.data, ac.v.n * sizeof(char *));
            *tokens = arr;
            *n_tokens = ac.v.n;
        }
    }
    md_vec_free(&ac.v);
    return s;
}
