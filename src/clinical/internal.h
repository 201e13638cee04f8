/* Private types shared by the files of the clinical module. */
#ifndef MEDIFY_CLINICAL_INTERNAL_H
#define MEDIFY_CLINICAL_INTERNAL_H

#include "medify/clinical.h"

/* ------------------------------------------------------------------ text ---- */

typedef enum tok_kind {
    TOK_WORD = 0,
    TOK_NUMBER = 1,
    TOK_PUNCT = 2, /* one of . , ; : ! ? / ( ) and line breaks as '.' */
} tok_kind;

/* One token of normalised text. `norm` is folded to lower-case ASCII with apostrophes
 * removed; `stem` is norm after the light suffix stripper (matching uses stems).
 * Offsets are bytes in the original text. */
typedef struct tok {
    tok_kind kind;
    char *norm;
    char *stem;
    size_t begin, end;
    double number;  /* TOK_NUMBER value */
    char punct;     /* TOK_PUNCT character */
    int32_t word;   /* interned vocabulary id of stem (after spelling correction), -1 if none */
    uint64_t lex;   /* lexicon bits: which word lists have an entry starting with norm */
    bool corrected; /* `word` came from spelling correction */
    int32_t finding;/* index of the match that claimed this token, -1 if none */
} tok;

typedef struct tok_list {
    tok *items;
    size_t n;
    size_t cap;
} tok_list;

/* Tokenises UTF-8 text (already validated) into `out`, strings in arena `a`. */
md_status text_tokenize(const char *text, size_t n_bytes, md_arena *a, tok_list *out);
void tok_list_free(tok_list *t);
/* The light suffix stripper, in place on a NUL-terminated lower-case word. */
void text_stem(char *word);
/* Stems every word of a phrase and joins them with single spaces (for synonyms). */
bool tok_is(const tok *t, const char *norm);
bool tok_is_clause_break(const tok *t); /* . ; ! ? and line breaks */

/* --------------------------------------------------------------- lexicon ---- */

/* The word lists of the context, attribute and matcher scanners. At KB load every
 * list registers the first word of each of its entries in one hash map (norm → bit
 * mask), and each token looks its norm up once per parse; a scanner then compares
 * strings only for tokens whose bit is set. Enum values are named after the list
 * arrays they stand for (LEX_<array>) so the scanners' macros can paste them. */
typedef enum lex_list {
    /* context.c */
    LEX_k_pseudo, LEX_k_uncertain, LEX_k_pre_negation, LEX_k_post_negation_tight, LEX_k_resolution_adverbs,
    LEX_k_post_negation, LEX_k_hypothetical, LEX_k_historical, LEX_k_ongoing, LEX_k_relatives_family,
    LEX_k_relatives_proxy, LEX_k_past_markers, LEX_k_strong_past, LEX_k_acute_markers, LEX_k_in_family,
    LEX_k_terminators, LEX_k_new_subject, LEX_k_novelty, LEX_k_hypothetical_questions, LEX_k_post_normal,
    LEX_k_normal_glue, LEX_k_aggravation,
    /* matcher.c */
    LEX_k_fillers, LEX_k_negations,
    /* attributes.c */
    LEX_k_units, LEX_k_word_numbers, LEX_k_since, LEX_k_severity_words, LEX_k_sudden, LEX_k_sudden_phrases,
    LEX_k_gradual, LEX_k_gradual_phrases, LEX_k_constant, LEX_k_constant_phrases, LEX_k_intermittent,
    LEX_k_intermittent_phrases, LEX_k_temp_words, LEX_k_female_words, LEX_k_male_words, LEX_k_family_words,
    LEX_COUNT
} lex_list;
_Static_assert(LEX_COUNT <= 64, "lexicon bits fit in a uint64_t");

/* Registers entries (strings at `first`, `stride_bytes` apart) under `bit`. */
md_status lexicon_add(md_map *lx, int bit, const char *const *first, size_t n, size_t stride_bytes);
md_status context_lexicon(md_map *lx);
md_status attributes_lexicon(md_map *lx);
md_status matcher_lexicon(md_map *lx);
/* Sets each token's `lex` from the map. */
void lexicon_mark(const md_map *lx, tok_list *toks);

/* ---------------------------------------------------------------- matcher ---- */

/* Synonym phrases compiled to sequences of interned stems, stored in a trie keyed by
 * (node, word). Matching is longest-first from each token, skipping filler words
 * between phrase words and noting negation words skipped inside a phrase. */
typedef struct matcher matcher;

matcher *matcher_new(void);
void matcher_free(matcher *m);
/* Interns a stem; returns its id or -1 on OOM. */
int32_t matcher_intern(matcher *m, const char *stem);
int32_t matcher_lookup(const matcher *m, const char *stem); /* -1 if unknown */
/* Adds a phrase (sequence of word ids) for observation obs. Returns MD_ERR_CONFLICT if
 * the same phrase was already added for a different observation (first one kept). */
md_status matcher_add(matcher *m, const int32_t *words, size_t n_words, uint32_t obs,
                      uint32_t *existing_obs);
/* Builds the spelling-correction index; call once after all phrases are added. */
md_status matcher_finish(matcher *m);
/* Resolves each word token's `word` id, correcting a misspelling at edit distance 1
 * when the word is unknown, long enough and the correction is unambiguous. */
void matcher_resolve_words(const matcher *m, tok_list *toks);

typedef struct match {
    uint32_t obs;
    size_t tok_begin, tok_end; /* token range [begin, end) */
    bool negated_inside;       /* a negation word was skipped inside the phrase */
} match;

/* Finds longest matches left to right; a match may overlap the one before it when it
 * runs past that one's end. `out` must hold toks->n items. */
size_t matcher_scan(const matcher *m, const tok_list *toks, match *out);
size_t matcher_n_words(const matcher *m);

/* -------------------------------------------------------------------- kb ---- */

struct md_kb {
    md_arena arena;
    md_kb_observation *obs;
    size_t n_obs;
    md_kb_condition *cond;
    size_t n_cond;
    md_kb_question *questions;
    size_t n_questions;
    md_kb_redflag *redflags;
    size_t n_redflags;
    size_t n_synonyms;
    md_map obs_ids, cond_ids, question_ids, redflag_ids;
    matcher *matcher;
    md_map lexicon;             /* see lex_list */
    /* log prior per condition, indexed [cond][band 0-4, 5 = age unknown][md_sex];
     * -INFINITY where the prior is zero */
    double *log_prior;
    /* For each observation, the conditions that link it (CSR layout). */
    uint32_t *obs_cond_offsets; /* n_obs + 1 */
    uint32_t *obs_cond;         /* condition indexes */
    const md_kb_evidence **obs_cond_ev; /* the evidence link of each (obs, condition) pair */
    /* For each observation, the KB questions whose `when` contains it (CSR). */
    uint32_t *obs_question_offsets;
    uint32_t *obs_question;
};

/* ------------------------------------------------------------------ case ---- */

struct md_case {
    const md_kb *kb;
    md_case_entry *entries; /* n_obs */
    md_patient patient;
    char **turn_texts;      /* md_malloc'd copies */
    uint32_t n_turns;
    uint32_t cap_turns;
    md_map asked;
    size_t n_asked;
};

/* ----------------------------------------------------------- the pipeline ---- */

/* Context and attribute passes over matched findings (context.c, attributes.c). */
typedef struct parse_state {
    const md_kb *kb;
    tok_list toks;
    match *matches;
    size_t n_matches;
    md_finding *findings; /* one per match (same index) before implication */
    md_patient patient;
    md_arena arena;
} parse_state;

void context_apply(parse_state *ps);
void attributes_apply(parse_state *ps);
void demographics_apply(parse_state *ps);

/* Inference (infer.c): posterior over all conditions for the case. `post` has n_cond
 * entries and sums to 1 (or all zero when every prior is zero). */
md_status infer_posterior(const md_case *c, double *post);
double infer_prior(const md_kb_condition *cond, md_patient patient);
#define INFER_N_BANDS (MD_AGE_BAND_COUNT + 1) /* the bands plus "age unknown" */
/* Fills kb->log_prior (arena); false on OOM. */
bool infer_precompute(md_kb *kb);
/* log P(status | cond) - log P(status | not linked) for one linked evidence item. */
double infer_log_lr(const md_kb *kb, const md_kb_evidence *ev, md_obs_status status);

/* Red flags (redflags.c): appends hits to a vector of md_redflag_hit. */
md_status redflags_evaluate(const md_case *c, md_vec *hits);

/* Triage (triage.c). */
md_status triage_decide(const md_case *c, const md_redflag_hit *hits, size_t n_hits,
                        const md_ranked_condition *ranked, size_t n_ranked, md_assessment *a);

/* Interview (interview.c). */
void interview_next(const md_case *c, const md_assessment *a,
                    md_assess_params params, md_assessment *out);

/* Whether an entry counts as the patient's current, present finding. */
static inline bool entry_present_now(const md_case_entry *e) {
    return e->status == MD_OBS_STATUS_PRESENT && e->context == MD_OBS_CONTEXT_CURRENT;
}
static inline bool entry_known_now(const md_case_entry *e) {
    return e->status != MD_OBS_STATUS_UNKNOWN && e->context == MD_OBS_CONTEXT_CURRENT;
}

#endif
