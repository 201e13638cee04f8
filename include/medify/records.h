/* medify records: interviews, reports, clinician notes, report history and the audit
 * log, kept in the store (store.h) beside the cases.
 *
 * Interviews keep what is needed for ANY process to continue them: the patient's age
 * and sex as given at the start, the ordered events (free-text turns and answers to
 * questions, as a JSON array) from which the clinical case is rebuilt by replaying
 * them through the engine, and the conversation shown to the patient (messages JSON).
 * Nothing about an interview lives only in a process's memory. Every interview row
 * has a version that each update increments; md_records_interview_update refuses
 * (MD_ERR_CONFLICT) a write based on an older version, so two processes answering the
 * same interview at once cannot lose a turn.
 *
 * Reports belong to one interview and carry their sections (JSON array of
 * {key,title,text}), the similar cases, usage, status and generator as JSON/text
 * columns. Every change of a report writes a history entry in the same transaction.
 *
 * The audit log records who did what to which record and the outcome, never content.
 *
 * Strings returned in records live in the arena passed in (or, for the *_each
 * callbacks, only during the call).
 */
#ifndef MEDIFY_RECORDS_H
#define MEDIFY_RECORDS_H

#include "medify/base.h"
#include "medify/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- interviews ---- */

typedef struct md_interview_record {
    int64_t id;
    int64_t patient_id;
    const char *status;        /* "open" | "finished" */
    double age_years;          /* < 0 unknown */
    const char *sex;           /* "female" | "male" | NULL */
    const char *events_json;   /* [{"k":"text","text":..}|{"k":"answer","q":id,"reply":..}] */
    const char *messages_json; /* [{"role","text","at"}] */
    const char *state_json;    /* last triage/emergency/next question, {} at start */
    int64_t version;           /* incremented by each update */
    int64_t created_at_ms, updated_at_ms;
} md_interview_record;

md_status md_records_interview_create(md_store *s, int64_t patient_id, double age_years, const char *sex,
                                      int64_t *id_out, md_error *err);
/* MD_ERR_NOT_FOUND when absent. */
md_status md_records_interview_get(md_store *s, int64_t id, md_arena *a, md_interview_record *out, md_error *err);
/* Writes status, events, messages and state when the row still has rec->version;
 * MD_ERR_CONFLICT otherwise. On success the stored version is rec->version + 1. */
md_status md_records_interview_update(md_store *s, const md_interview_record *rec, md_error *err);
/* Interviews of one patient (patient_id > 0) or of all patients (0), newest first. */
typedef bool (*md_interview_fn)(const md_interview_record *rec, void *ctx);
md_status md_records_interview_each(md_store *s, int64_t patient_id, size_t limit, md_interview_fn fn, void *ctx,
                                    md_error *err);

/* ---------------------------------------------------------------- reports ---- */

typedef struct md_report_record {
    int64_t id;
    int64_t interview_id;
    int64_t patient_id;
    const char *status;            /* "generating" | "pending_review" | "in_review" | "signed" */
    const char *generator;         /* "deterministic" | "local:..." | "remote:..." */
    const char *sections_json;     /* [{key,title,text}] */
    const char *similar_json;      /* [{case_id,pmid,patient_uid,title,score}] */
    const char *usage_json;        /* {prompt_tokens,completion_tokens,latency_ms,cost} */
    const char *body_json;         /* the analysis module's full report JSON, or NULL */
    const char *annotations_json;  /* clinician annotations (any JSON) or NULL */
    int64_t reviewer_id;           /* clinician who opened the review, 0 = none */
    int64_t signed_by;             /* 0 = not signed */
    int64_t signed_at_ms;
    int64_t created_at_ms, updated_at_ms;
} md_report_record;

/* Creates a report (status, generator and JSON columns from rec); id in *id_out. */
md_status md_records_report_create(md_store *s, const md_report_record *rec, int64_t *id_out, md_error *err);
md_status md_records_report_get(md_store *s, int64_t id, md_arena *a, md_report_record *out, md_error *err);
/* The report of an interview; MD_ERR_NOT_FOUND when none. */
md_status md_records_report_for_interview(md_store *s, int64_t interview_id, md_arena *a, md_report_record *out,
                                          md_error *err);
/* Writes every mutable column of rec and, in the same transaction, a history entry
 * (user_id, action, diff_json) when action is not NULL. */
md_status md_records_report_update(md_store *s, const md_report_record *rec, int64_t user_id, const char *action,
                                   const char *diff_json, md_error *err);
/* Reports filtered by patient (> 0) and status (NULL = any), newest first. */
typedef bool (*md_report_fn)(const md_report_record *rec, void *ctx);
md_status md_records_report_each(md_store *s, int64_t patient_id, const char *status, size_t limit, md_report_fn fn,
                                 void *ctx, md_error *err);

/* ------------------------------------------------------ notes and history ---- */

typedef struct md_note_record {
    int64_t id;
    int64_t report_id;
    int64_t author_id;
    const char *kind; /* "note" | "prescription" */
    const char *text;
    int64_t created_at_ms;
} md_note_record;

/* Adds a note and its history entry in one transaction. */
md_status md_records_note_add(md_store *s, int64_t report_id, int64_t author_id, const char *kind, const char *text,
                              int64_t *id_out, md_error *err);
typedef bool (*md_note_fn)(const md_note_record *rec, void *ctx);
md_status md_records_note_each(md_store *s, int64_t report_id, md_note_fn fn, void *ctx, md_error *err);

typedef struct md_history_record {
    int64_t id;
    int64_t report_id;
    int64_t user_id;
    const char *action; /* "generated", "review_opened", "edited", "note", "signed", ... */
    const char *diff_json;
    int64_t at_ms;
} md_history_record;
typedef bool (*md_history_fn)(const md_history_record *rec, void *ctx);
md_status md_records_history_each(md_store *s, int64_t report_id, md_history_fn fn, void *ctx, md_error *err);

/* A question asked about a report and its answer (kept for the review). */
md_status md_records_question_add(md_store *s, int64_t report_id, int64_t user_id, const char *question,
                                  const char *answer, bool on_topic, md_error *err);

/* ------------------------------------------------------------------ audit ---- */

typedef struct md_audit_record {
    int64_t id;
    int64_t at_ms;
    int64_t user_id;      /* 0 = anonymous */
    int64_t api_key_id;   /* 0 = none */
    const char *action;   /* route pattern with method, e.g. "GET /v1/reports/{id}" */
    const char *record_type; /* "interview", "report", "user", ... or NULL */
    int64_t record_id;    /* 0 = none */
    const char *outcome;  /* "ok", "forbidden", "not_found", ... */
    int http_status;
    const char *request_id;
} md_audit_record;

md_status md_records_audit_append(md_store *s, const md_audit_record *rec, md_error *err);
/* Entries with id < before (0 = newest), newest first, at most limit. */
typedef bool (*md_audit_fn)(const md_audit_record *rec, void *ctx);
md_status md_records_audit_each(md_store *s, int64_t before, size_t limit, md_audit_fn fn, void *ctx, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_RECORDS_H */
