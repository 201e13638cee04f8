/* medify analysis: the case-analysis report a clinician reviews (analysis module).
 *
 *   report    summary + assessment of the finished interview's case (clinical.h)
 *             → similar historical cases from the data directory's index snapshot
 *             (search.h: BM25, and dense when present; demographic filters; a minimum
 *             fused score) → sections written either by templates over the structured
 *             data (generator "deterministic") or by an LLM (llm.h) given that data and
 *             the cases with their ids → citations verified against the given cases.
 *             Red flags and triage always come from the deterministic engine, never
 *             from a model. When the model fails part-way the deterministic report is
 *             returned instead, with a note saying so.
 *   render    JSON (the API's report object minus the fields the server owns: id,
 *             status, patient, timestamps of review), Markdown, and a PDF 1.4 written by
 *             hand (Helvetica, WinAnsi text, word wrap, pagination, page numbers).
 *   answer    a question about a report: on topic (the report's and the knowledge
 *             base's vocabulary) → an answer grounded in the report and the clinician's
 *             notes; off topic → a polite redirect. Every answer ends with the notice.
 *
 * Section keys, in report order: current_case, triage_red_flags, differential,
 * similar_cases, next_steps, safety_notice (MD_REPORT_SECTION_*).
 *
 * Ownership and threads: an md_analysis borrows the KB and the llm (both must outlive
 * it) and owns the search index and store it opened. One md_analysis may serve any
 * number of concurrent md_analysis_report / md_analysis_answer calls. An md_report owns
 * all its strings in its arena; free it with md_report_free. Patient text is never
 * logged by this module.
 */
#ifndef MEDIFY_ANALYSIS_H
#define MEDIFY_ANALYSIS_H

#include "medify/base.h"
#include "medify/clinical.h"
#include "medify/llm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- sections ---- */

#define MD_REPORT_SECTION_CURRENT_CASE "current_case"
#define MD_REPORT_SECTION_TRIAGE "triage_red_flags"
#define MD_REPORT_SECTION_DIFFERENTIAL "differential"
#define MD_REPORT_SECTION_SIMILAR_CASES "similar_cases"
#define MD_REPORT_SECTION_NEXT_STEPS "next_steps"
#define MD_REPORT_SECTION_SAFETY_NOTICE "safety_notice"
#define MD_REPORT_N_SECTIONS 6

/* The section keys in report order, and their titles ("Current case", ...). */
const char *md_report_section_key(size_t i);   /* NULL when i >= MD_REPORT_N_SECTIONS */
const char *md_report_section_title(const char *key); /* NULL for an unknown key */

/* ----------------------------------------------------------------- params ---- */

#define MD_ANALYSIS_DEFAULT_N_SIMILAR 5
#define MD_ANALYSIS_DEFAULT_AGE_WINDOW_YEARS 15.0 /* adults: similar cases within ±15 years */
#define MD_ANALYSIS_DEFAULT_SNIPPET_BYTES 280
#define MD_ANALYSIS_MAX_QUESTION_BYTES 4096

typedef struct md_analysis_params {
    size_t n_similar;               /* similar cases in a report (default 5, max 20) */
    double min_score;               /* fused (RRF) score below which a case is dropped
                                       (default 0: none); see md_hybrid_params */
    size_t depth;                   /* candidates per ranker (default 100) */
    bool demographic_filter;        /* age band and, for sex-specific conditions, sex (default true) */
    double age_window_years;        /* ± around an adult patient's age (default 15) */
    size_t snippet_bytes;           /* of each similar case's text (default 280) */
    md_assess_params assess;        /* default md_assess_default_params() */
    md_llm_sampling sampling;       /* for reports and answers; default: md_llm_sampling_default()
                                       with temperature 0.2 and no token budget */
    double cost_per_1k_prompt;      /* cost per 1000 prompt tokens, any currency (default 0) */
    double cost_per_1k_completion;  /* cost per 1000 completion tokens (default 0) */
} md_analysis_params;

md_analysis_params md_analysis_default_params(void);

/* ----------------------------------------------------------------- report ---- */

typedef struct md_report_section {
    const char *key;   /* MD_REPORT_SECTION_* */
    const char *title;
    const char *text;  /* Markdown-light prose: paragraphs and "- " bullet lines */
} md_report_section;

typedef struct md_report_case {
    int64_t case_id;         /* store id (== index document id) */
    const char *pmid;        /* may be "" */
    const char *patient_uid; /* may be "" */
    const char *title;       /* may be "" */
    double score;            /* fused RRF score */
    double bm25;             /* BM25 score, 0 when the case came from the dense ranker alone */
    bool has_dense;          /* the dense ranker found it too */
    double dense;            /* its cosine similarity when has_dense */
    double age_years;        /* < 0 unknown */
    md_sex sex;
    const char *snippet;     /* the start of the case text, cut at a word boundary */
    const char *shared_findings; /* this patient's findings the case text mentions ("chest pain,
                                    sweating"); may be "" */
} md_report_case;

typedef struct md_report_redflag {
    const char *id;
    const char *name;
    const char *guidance;
    md_triage_level level;
} md_report_redflag;

typedef struct md_report_usage {
    uint32_t prompt_tokens;     /* 0 for the deterministic generator */
    uint32_t completion_tokens;
    double latency_ms;          /* the whole report, retrieval included */
    double cost;                /* from the md_analysis_params prices */
} md_report_usage;

typedef struct md_report {
    const char *generator;        /* "deterministic" or md_llm_name() ("local:...", "remote:...") */
    md_report_section *sections;  /* MD_REPORT_N_SECTIONS, in report order */
    size_t n_sections;
    md_report_case *similar_cases;
    size_t n_similar_cases;
    md_triage_level triage;       /* always the deterministic engine's */
    bool emergency;
    md_report_redflag *red_flags;
    size_t n_red_flags;
    const char *summary_json;     /* md_summary_to_json of the case */
    const char *query;            /* the retrieval query built from the summary */
    const char **notes;           /* generator notes ("no case index in the data directory",
                                     "the model cited an unknown case: ...", fallbacks) */
    size_t n_notes;
    md_report_usage usage;
    const char *notice;           /* MD_CLINICAL_NOTICE */
    char created_at[32];          /* ISO 8601 UTC */
    md_arena arena;               /* owns everything above */
} md_report;

void md_report_init(md_report *r);   /* empty report with an initialised arena */
void md_report_free(md_report *r);   /* frees the arena; r may then be re-initialised */

/* Text of the section with `key`, or NULL. */
const char *md_report_section_text(const md_report *r, const char *key);

/* Streaming: called with each piece of generated text (LLM generator only; the
 * deterministic generator calls it once per finished section). Return false to stop
 * receiving pieces: the report is still completed. */
typedef bool (*md_analysis_piece_fn)(const char *piece, size_t len, void *ctx);

typedef struct md_analysis md_analysis;

/* Opens data_dir's current index snapshot (BM25, and dense when present) and store,
 * read-only in spirit (nothing is written). A data dir without an index (or without
 * any cases) is not an error: reports then have no similar cases and a note says
 * why. data_dir NULL or "" resolves as md_store_data_dir does. kb and llm (llm may be
 * NULL: deterministic reports) are borrowed. p may be NULL (defaults). Dense vectors are
 * used when the snapshot has them and the encoder file its manifest records is readable
 * (otherwise BM25 alone, with a note in each report). Errors: MD_ERR_INVALID_ARG (no kb
 * or out, params out of range), MD_ERR_PARSE (a corrupt index file), MD_ERR_CONFLICT (the
 * encoder is not the one the vectors were made with), MD_ERR_IO, MD_ERR_NOMEM. Free with
 * md_analysis_free. */
md_status md_analysis_open(const char *data_dir, const md_kb *kb, md_llm *llm, const md_analysis_params *p,
                           md_analysis **out, md_error *err);
void md_analysis_free(md_analysis *an);

/* Number of cases in the opened index (0 without one). */
size_t md_analysis_n_indexed(const md_analysis *an);

/* Writes the report for the case into out (which the function initialises; free it
 * with md_report_free even on error). The case must have been built on the KB given to
 * md_analysis_open. Errors: MD_ERR_INVALID_ARG (also for a case of another KB, when
 * detected), MD_ERR_NOMEM, and retrieval/store errors. A failing LLM is not an error: the report falls back to the
 * deterministic generator with a note. on_piece may be NULL. */
md_status md_analysis_report(md_analysis *an, const md_case *c, md_analysis_piece_fn on_piece, void *cb_ctx,
                             md_report *out, md_error *err);

/* Answers a question about a report. notes_json: the clinician's notes as a JSON array
 * of objects with "text" (and optionally "kind"), or of strings; NULL or "" for none.
 * The answer is appended to `answer` and always ends with the notice; *on_topic tells
 * whether the question was about the report (false: the answer is a redirect).
 * Errors: MD_ERR_EMPTY (blank question), MD_ERR_TOO_LARGE (> MD_ANALYSIS_MAX_QUESTION_BYTES),
 * MD_ERR_UTF8, MD_ERR_PARSE (malformed notes_json), MD_ERR_NOMEM. An LLM failure falls
 * back to the deterministic answer. */
md_status md_analysis_answer(md_analysis *an, const md_report *r, const char *notes_json, const char *question,
                             md_analysis_piece_fn on_piece, void *cb_ctx, md_buf *answer, bool *on_topic,
                             md_error *err);

/* ---------------------------------------------------------------- render ---- */

/* {"generator", "sections":[{key,title,text}], "similar_cases":[{case_id, pmid,
 * patient_uid, title, score, snippet}], "triage":{level,label,advice}, "emergency",
 * "red_flags":[{id,name,guidance,level}], "summary":{...}, "usage":{prompt_tokens,
 * completion_tokens, latency_ms, cost}, "notes":[{"kind":"generator","text"}],
 * "notice", "created_at"} */
md_status md_report_to_json(const md_report *r, md_buf *out);
/* Reads what md_report_to_json wrote (or a stored report whose sections a clinician
 * edited) back into out (initialised by the function; free with md_report_free).
 * Unknown fields are ignored; MD_ERR_PARSE for malformed JSON or wrong types. */
md_status md_report_from_json(const char *json, size_t n_bytes, md_report *out, md_error *err);
md_status md_report_to_markdown(const md_report *r, md_buf *out);
/* A PDF 1.4 document of the report appended to out. */
md_status md_report_pdf(const md_report *r, md_buf *out);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_ANALYSIS_H */
