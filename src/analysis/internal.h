/* Private to the analysis module: the md_analysis handle and the pieces of the report
 * pipeline that tests exercise on fixed inputs (prompt building, answer parsing,
 * citation checking, PDF text encoding). */
#ifndef MEDIFY_ANALYSIS_INTERNAL_H
#define MEDIFY_ANALYSIS_INTERNAL_H

#include <pthread.h>

#include "medify/analysis.h"
#include "medify/search.h"
#include "medify/store.h"

/* ---- dense.c: the snapshot's vectors and their encoder, when present ---------------- */

typedef struct analysis_dense analysis_dense;
/* *out NULL and MD_OK when the snapshot has no vectors; MD_ERR_NOT_FOUND (err untouched)
 * when it has vectors but the encoder file recorded in the manifest is not readable;
 * MD_ERR_UNSUPPORTED likewise in a build without the engine; other errors from loading. */
md_status analysis_dense_open(const char *data_dir, const md_snapshot_manifest *m, size_t depth, analysis_dense **out,
                              md_error *err);
const md_embedder *analysis_dense_embedder(analysis_dense *d);
const md_dense_ranker *analysis_dense_ranker(analysis_dense *d);
void analysis_dense_free(analysis_dense *d);

struct md_analysis {
    const md_kb *kb;
    md_llm *llm;                /* borrowed; NULL: deterministic */
    md_analysis_params params;
    md_bm25 *bm25;              /* NULL when the data dir has no index */
    analysis_dense *dense;      /* NULL: BM25 alone */
    char dense_note[160];       /* why the snapshot's vectors are not used, or "" */
    md_store *store;            /* NULL when there is no index (nothing to look up) */
    pthread_mutex_t store_lock; /* SQLite connection opened NOMUTEX: one user at a time */
    char index_version[64];
    char no_index_reason[160];  /* why bm25 is NULL, for the report's note */
    md_map kb_vocab;            /* analysis_kb_vocab_build; read-only after open */
};

/* Everything a generator needs, gathered once per report. Arrays live in the report's
 * arena or in the owner's memory; valid during md_analysis_report. */
typedef struct md_report_input {
    const md_kb *kb;
    const md_case *c;
    const md_assessment *a;
    md_explanation *expl;   /* one per shown condition */
    size_t n_expl;
    const md_search_filter *filter; /* what retrieval applied */
    size_t n_indexed;       /* cases in the index; 0 without one */
    bool have_index;
    bool dense;             /* similar cases were ranked by BM25 and dense vectors */
} md_report_input;

/* ---- report_text.c: the deterministic generator -------------------------------- */

/* Writes the text of section `key` into b. */
void analysis_section_text(const md_report_input *in, const md_report *r, const char *key, md_buf *b);
const char *analysis_triage_label(md_triage_level level); /* "Call an ambulance now", ... */
/* "a 45-year-old woman", "a 3-year-old boy", "the patient" (arena string). */
const char *analysis_patient_phrase(md_arena *a, md_patient p);
/* Whether the (lower-cased) text names observation o by its name or a synonym. */
bool analysis_text_mentions_obs(const md_kb *kb, uint32_t o, const char *lower_text);
/* "chest pain, sweating": the case's present findings that text mentions (arena). */
const char *analysis_shared_findings(const md_kb *kb, const md_case *c, const char *text, md_arena *a);

/* ---- report_llm.c: prompt, parsing, citations ----------------------------------- */

/* System and user messages for a report (arena strings). */
md_status analysis_report_prompt(const md_report_input *in, const md_report *r, md_arena *a, const char **system,
                                 const char **user);
/* Splits a model's Markdown answer at its headings ("#".."###") into the report's
 * section keys; a heading is matched by key or title, case-insensitively, ignoring
 * numbering and punctuation. texts[i] gets the text under section md_report_section_key(i),
 * or NULL when the answer has no such heading. Strings are in arena a. Returns how many
 * sections were found. */
size_t analysis_split_sections(const char *answer, md_arena *a, const char *texts[MD_REPORT_N_SECTIONS]);
/* Removes citations ("[PMID n]", "[patient uid]", "[case n]") that name no case in
 * cases[0..n), writing the cleaned text to *out (arena) and each removed id to
 * *removed (arena array of strings, count *n_removed). */
md_status analysis_verify_citations(const char *text, const md_report_case *cases, size_t n_cases, md_arena *a,
                                    const char **out, const char ***removed, size_t *n_removed);
/* Runs the LLM generator over r (already holding the deterministic sections, cases and
 * red flags); on success replaces the model-written sections and sets generator and
 * usage. A failure leaves r untouched and returns the error. */
md_status analysis_generate_llm(md_analysis *an, const md_report_input *in, md_report *r,
                                md_analysis_piece_fn on_piece, void *cb_ctx, md_error *err);

/* ---- report.c ------------------------------------------------------------------- */

md_status analysis_report_add_note(md_report *r, const char *fmt, ...) MD_PRINTF(2, 3);

/* ---- pdf.c ---------------------------------------------------------------------- */

/* UTF-8 → WinAnsi bytes (PDF's WinAnsiEncoding): ASCII kept, Latin-1 kept, typographic
 * quotes, dashes, bullet, ellipsis and euro mapped, other characters folded to ASCII
 * when md_utf8_fold can, else '?'. Appends to out. */
void analysis_winansi(const char *utf8, size_t n_bytes, md_buf *out);

/* ---- answer.c ------------------------------------------------------------------- */

/* The KB's vocabulary (observation and condition names and synonyms) and the general
 * report words, as search tokens; built once per md_analysis. false on OOM. */
bool analysis_kb_vocab_build(md_map *m, const md_kb *kb);
/* Whether the question shares vocabulary with the report, its notes or the KB
 * (*on_topic); kb_vocab NULL builds it from kb for this call. MD_ERR_NOMEM when the
 * vocabularies could not be built. */
md_status analysis_question_on_topic(const md_map *kb_vocab, const md_kb *kb, const md_report *r,
                                     const char *notes_text, const char *question, bool *on_topic);

#endif
