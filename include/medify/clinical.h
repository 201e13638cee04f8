/* medify clinical: the deterministic clinical core. It works with no model weights.
 *
 *   knowledge base   conditions, observations, follow-up questions and red-flag rules,
 *                    read from the .kb files under data/kb (compiled into the binary; --kb DIR or
 *                    MEDIFY_KB overrides). Format: docs/kb-format.md.
 *   parse            free text → findings: observation, present/absent, context
 *                    (current, hypothetical, historical, a relative's), byte span,
 *                    attributes (onset, duration, severity, laterality, frequency,
 *                    temperature) and the patient's age and sex when stated.
 *   case             the evidence gathered so far for one patient (text turns and
 *                    answers to questions), merged with "later beats earlier".
 *   assess           red flags → differential (naive Bayes over the KB) → triage →
 *                    next question → structured summary, in one call.
 *
 * Ownership: md_kb is immutable after loading and may be shared by threads. An md_case
 * belongs to one thread at a time. md_assessment owns its arrays; free it with
 * md_assessment_free. Patient text is never logged by this module.
 */
#ifndef MEDIFY_CLINICAL_H
#define MEDIFY_CLINICAL_H

#include "medify/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Text longer than this is refused by the parser (MD_ERR_TOO_LARGE): a chat turn is
 * a few hundred bytes; 64 KiB leaves room for pasted letters without letting one
 * request take unbounded time. */
#define MD_CLINICAL_MAX_TEXT_BYTES (64 * 1024)

/* The notice every patient-facing answer carries. */
#define MD_CLINICAL_NOTICE                                                                  \
    "medify is not a diagnosis and does not replace a doctor. If you think you may be "   \
    "seriously ill, call your local emergency number (999 in the UK, 112 in the EU, 911 " \
    "in the US) or go to the nearest emergency department."

/* ------------------------------------------------------------------ enums ---- */

/* Ordered from least to most urgent, so comparisons mean "more urgent than". */
typedef enum md_triage_level {
    MD_TRIAGE_SELF_CARE = 0,
    MD_TRIAGE_CONSULTATION = 1,
    MD_TRIAGE_CONSULTATION_24 = 2,
    MD_TRIAGE_EMERGENCY = 3,
    MD_TRIAGE_EMERGENCY_AMBULANCE = 4,
    MD_TRIAGE_COUNT = 5,
} md_triage_level;

const char *md_triage_level_name(md_triage_level level); /* "consultation_24", ... */
bool md_triage_level_parse(const char *name, md_triage_level *out);
const char *md_triage_level_advice(md_triage_level level); /* one patient-facing line */

typedef enum md_obs_status {
    MD_OBS_STATUS_UNKNOWN = 0,
    MD_OBS_STATUS_PRESENT = 1,
    MD_OBS_STATUS_ABSENT = 2,
} md_obs_status;
const char *md_obs_status_name(md_obs_status s);
bool md_obs_status_parse(const char *name, md_obs_status *out);

typedef enum md_obs_context {
    MD_OBS_CONTEXT_CURRENT = 0,
    MD_OBS_CONTEXT_HYPOTHETICAL = 1,
    MD_OBS_CONTEXT_HISTORICAL = 2,
    MD_OBS_CONTEXT_FAMILY = 3,
} md_obs_context;
const char *md_obs_context_name(md_obs_context c);

typedef enum md_obs_kind {
    MD_OBS_KIND_SYMPTOM = 0,
    MD_OBS_KIND_SIGN = 1,
    MD_OBS_KIND_RISK_FACTOR = 2,
    MD_OBS_KIND_HISTORY = 3,
} md_obs_kind;

typedef enum md_severity {
    MD_SEVERITY_MILD = 0,
    MD_SEVERITY_MODERATE = 1,
    MD_SEVERITY_SEVERE = 2,
    MD_SEVERITY_CRITICAL = 3,
} md_severity;
const char *md_severity_name(md_severity s);

typedef enum md_sex {
    MD_SEX_UNKNOWN = 0,
    MD_SEX_FEMALE = 1,
    MD_SEX_MALE = 2,
} md_sex;
const char *md_sex_name(md_sex s); /* "female", "male", NULL for unknown */
bool md_sex_parse(const char *name, md_sex *out);

typedef enum md_age_band {
    MD_AGE_BAND_INFANT = 0,     /* < 1 year */
    MD_AGE_BAND_CHILD = 1,      /* 1–12 */
    MD_AGE_BAND_ADOLESCENT = 2, /* 13–17 */
    MD_AGE_BAND_ADULT = 3,      /* 18–64 */
    MD_AGE_BAND_OLDER = 4,      /* 65+ */
    MD_AGE_BAND_COUNT = 5,
} md_age_band;
md_age_band md_age_band_of(double age_years);

typedef enum md_onset {
    MD_ONSET_UNKNOWN = 0,
    MD_ONSET_SUDDEN = 1,
    MD_ONSET_GRADUAL = 2,
} md_onset;

typedef enum md_laterality {
    MD_LATERALITY_NONE = 0,
    MD_LATERALITY_LEFT = 1,
    MD_LATERALITY_RIGHT = 2,
    MD_LATERALITY_BOTH = 3,
} md_laterality;

typedef enum md_frequency {
    MD_FREQUENCY_UNKNOWN = 0,
    MD_FREQUENCY_CONSTANT = 1,
    MD_FREQUENCY_INTERMITTENT = 2,
} md_frequency;

/* Follow-up attributes an observation may ask for (bit mask in md_kb_observation). */
enum {
    MD_ATTR_ONSET = 1u << 0,
    MD_ATTR_SEVERITY = 1u << 1,
    MD_ATTR_DURATION = 1u << 2,
    MD_ATTR_TEMPERATURE = 1u << 3,
};

/* --------------------------------------------------------- knowledge base ---- */

typedef struct md_kb_observation {
    const char *id;
    const char *name;
    const char *question;      /* plain-language yes/no question */
    md_obs_kind kind;
    double base_rate;          /* P(present | a condition that does not cause it) */
    const char **synonyms;
    size_t n_synonyms;
    uint32_t *screen;          /* observation indexes to ask first when present */
    size_t n_screen;
    uint32_t *implies;         /* observation indexes present whenever this one is */
    size_t n_implies;
    uint32_t attributes;       /* MD_ATTR_* follow-ups */
    int32_t history_of;        /* index a past mention maps to, or -1 */
    int32_t family_of;         /* index a relative's mention maps to, or -1 */
    const char *file;          /* where it was defined, for diagnostics */
    int line;
} md_kb_observation;

typedef struct md_kb_evidence {
    uint32_t obs;          /* observation index */
    double p_present;      /* P(observation present | condition) */
    double log_lr_present; /* log P(present | c) - log P(present | not linked), set at load */
    double log_lr_absent;  /* the same for absent */
} md_kb_evidence;

typedef struct md_kb_condition {
    const char *id;
    const char *name;
    const char **lay_names;
    size_t n_lay_names;
    const char **icd10;
    size_t n_icd10;
    const char *system;
    md_severity severity;
    md_triage_level triage;
    double prior[MD_AGE_BAND_COUNT]; /* per 10,000 people seeking care */
    double sex_multiplier[3];        /* indexed by md_sex; [UNKNOWN] is the mean */
    md_kb_evidence *evidence;
    size_t n_evidence;
    const char **next_steps;
    size_t n_next_steps;
    const char **guidelines;
    size_t n_guidelines;
    const char *file;
    int line;
} md_kb_condition;

typedef struct md_kb_choice {
    const char *label;
    int32_t obs; /* observation index the choice asserts, -1 for "none of these" */
} md_kb_choice;

typedef struct md_kb_question {
    const char *id;
    const char *text;
    uint32_t *when; /* asked once any of these observations is present */
    size_t n_when;
    md_kb_choice *choices;
    size_t n_choices;
    const char *file;
    int line;
} md_kb_question;

typedef enum md_rf_term_type {
    MD_RF_TERM_OBS = 0,
    MD_RF_TERM_AGE_LT = 1,
    MD_RF_TERM_AGE_GE = 2,
    MD_RF_TERM_SEX = 3,
} md_rf_term_type;

typedef struct md_rf_term {
    md_rf_term_type type;
    uint32_t obs;         /* MD_RF_TERM_OBS */
    bool negated;         /* "!obs": holds when the observation is NOT present now */
    md_onset onset;       /* required onset, UNKNOWN = any */
    double min_severity;  /* required severity (0–10), < 0 = any */
    double age_years;     /* AGE_LT / AGE_GE */
    md_sex sex;           /* SEX */
} md_rf_term;

typedef struct md_rf_trigger {
    md_rf_term *terms; /* all must hold */
    size_t n_terms;
} md_rf_trigger;

typedef struct md_kb_redflag {
    const char *id;
    const char *name;
    const char *guidance;
    md_triage_level level;
    bool crisis;           /* show crisis-line resources */
    md_rf_trigger *triggers;
    size_t n_triggers;
    const char *file;
    int line;
} md_kb_redflag;

typedef struct md_kb md_kb;

/* One diagnostic from loading or checking: "file:line: message". */
typedef struct md_kb_diag {
    const char *file;
    int line;
    const char *message;
} md_kb_diag;

/* Loads the knowledge base compiled into the binary. Returns MD_ERR_KB (with the first
 * problem in err) when it is invalid. Free with md_kb_free. */
md_status md_kb_load_embedded(md_kb **out, md_error *err);
/* Loads every .kb file under dir (recursively, sorted by path). */
md_status md_kb_load_dir(const char *dir, md_kb **out, md_error *err);
/* Loads from `dir` when non-NULL and non-empty, otherwise from $MEDIFY_KB when set,
 * otherwise the embedded copy. */
md_status md_kb_load_default(const char *dir, md_kb **out, md_error *err);
/* Loads in-memory files (path, text) — used by the above and by tests. */
md_status md_kb_load_files(size_t n_files, const char *const *paths, const char *const *texts,
                           md_kb **out, md_error *err);
void md_kb_free(md_kb *kb);

/* Validates a knowledge base without keeping it: every schema and reference problem is
 * reported through diags (array owned by the caller's arena `a`). Returns MD_OK when
 * there are none, MD_ERR_KB otherwise; other statuses for I/O or OOM. */
md_status md_kb_check_dir(const char *dir, md_arena *a, md_kb_diag **diags, size_t *n_diags,
                          md_error *err);
md_status md_kb_check_embedded(md_arena *a, md_kb_diag **diags, size_t *n_diags, md_error *err);

size_t md_kb_n_observations(const md_kb *kb);
size_t md_kb_n_conditions(const md_kb *kb);
size_t md_kb_n_questions(const md_kb *kb);
size_t md_kb_n_redflags(const md_kb *kb);
size_t md_kb_n_synonyms(const md_kb *kb);
const md_kb_observation *md_kb_observation_at(const md_kb *kb, size_t i);
const md_kb_condition *md_kb_condition_at(const md_kb *kb, size_t i);
const md_kb_question *md_kb_question_at(const md_kb *kb, size_t i);
const md_kb_redflag *md_kb_redflag_at(const md_kb *kb, size_t i);
/* Index lookups by id; -1 when unknown. */
int32_t md_kb_observation_find(const md_kb *kb, const char *id);
int32_t md_kb_condition_find(const md_kb *kb, const char *id);
int32_t md_kb_question_find(const md_kb *kb, const char *id);
int32_t md_kb_redflag_find(const md_kb *kb, const char *id);

/* ----------------------------------------------------------------- parse ---- */

typedef struct md_attrs {
    md_onset onset;
    double severity;        /* 0–10, < 0 unknown */
    double duration_hours;  /* < 0 unknown */
    md_laterality laterality;
    md_frequency frequency;
    double temperature_c;   /* < 0 unknown */
} md_attrs;

void md_attrs_init(md_attrs *a);

typedef struct md_finding {
    uint32_t obs;
    md_obs_status status;
    md_obs_context context;
    size_t span_begin;      /* byte offsets into the parsed text */
    size_t span_end;
    md_attrs attrs;
    bool implied;           /* added through another finding's `implies` */
} md_finding;

typedef struct md_patient {
    double age_years; /* < 0 unknown */
    md_sex sex;
} md_patient;

typedef struct md_parse_result {
    md_finding *findings;   /* in text order; owned by the result */
    size_t n_findings;
    md_patient patient;     /* what the text said about age and sex */
} md_parse_result;

/* Parses UTF-8 text. Errors: MD_ERR_EMPTY (nothing but whitespace), MD_ERR_UTF8,
 * MD_ERR_BINARY, MD_ERR_TOO_LARGE (> MD_CLINICAL_MAX_TEXT_BYTES), MD_ERR_NOMEM.
 * Free the result with md_parse_result_free. */
md_status md_parse(const md_kb *kb, const char *text, size_t n_bytes, md_parse_result *out,
                   md_error *err);
void md_parse_result_free(md_parse_result *r);

/* ------------------------------------------------------------------ case ---- */

/* The evidence for one patient: per observation its status, context, attributes and
 * where it came from. Later information overrides earlier (an answer "no" to a
 * question replaces "unknown"; a text turn saying "now I have a fever" replaces an
 * earlier "no fever"). */
typedef struct md_case md_case;

md_case *md_case_new(const md_kb *kb); /* NULL on OOM; free with md_case_free */
void md_case_free(md_case *c);
md_case *md_case_clone(const md_case *c);

/* Parses a turn of free text and merges its findings and patient details. */
md_status md_case_add_text(md_case *c, const char *text, size_t n_bytes, md_error *err);
/* Sets one observation directly (structured evidence from an API caller). */
md_status md_case_set(md_case *c, uint32_t obs, md_obs_status status, md_error *err);
void md_case_set_patient(md_case *c, double age_years, md_sex sex); /* <0 / UNKNOWN keep */
md_patient md_case_patient(const md_case *c);

/* Per-observation state; status UNKNOWN when never mentioned. */
typedef struct md_case_entry {
    md_obs_status status;
    md_obs_context context;
    md_attrs attrs;
    bool from_text;         /* the patient said it (span valid) vs answered/implied */
    bool implied;
    uint32_t turn;          /* which turn set it (1-based) */
    size_t span_begin, span_end; /* within that turn's text */
} md_case_entry;
const md_case_entry *md_case_entry_at(const md_case *c, uint32_t obs);
/* Text of turn t (1-based), for span reporting; NULL if none. */
const char *md_case_turn_text(const md_case *c, uint32_t turn);
uint32_t md_case_n_turns(const md_case *c);

/* Questions asked so far (so none is repeated). Ids are observation ids, question ids,
 * "<obs>.severity|onset|duration|temperature", or "patient.age" / "patient.sex". */
bool md_case_was_asked(const md_case *c, const char *question_id);
md_status md_case_mark_asked(md_case *c, const char *question_id);
size_t md_case_n_asked(const md_case *c);

/* ---------------------------------------------------------------- assess ---- */

typedef struct md_redflag_hit {
    uint32_t redflag;       /* index into the KB red flags */
    uint32_t obs;           /* the observation that matched first */
    uint32_t turn;          /* turn of that observation (0 if it came from an answer) */
    size_t span_begin, span_end;
} md_redflag_hit;

typedef struct md_ranked_condition {
    uint32_t condition;
    double probability;
} md_ranked_condition;

typedef enum md_question_type {
    MD_QUESTION_TYPE_YESNO = 0,
    MD_QUESTION_TYPE_CHOICE = 1,
    MD_QUESTION_TYPE_NUMBER = 2,
} md_question_type;
const char *md_question_type_name(md_question_type t);

typedef struct md_next_question {
    char id[96];            /* see md_case_was_asked */
    const char *text;       /* owned by the KB or static */
    md_question_type type;
    const char *const *choices; /* labels; n_choices entries */
    size_t n_choices;
    double min, max;        /* NUMBER range */
    const char *unit;       /* NUMBER unit ("years", "°C", "0-10"), or NULL */
    int32_t obs;            /* observation the answer speaks about, -1 for patient.* */
    int32_t question;       /* KB question index for CHOICE from the KB, else -1 */
    uint32_t attribute;     /* MD_ATTR_* for attribute follow-ups, else 0 */
} md_next_question;

typedef struct md_assessment {
    md_triage_level level;
    const char **reasons;   /* human-readable, most important first */
    size_t n_reasons;
    bool emergency;         /* level >= MD_TRIAGE_EMERGENCY */
    md_redflag_hit *redflags;
    size_t n_redflags;
    md_ranked_condition *conditions; /* sorted by probability, descending */
    size_t n_conditions;
    bool has_question;
    md_next_question question;
    bool should_stop;
    md_patient patient;
    md_arena arena;         /* owns reasons and other strings */
} md_assessment;

typedef struct md_assess_params {
    size_t max_conditions;     /* how many to keep in the ranking (default 20) */
    size_t max_questions;      /* interview length before should_stop (default 25) */
    double stop_probability;   /* stop once the top condition reaches this (default 0.85) */
} md_assess_params;

md_assess_params md_assess_default_params(void);

/* Runs red flags, inference, triage and the interview policy on the case. */
md_status md_assess(const md_case *c, md_assess_params params, md_assessment *out, md_error *err);
void md_assessment_free(md_assessment *a);

/* Questions worth asking: unknown, not yet asked observations linked to the
 * assessment's top conditions, by expected information gain in bits over that
 * ranking, best first. Writes at most cap into out and the count into *n_out; only
 * gains above min_gain_bits count. The interview asks the first one. */
typedef struct md_suggestion {
    uint32_t obs;
    double information_gain_bits;
} md_suggestion;
md_status md_suggest_questions(const md_case *c, const md_assessment *a, double min_gain_bits, md_suggestion *out,
                               size_t cap, size_t *n_out, md_error *err);

/* Evidence for and against one condition given the case. */
typedef struct md_explain_item {
    uint32_t obs;
    md_obs_status status;
    double likelihood_ratio; /* > 1 supports, < 1 argues against */
} md_explain_item;

typedef struct md_explanation {
    uint32_t condition;
    double probability;
    double prior;            /* prior share before evidence */
    md_explain_item *supporting; /* sorted by strength */
    size_t n_supporting;
    md_explain_item *opposing;
    size_t n_opposing;
    uint32_t *unasked;           /* linked observations still unknown, most telling first */
    size_t n_unasked;
} md_explanation;

md_status md_explain(const md_case *c, uint32_t condition, md_explanation *out, md_error *err);
void md_explanation_free(md_explanation *e);

/* Applies the patient's reply to the question (yes/no words, a number, a choice label
 * or its 1-based index, or free text, which is also parsed for new findings). */
md_status md_case_answer(md_case *c, const md_next_question *q, const char *reply,
                         size_t n_bytes, md_error *err);

/* --------------------------------------------------------------- summary ---- */

/* Writes the whole assessment as the JSON object of `medify assess --json` (see
 * docs/cli.md): triage, emergency, red_flags, observations, conditions,
 * next_question, should_stop, patient, summary, notice. */
md_status md_assessment_to_json(const md_case *c, const md_assessment *a, md_buf *out);
/* The structured clinical summary alone (JSON object). */
md_status md_summary_to_json(const md_case *c, const md_assessment *a, md_buf *out);
/* The assessment as a FHIR R4 Bundle (collection): Patient, one Observation per
 * confirmed or denied finding, a Flag per red flag, a RiskAssessment with the
 * differential (ICD-10-CM codes and probabilities) and a triage Observation. */
md_status md_assessment_to_fhir(const md_case *c, const md_assessment *a, md_buf *out);
/* A readable rendering of the summary for a terminal or a clinician's note. */
md_status md_summary_to_text(const md_case *c, const md_assessment *a, md_buf *out);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_CLINICAL_H */
