/* records.c: the public record functions (include/medify/records.h). They check
 * arguments and the closed vocabularies (interview and report statuses, note kinds)
 * and dispatch through the backend's product operations (store_ops.h). */
#include <string.h>

#include "store/store_ops.h"

#define NEED(cond, fn) \
    if (!(cond)) return md_error_set(err, MD_ERR_INVALID_ARG, fn ": missing argument")

static bool one_of(const char *s, const char *const *set) {
    for (size_t i = 0; s && set[i]; i++)
        if (strcmp(s, set[i]) == 0) return true;
    return false;
}

static const char *const k_interview_status[] = {"open", "finished", NULL};
static const char *const k_report_status[] = {"generating", "pending_review", "in_review", "signed", NULL};
static const char *const k_note_kinds[] = {"note", "prescription", NULL};

md_status md_records_interview_create(md_store *s, int64_t patient_id, double age_years, const char *sex,
                                      int64_t *id_out, md_error *err) {
    NEED(s && id_out && patient_id > 0, "md_records_interview_create");
    if (sex && strcmp(sex, "female") != 0 && strcmp(sex, "male") != 0)
        return md_error_set(err, MD_ERR_INVALID_ARG, "sex must be \"female\", \"male\" or absent");
    return s->ops->product->interview_create(s, patient_id, age_years, sex, id_out, err);
}

md_status md_records_interview_get(md_store *s, int64_t id, md_arena *a, md_interview_record *out, md_error *err) {
    NEED(s && a && out, "md_records_interview_get");
    return s->ops->product->interview_get(s, id, a, out, err);
}

md_status md_records_interview_update(md_store *s, const md_interview_record *rec, md_error *err) {
    NEED(s && rec && rec->events_json && rec->messages_json && rec->state_json, "md_records_interview_update");
    if (!one_of(rec->status, k_interview_status))
        return md_error_set(err, MD_ERR_INVALID_ARG, "interview status must be open or finished");
    return s->ops->product->interview_update(s, rec, err);
}

md_status md_records_interview_each(md_store *s, int64_t patient_id, size_t limit, md_interview_fn fn, void *ctx,
                                    md_error *err) {
    NEED(s && fn, "md_records_interview_each");
    return s->ops->product->interview_each(s, patient_id, limit, fn, ctx, err);
}

md_status md_records_report_create(md_store *s, const md_report_record *rec, int64_t *id_out, md_error *err) {
    NEED(s && rec && id_out && rec->generator, "md_records_report_create");
    if (!one_of(rec->status, k_report_status)) return md_error_set(err, MD_ERR_INVALID_ARG, "unknown report status");
    return s->ops->product->report_create(s, rec, id_out, err);
}

md_status md_records_report_get(md_store *s, int64_t id, md_arena *a, md_report_record *out, md_error *err) {
    NEED(s && a && out && id > 0, "md_records_report_get");
    return s->ops->product->report_get(s, id, 0, a, out, err);
}

md_status md_records_report_for_interview(md_store *s, int64_t interview_id, md_arena *a, md_report_record *out,
                                          md_error *err) {
    NEED(s && a && out && interview_id > 0, "md_records_report_for_interview");
    return s->ops->product->report_get(s, 0, interview_id, a, out, err);
}

md_status md_records_report_update(md_store *s, const md_report_record *rec, int64_t user_id, const char *action,
                                   const char *diff_json, md_error *err) {
    NEED(s && rec && rec->generator, "md_records_report_update");
    if (!one_of(rec->status, k_report_status)) return md_error_set(err, MD_ERR_INVALID_ARG, "unknown report status");
    return s->ops->product->report_update(s, rec, user_id, action, diff_json, err);
}

md_status md_records_report_each(md_store *s, int64_t patient_id, const char *status, size_t limit, md_report_fn fn,
                                 void *ctx, md_error *err) {
    NEED(s && fn, "md_records_report_each");
    if (status && !one_of(status, k_report_status))
        return md_error_set(err, MD_ERR_INVALID_ARG, "unknown report status");
    return s->ops->product->report_each(s, patient_id, status, limit, fn, ctx, err);
}

md_status md_records_note_add(md_store *s, int64_t report_id, int64_t author_id, const char *kind, const char *text,
                              int64_t *id_out, md_error *err) {
    NEED(s && text && id_out, "md_records_note_add");
    if (!one_of(kind, k_note_kinds)) return md_error_set(err, MD_ERR_INVALID_ARG, "kind must be note or prescription");
    return s->ops->product->note_add(s, report_id, author_id, kind, text, id_out, err);
}

md_status md_records_note_each(md_store *s, int64_t report_id, md_note_fn fn, void *ctx, md_error *err) {
    NEED(s && fn, "md_records_note_each");
    return s->ops->product->note_each(s, report_id, fn, ctx, err);
}

md_status md_records_history_each(md_store *s, int64_t report_id, md_history_fn fn, void *ctx, md_error *err) {
    NEED(s && fn, "md_records_history_each");
    return s->ops->product->history_each(s, report_id, fn, ctx, err);
}

md_status md_records_question_add(md_store *s, int64_t report_id, int64_t user_id, const char *question,
                                  const char *answer, bool on_topic, md_error *err) {
    NEED(s && question && answer, "md_records_question_add");
    return s->ops->product->question_add(s, report_id, user_id, question, answer, on_topic, err);
}

md_status md_records_audit_append(md_store *s, const md_audit_record *rec, md_error *err) {
    NEED(s && rec && rec->action && rec->outcome, "md_records_audit_append");
    return s->ops->product->audit_append(s, rec, err);
}

md_status md_records_audit_each(md_store *s, int64_t before, size_t limit, md_audit_fn fn, void *ctx, md_error *err) {
    NEED(s && fn, "md_records_audit_each");
    return s->ops->product->audit_each(s, before, limit, fn, ctx, err);
}
