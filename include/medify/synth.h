/* medify synth: synthetic case reports generated from the knowledge base, written in
 * the PMC-Patients CSV format (Zhao et al. 2023, "A large-scale dataset of patient
 * summaries for retrieval-based clinical decision support systems", Scientific Data):
 * columns patient_id, patient_uid, PMID, file_path, title, patient, age, gender,
 * relevant_articles, similar_patients; `age` is a Python-literal list of [value, unit]
 * pairs ([[34.0, 'year']]); the last two columns are Python-literal dicts.
 *
 * Each case: an age band and sex from population weights, a condition drawn by its
 * prior for that band times its sex multiplier, findings drawn from the condition's
 * evidence likelihoods (present ones and pertinent negatives), then a narrative —
 * presentation, history, examination with vital signs, investigations, diagnosis,
 * treatment, outcome — from several templates per part with synonyms for the findings.
 * similar_patients links earlier cases of the same condition (a small ring per
 * condition, so memory stays bounded however many cases are written).
 *
 * Reproducible: case i depends only on (seed, i) and the earlier cases of its condition
 * (for the links); the generator has its own PRNG (xoshiro256**, seeded through
 * splitmix64; Blackman & Vigna 2018) and never touches rand().
 */
#ifndef MEDIFY_SYNTH_H
#define MEDIFY_SYNTH_H

#include "medify/base.h"
#include "medify/clinical.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MD_SYNTH_DEFAULT_FIRST_PMID 90000000ULL /* above every real PMID so far */
#define MD_SYNTH_LINKS_PER_CASE 3

typedef struct md_synth_params {
    uint64_t seed;
    uint64_t first_pmid; /* case i gets PMID first_pmid + i */
} md_synth_params;

md_synth_params md_synth_default_params(void);

typedef struct md_synth md_synth;

/* One generated case; every string lives until the next md_synth_next or free. */
typedef struct md_synth_case {
    uint64_t index;            /* 0-based position in the stream */
    uint32_t condition;        /* the diagnosis, a KB condition index */
    double age_years;
    md_sex sex;
    const char *patient_id;    /* "0", "1", ... */
    const char *patient_uid;   /* "<PMID>-1" */
    const char *pmid;
    const char *file_path;
    const char *title;
    const char *text;          /* the patient summary */
    size_t n_summary_bytes;    /* length of the opening sentences (presentation) */
    const char *age_literal;   /* [[34.0, 'year']] */
    const char *gender;        /* "M" or "F" */
    const char *relevant_articles; /* {'90000001': 1} */
    const char *similar_patients;  /* {'90000001-1': 1} */
} md_synth_case;

/* kb must outlive the generator. Free with md_synth_free. */
md_status md_synth_new(const md_kb *kb, md_synth_params params, md_synth **out, md_error *err);
void md_synth_free(md_synth *s);
/* Generates the next case of the stream. */
md_status md_synth_next(md_synth *s, md_synth_case *out, md_error *err);

/* The CSV header line (with "\n"). */
const char *md_synth_csv_header(void);
/* Appends one CSV record (RFC 4180 quoting, "\n" line end). */
void md_synth_case_to_csv(const md_synth_case *c, md_buf *out);
/* Streams n cases as CSV with header to f; memory stays bounded. */
md_status md_synth_write_csv(const md_kb *kb, md_synth_params params, uint64_t n, FILE *f, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_SYNTH_H */
