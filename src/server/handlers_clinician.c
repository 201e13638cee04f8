/* handlers_clinician.c: the clinician's patients.
 *
 *   GET /v1/patients        the patients assigned to the asking clinician, and the
 *                           unassigned ones with a report awaiting review: user
 *                           objects with n_interviews, n_reports, n_pending_reports
 *                           and assigned
 *   GET /v1/patients/{id}   {user, interviews:[interview], reports:[report]}
 *
 * Both go through authz.c's CARE rule with the patient as the subject.
 */
#include <string.h>

#include "server/product.h"

typedef struct count_ctx {
    int64_t n, n_pending;
} count_ctx;

static bool count_report(const md_report_record *rep, void *ctx) {
    count_ctx *c = ctx;
    c->n++;
    if (strcmp(rep->status, "pending_review") == 0) c->n_pending++;
    return true;
}

static bool count_interview(const md_interview_record *rec, void *ctx) {
    (void)rec;
    ((count_ctx *)ctx)->n++;
    return true;
}

/* The subject of a patient for the CARE rule: claimable with a report awaiting review. */
static md_status patient_subject(srv_request *r, const md_user_record *u, srv_subject *subj, count_ctx *reports,
                                 md_error *err) {
    memset(reports, 0, sizeof *reports);
    md_status st = md_records_report_each(r->srv->store, u->id, NULL, 0, count_report, reports, err);
    if (st) return st;
    *subj = (srv_subject){.patient_id = u->id, .clinician_id = u->clinician_id,
                          .claimable = u->clinician_id == 0 && reports->n_pending > 0};
    return MD_OK;
}

typedef struct list_ctx {
    srv_request *r;
    size_t n;
    md_status st;
} list_ctx;

static bool patient_row(const md_user_record *u, void *ctx) {
    list_ctx *lc = ctx;
    if (u->role != MD_ROLE_PATIENT || u->disabled) return true;
    srv_request *r = lc->r;
    md_error err = {0};
    srv_subject subj;
    count_ctx reports;
    lc->st = patient_subject(r, u, &subj, &reports, &err);
    if (lc->st) return false;
    if (srv_authz_check(r, &subj, &err) != MD_OK) return true;
    count_ctx interviews = {0};
    if ((lc->st = md_records_interview_each(r->srv->store, u->id, 0, count_interview, &interviews, &err))) return false;
    md_buf *b = &r->resp;
    if (lc->n++) md_buf_append_char(b, ',');
    /* The user object with the counts added inside it. */
    size_t at = b->len;
    srv_user_json(b, u);
    if (md_buf_ok(b) && b->len > at) b->len--; /* reopen the object: drop its '}' */
    md_buf_appendf(b, ",\"n_interviews\":%lld,\"n_reports\":%lld,\"n_pending_reports\":%lld,\"assigned\":%s}",
                   (long long)interviews.n, (long long)reports.n, (long long)reports.n_pending,
                   u->clinician_id == r->who.user_id ? "true" : "false");
    return true;
}

md_status srv_handle_patients_list(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st) return st;
    r->authz_checked = true; /* every row is checked */
    r->audit_type = "user";
    list_ctx lc = {r, 0, MD_OK};
    md_buf_append_char(&r->resp, '[');
    st = md_account_each(r->srv->store, 0, 0, patient_row, &lc, err);
    if (st == MD_OK && lc.st) st = md_error_set(err, lc.st, "cannot list patients");
    md_buf_append_char(&r->resp, ']');
    return st ? st : srv_resp_ok(r, err);
}

typedef struct detail_ctx {
    srv_request *r;
    size_t n;
    md_status st;
    md_error *err;
} detail_ctx;

static bool interview_full(const md_interview_record *rec, void *ctx) {
    detail_ctx *dc = ctx;
    md_buf *b = &dc->r->resp;
    if (dc->n++) md_buf_append_char(b, ',');
    srv_interview_json(b, rec);
    return true;
}

static bool report_full(const md_report_record *rep, void *ctx) {
    detail_ctx *dc = ctx;
    if (dc->n++) md_buf_append_char(&dc->r->resp, ',');
    dc->st = srv_report_json(dc->r, rep, &dc->r->resp, dc->err);
    return dc->st == MD_OK;
}

md_status srv_handle_patient_get(srv_request *r, md_error *err) {
    int64_t id = 0;
    md_status st = srv_path_id(r, 2, &id, err);
    if (st) return st;
    r->audit_type = "user";
    r->audit_id = id;
    md_user_record u;
    st = md_account_get(r->srv->store, id, &r->arena, &u, err);
    if (st == MD_OK && u.role != MD_ROLE_PATIENT) st = md_error_set(err, MD_ERR_NOT_FOUND, "no patient %lld", (long long)id);
    if (st == MD_ERR_NOT_FOUND) r->authz_checked = true;
    if (st) return st;
    srv_subject subj;
    count_ctx reports;
    if ((st = patient_subject(r, &u, &subj, &reports, err))) return st;
    if ((st = srv_authz_check(r, &subj, err))) return st;
    md_buf *b = &r->resp;
    md_buf_append_str(b, "{\"user\":");
    srv_user_json(b, &u);
    md_buf_append_str(b, ",\"interviews\":[");
    detail_ctx dc = {r, 0, MD_OK, err};
    if ((st = md_records_interview_each(r->srv->store, id, 0, interview_full, &dc, err))) return st;
    md_buf_append_str(b, "],\"reports\":[");
    dc.n = 0;
    if ((st = md_records_report_each(r->srv->store, id, NULL, 0, report_full, &dc, err))) return st;
    if (dc.st) return dc.st;
    md_buf_append_str(b, "]}");
    return srv_resp_ok(r, err);
}
