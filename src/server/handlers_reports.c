/* handlers_reports.c: reports — generation, reading, review, notes, signing, PDF,
 * questions — and the report object of the API.
 *
 *   GET   /v1/reports?status=pending|reviewed|signed   the clinician's queue / the patient's list
 *   GET   /v1/reports/{id}            report; a clinician opening a report awaiting review
 *                                     starts the review (status in_review) and, when the
 *                                     patient had no clinician, becomes theirs
 *   GET   /v1/reports/{id}/stream     text/event-stream: `event: done` with the report
 *   GET   /v1/reports/{id}/pdf        application/pdf (the analysis module's renderer)
 *   PATCH /v1/reports/{id} {sections:[{key,text}], annotations?}   report; a history
 *                                     entry per changed section
 *   POST  /v1/reports/{id}/notes {kind, text}   note
 *   POST  /v1/reports/{id}/sign       report (signed; later edits, notes and signing: 409)
 *   GET   /v1/reports/{id}/history    [{at, user_id, action, diff}]
 *   POST  /v1/reports/{id}/questions {question}  {answer, on_topic} (?stream=1: SSE)
 *
 * Reports are made by the analysis module (analysis.h) from the finished interview's
 * case; the deterministic generator completes at once, so a report is stored
 * "pending_review" in the transaction that finishes the interview. The stored row
 * keeps the module's whole JSON (body) and, separately, the sections as edited.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/product.h"

#define MAX_SECTION_BYTES (32 * 1024)
#define MAX_NOTE_BYTES (8 * 1024)

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const k_patch_fields[] = {"sections", "annotations", NULL};
static const char *const k_note_fields[] = {"kind", "text", NULL};
static const char *const k_question_fields[] = {"question", NULL};

/* Member `name` of a JSON text as compact JSON (free with free()), or NULL. */
static char *member_json(json_t *root, const char *name, const char *fallback) {
    json_t *v = json_object_get(root, name);
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup(fallback);
}

/* -------------------------------------------------------------- generate ---- */

md_status srv_report_columns(const md_report *rep, md_buf *body, char **sections, char **similar, char **usage,
                             md_error *err) {
    *sections = *similar = *usage = NULL;
    if (md_report_to_json(rep, body) != MD_OK || !md_buf_ok(body)) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    json_t *root = json_loadb(body->data, body->len, 0, NULL);
    if (!root) return md_error_set(err, MD_ERR_INTERNAL, "the report module wrote invalid JSON");
    *sections = member_json(root, "sections", "[]");
    *similar = member_json(root, "similar_cases", "[]");
    *usage = member_json(root, "usage", "{}");
    json_decref(root);
    if (*sections && *similar && *usage) return MD_OK;
    free(*sections);
    free(*similar);
    free(*usage);
    *sections = *similar = *usage = NULL;
    return md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

md_status srv_report_generate(srv_request *r, int64_t interview_id, int64_t patient_id, const md_case *c,
                              int64_t *report_id, md_error *err) {
    if (!r->srv->analysis)
        return md_error_set(err, MD_ERR_UNAVAILABLE, "report generation is unavailable on this server");
    if (r->srv->worker) {
        /* A model writes it: stored "generating" now, written by the worker once this
         * request's transaction has committed (the worker needs the store lock). */
        md_report_record rec = {
            .interview_id = interview_id,
            .patient_id = patient_id,
            .status = "generating",
            .generator = md_llm_name(r->srv->llm),
        };
        md_status st = md_records_report_create(r->srv->store, &rec, report_id, err);
        if (st == MD_OK && (st = srv_worker_submit(r->srv->worker, *report_id, c)) != MD_OK)
            md_error_set(err, st, "cannot queue the report");
        return st;
    }
    uint64_t t0 = md_clock_monotonic_ns();
    md_report rep;
    md_status st = md_analysis_report(r->srv->analysis, c, NULL, NULL, &rep, err);
    md_buf body;
    md_buf_init(&body);
    char *sections = NULL, *similar = NULL, *usage = NULL;
    if (st == MD_OK) st = srv_report_columns(&rep, &body, &sections, &similar, &usage, err);
    if (st == MD_OK) {
        md_report_record rec = {
            .interview_id = interview_id,
            .patient_id = patient_id,
            .status = "pending_review",
            .generator = rep.generator ? rep.generator : "deterministic",
            .sections_json = sections,
            .similar_json = similar,
            .usage_json = usage,
            .body_json = body.data,
        };
        st = md_records_report_create(r->srv->store, &rec, report_id, err);
    }
    if (st == MD_OK)
        srv_metrics_report(&r->srv->metrics, md_clock_monotonic_ns() - t0, rep.usage.prompt_tokens,
                           rep.usage.completion_tokens);
    free(sections);
    free(similar);
    free(usage);
    md_buf_free(&body);
    md_report_free(&rep);
    return st;
}

/* ---------------------------------------------------------------- output ---- */

typedef struct note_ctx {
    md_buf *b;
    size_t n;
} note_ctx;

static void note_json(md_buf *b, const md_note_record *n) {
    md_buf_appendf(b, "{\"id\":%lld,\"report_id\":%lld,\"author_id\":%lld,\"kind\":", (long long)n->id,
                   (long long)n->report_id, (long long)n->author_id);
    srv_json_str(b, n->kind ? n->kind : "note");
    md_buf_append_str(b, ",\"text\":");
    srv_json_str(b, n->text ? n->text : "");
    md_buf_append_str(b, ",\"created_at\":");
    srv_time_json(b, n->created_at_ms);
    md_buf_append_char(b, '}');
}

static bool note_row(const md_note_record *n, void *ctx) {
    note_ctx *nc = ctx;
    if (nc->n++) md_buf_append_char(nc->b, ',');
    note_json(nc->b, n);
    return true;
}

md_status srv_report_json(srv_request *r, const md_report_record *rep, md_buf *b, md_error *err) {
    md_buf_appendf(b, "{\"id\":%lld,\"interview_id\":%lld,\"patient_id\":%lld,\"patient_name\":", (long long)rep->id,
                   (long long)rep->interview_id, (long long)rep->patient_id);
    md_arena a;
    md_arena_init(&a, 512);
    md_user_record u;
    if (md_account_get(r->srv->store, rep->patient_id, &a, &u, NULL) == MD_OK) srv_json_str(b, u.name);
    else md_buf_append_str(b, "null");
    md_arena_free(&a);
    md_buf_append_str(b, ",\"status\":");
    srv_json_str(b, rep->status);
    md_buf_append_str(b, ",\"generator\":");
    srv_json_str(b, rep->generator);
    md_buf_appendf(b, ",\"sections\":%s,\"similar_cases\":%s,\"usage\":%s", rep->sections_json, rep->similar_json,
                   rep->usage_json);
    md_buf_appendf(b, ",\"annotations\":%s,\"notes\":[", rep->annotations_json ? rep->annotations_json : "null");
    note_ctx nc = {b, 0};
    md_status st = md_records_note_each(r->srv->store, rep->id, note_row, &nc, err);
    if (st) return st;
    md_buf_append_char(b, ']');
    srv_json_notice(b);
    md_buf_append_str(b, ",\"created_at\":");
    srv_time_json(b, rep->created_at_ms);
    md_buf_append_str(b, ",\"updated_at\":");
    srv_time_json(b, rep->updated_at_ms);
    md_buf_append_str(b, ",\"reviewer_id\":");
    if (rep->reviewer_id) md_buf_appendf(b, "%lld", (long long)rep->reviewer_id);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"signed_by\":");
    if (rep->signed_by) md_buf_appendf(b, "%lld", (long long)rep->signed_by);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"signed_at\":");
    srv_time_json(b, rep->signed_at_ms);
    md_buf_append_char(b, '}');
    return md_buf_ok(b) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

/* ---------------------------------------------------------------- access ---- */

static md_status subject_of_report(srv_request *r, const md_report_record *rep, srv_subject *subj, md_error *err) {
    md_status st = srv_subject_of(r, rep->patient_id, subj, err);
    if (st) return st;
    subj->claimable = subj->clinician_id == 0 && strcmp(rep->status, "pending_review") == 0;
    return MD_OK;
}

/* Loads report {id} of the path and checks the caller may act on it. */
static md_status load_report(srv_request *r, md_report_record *rep, srv_subject *subj, md_error *err) {
    int64_t id = 0;
    md_status st = srv_path_id(r, 2, &id, err);
    if (st) return st;
    r->audit_type = "report";
    r->audit_id = id;
    if ((st = md_records_report_get(r->srv->store, id, &r->arena, rep, err))) {
        if (st == MD_ERR_NOT_FOUND) r->authz_checked = true;
        return st == MD_ERR_NOT_FOUND ? md_error_set(err, st, "no report %lld", (long long)id) : st;
    }
    if ((st = subject_of_report(r, rep, subj, err))) return st;
    return srv_authz_check(r, subj, err);
}

/* A person signed in as a clinician (API keys review nothing). */
static bool is_clinician(const srv_request *r) { return r->who.role == MD_ROLE_CLINICIAN && !r->who.api_key_id; }

static md_status require_clinician(const srv_request *r, md_error *err) {
    return is_clinician(r) ? MD_OK : md_error_set(err, MD_ERR_FORBIDDEN, "only a signed-in clinician reviews reports");
}

/* Opening a report awaiting review starts the review; an unassigned patient becomes
 * this clinician's. One transaction. */
static md_status open_review(srv_request *r, md_report_record *rep, const srv_subject *subj, md_error *err) {
    if (!is_clinician(r) || strcmp(rep->status, "pending_review") != 0) return MD_OK;
    md_store *s = r->srv->store;
    md_status st = md_store_begin(s, err);
    if (st) return st;
    if (subj->clinician_id == 0) {
        md_user_update u = {.set_clinician_id = true, .clinician_id = r->who.user_id};
        st = md_account_update(s, rep->patient_id, &u, err);
    }
    if (st == MD_OK) {
        rep->status = "in_review";
        rep->reviewer_id = r->who.user_id;
        char diff[64];
        snprintf(diff, sizeof diff, "{\"assigned\":%s}", subj->clinician_id == 0 ? "true" : "false");
        st = md_records_report_update(s, rep, r->who.user_id, "review_opened", diff, err);
    }
    if (st == MD_OK) st = md_store_commit(s, err);
    if (st != MD_OK) md_store_rollback(s);
    return st;
}

/* -------------------------------------------------------------- handlers ---- */

typedef struct list_ctx {
    srv_request *r;
    size_t n;
    md_status st;
    md_error *err;
} list_ctx;

static bool report_row(const md_report_record *rep, void *ctx) {
    list_ctx *lc = ctx;
    srv_subject subj;
    md_error ignored = {0};
    if (subject_of_report(lc->r, rep, &subj, &ignored) != MD_OK) return true;
    if (srv_authz_check(lc->r, &subj, &ignored) != MD_OK) return true;
    if (lc->n++) md_buf_append_char(&lc->r->resp, ',');
    lc->st = srv_report_json(lc->r, rep, &lc->r->resp, lc->err);
    return lc->st == MD_OK;
}

md_status srv_handle_report_list(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st) return st;
    const char *q = srv_query_get(r, "status");
    const char *status = NULL;
    if (q) {
        if (strcmp(q, "pending") == 0) status = "pending_review";
        else if (strcmp(q, "reviewed") == 0) status = "in_review";
        else if (strcmp(q, "signed") == 0) status = "signed";
        else if (strcmp(q, "generating") == 0 || strcmp(q, "pending_review") == 0 || strcmp(q, "in_review") == 0)
            status = q;
        else return md_error_set(err, MD_ERR_INVALID_ARG, "status must be pending, reviewed or signed");
    }
    r->authz_checked = true; /* each row is checked */
    r->audit_type = "report";
    int64_t patient = r->who.role == MD_ROLE_PATIENT ? r->who.user_id : 0;
    list_ctx lc = {r, 0, MD_OK, err};
    md_buf_append_char(&r->resp, '[');
    st = md_records_report_each(r->srv->store, patient, status, 500, report_row, &lc, err);
    if (st == MD_OK) st = lc.st;
    md_buf_append_char(&r->resp, ']');
    return st ? st : srv_resp_ok(r, err);
}

md_status srv_handle_report_get(srv_request *r, md_error *err) {
    md_report_record rep;
    srv_subject subj;
    md_status st = load_report(r, &rep, &subj, err);
    if (st == MD_OK) st = open_review(r, &rep, &subj, err);
    if (st == MD_OK) st = md_records_report_get(r->srv->store, rep.id, &r->arena, &rep, err);
    if (st == MD_OK) st = srv_report_json(r, &rep, &r->resp, err);
    return st;
}

md_status srv_handle_report_stream(srv_request *r, md_error *err) {
    md_report_record rep;
    srv_subject subj;
    md_status st = load_report(r, &rep, &subj, err);
    if (st) return st;
    if (strcmp(rep.status, "generating") == 0) return srv_sse_report(r, rep.id, err);
    /* A finished report: the stream is one done event. */
    md_buf_append_str(&r->resp, "event: done\ndata: ");
    if ((st = srv_report_json(r, &rep, &r->resp, err))) return st;
    md_buf_append_str(&r->resp, "\n\n");
    r->resp_content_type = "text/event-stream";
    return srv_resp_ok(r, err);
}

/* The analysis module's report as stored, with the sections as edited. */
static md_status stored_report(const md_report_record *rep, md_report *out, md_error *err) {
    md_report_init(out);
    json_t *root = json_loads(rep->body_json ? rep->body_json : "{}", 0, NULL);
    json_t *secs = json_loads(rep->sections_json, 0, NULL);
    md_status st = MD_OK;
    if (!root || !secs || json_object_set_new(root, "sections", secs) != 0) {
        json_decref(secs);
        st = md_error_set(err, MD_ERR_INTERNAL, "the stored report is not valid JSON");
    }
    char *text = st == MD_OK ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (st == MD_OK && !text) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (st == MD_OK) {
        md_report_free(out);
        st = md_report_from_json(text, strlen(text), out, err);
    }
    free(text);
    return st;
}

md_status srv_handle_report_pdf(srv_request *r, md_error *err) {
    md_report_record rep;
    srv_subject subj;
    md_status st = load_report(r, &rep, &subj, err);
    if (st) return st;
    md_report doc;
    st = stored_report(&rep, &doc, err);
    if (st == MD_OK && md_report_pdf(&doc, &r->resp) != MD_OK) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    md_report_free(&doc);
    if (st) return st;
    r->resp_content_type = "application/pdf";
    return srv_resp_ok(r, err);
}

/* Edits, notes and signing need a written, unsigned report. */
static md_status not_signed(const md_report_record *rep, md_error *err) {
    if (strcmp(rep->status, "generating") == 0)
        return md_error_set(err, MD_ERR_CONFLICT, "the report is still being written");
    return strcmp(rep->status, "signed") == 0 ? md_error_set(err, MD_ERR_CONFLICT, "the report is signed") : MD_OK;
}

md_status srv_handle_report_patch(srv_request *r, md_error *err) {
    md_report_record rep;
    srv_subject subj;
    md_status st = load_report(r, &rep, &subj, err);
    if (st == MD_OK) st = require_clinician(r, err);
    if (st == MD_OK) st = not_signed(&rep, err);
    if (st) return st;
    json_t *body = NULL;
    if ((st = srv_body_object(r, k_patch_fields, &body, err))) return st;
    json_t *edits = json_object_get(body, "sections");
    json_t *annotations = json_object_get(body, "annotations");
    json_t *secs = json_loads(rep.sections_json, 0, NULL);
    if (!json_is_array(secs)) st = md_error_set(err, MD_ERR_INTERNAL, "stored sections are not an array");
    if (st == MD_OK && edits && !json_is_array(edits))
        st = md_error_set(err, MD_ERR_INVALID_ARG, "field 'sections' must be an array");
    if (st == MD_OK && !edits && !annotations)
        st = md_error_set(err, MD_ERR_INVALID_ARG, "give 'sections' and/or 'annotations'");
    /* Validate every edit before writing any. */
    size_t i;
    json_t *e;
    json_array_foreach(st == MD_OK && edits ? edits : NULL, i, e) {
        if (st) break;
        const char *key = NULL, *text = NULL;
        if (!json_is_object(e) || json_object_size(e) != 2) {
            st = md_error_set(err, MD_ERR_INVALID_ARG, "sections[%zu] must be {\"key\", \"text\"}", i);
            break;
        }
        if ((st = srv_field_str(e, "key", true, 64, &key, err))) break;
        if ((st = srv_field_str(e, "text", true, MAX_SECTION_BYTES, &text, err))) break;
        bool known = false;
        size_t j;
        json_t *s;
        json_array_foreach(secs, j, s) known = known || (json_string_value(json_object_get(s, "key")) &&
                                                         strcmp(json_string_value(json_object_get(s, "key")), key) == 0);
        if (!known) st = md_error_set(err, MD_ERR_INVALID_ARG, "sections[%zu].key: no section '%s'", i, key);
    }
    if (st == MD_OK) st = md_store_begin(r->srv->store, err);
    bool in_tx = st == MD_OK;
    if (st == MD_OK && strcmp(rep.status, "pending_review") == 0) {
        rep.status = "in_review";
        rep.reviewer_id = r->who.user_id;
    }
    json_array_foreach(st == MD_OK && edits ? edits : NULL, i, e) {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *text = json_string_value(json_object_get(e, "text"));
        size_t j;
        json_t *s;
        json_array_foreach(secs, j, s) {
            const char *k = json_string_value(json_object_get(s, "key"));
            if (!k || strcmp(k, key) != 0) continue;
            const char *old = json_string_value(json_object_get(s, "text"));
            if (old && strcmp(old, text) == 0) break; /* unchanged: no history entry */
            json_t *diff = json_pack("{s:s, s:s, s:s}", "key", key, "from", old ? old : "", "to", text);
            char *diff_text = diff ? json_dumps(diff, JSON_COMPACT) : NULL;
            json_decref(diff);
            json_object_set_new(s, "text", json_string(text));
            char *all = json_dumps(secs, JSON_COMPACT);
            if (!diff_text || !all) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
            if (st == MD_OK) {
                rep.sections_json = all;
                st = md_records_report_update(r->srv->store, &rep, r->who.user_id, "edited", diff_text, err);
                rep.sections_json = NULL;
            }
            free(all);
            free(diff_text);
            break;
        }
        if (st) break;
    }
    char *ann = NULL, *all = NULL;
    if (st == MD_OK) {
        all = json_dumps(secs, JSON_COMPACT);
        ann = annotations ? json_dumps(annotations, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (!all || (annotations && !ann)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    if (st == MD_OK) {
        rep.sections_json = all;
        if (annotations) rep.annotations_json = ann;
        st = md_records_report_update(r->srv->store, &rep, r->who.user_id, annotations ? "annotated" : NULL, NULL,
                                      err);
    }
    if (in_tx) {
        if (st == MD_OK) st = md_store_commit(r->srv->store, err);
        if (st != MD_OK) md_store_rollback(r->srv->store);
    }
    free(all);
    free(ann);
    json_decref(secs);
    json_decref(body);
    if (st == MD_OK) st = md_records_report_get(r->srv->store, rep.id, &r->arena, &rep, err);
    if (st == MD_OK) st = srv_report_json(r, &rep, &r->resp, err);
    return st;
}

md_status srv_handle_report_note(srv_request *r, md_error *err) {
    md_report_record rep;
    srv_subject subj;
    md_status st = load_report(r, &rep, &subj, err);
    if (st == MD_OK) st = require_clinician(r, err);
    if (st == MD_OK) st = not_signed(&rep, err);
    if (st) return st;
    json_t *body = NULL;
    if ((st = srv_body_object(r, k_note_fields, &body, err))) return st;
    const char *kind = NULL, *text = NULL;
    st = srv_field_str(body, "kind", true, 16, &kind, err);
    if (st == MD_OK) st = srv_field_str(body, "text", true, MAX_NOTE_BYTES, &text, err);
    if (st == MD_OK && strcmp(kind, "note") != 0 && strcmp(kind, "prescription") != 0)
        st = md_error_set(err, MD_ERR_INVALID_ARG, "field 'kind' must be \"note\" or \"prescription\"");
    if (st == MD_OK && !*text) st = md_error_set(err, MD_ERR_EMPTY, "field 'text' is empty");
    int64_t id = 0;
    if (st == MD_OK) st = md_records_note_add(r->srv->store, rep.id, r->who.user_id, kind, text, &id, err);
    if (st == MD_OK) {
        md_note_record n = {.id = id, .report_id = rep.id, .author_id = r->who.user_id, .kind = kind, .text = text};
        n.created_at_ms = wall_ms();
        r->http_status = 201;
        note_json(&r->resp, &n);
    }
    json_decref(body);
    return st ? st : srv_resp_ok(r, err);
}

md_status srv_handle_report_sign(srv_request *r, md_error *err) {
    md_status st = srv_body_none(r, err);
    if (st) return st;
    md_report_record rep;
    srv_subject subj;
    if ((st = load_report(r, &rep, &subj, err))) return st;
    if ((st = require_clinician(r, err)) || (st = not_signed(&rep, err))) return st;
    if (strcmp(rep.status, "generating") == 0)
        return md_error_set(err, MD_ERR_CONFLICT, "the report is still being written");
    rep.status = "signed";
    rep.signed_by = r->who.user_id;
    rep.signed_at_ms = wall_ms();
    if (!rep.reviewer_id) rep.reviewer_id = r->who.user_id;
    if ((st = md_records_report_update(r->srv->store, &rep, r->who.user_id, "signed", NULL, err))) return st;
    if ((st = md_records_report_get(r->srv->store, rep.id, &r->arena, &rep, err))) return st;
    return srv_report_json(r, &rep, &r->resp, err);
}

static bool history_row(const md_history_record *h, void *ctx) {
    note_ctx *hc = ctx;
    md_buf *b = hc->b;
    if (hc->n++) md_buf_append_char(b, ',');
    md_buf_append_str(b, "{\"at\":");
    srv_time_json(b, h->at_ms);
    md_buf_append_str(b, ",\"user_id\":");
    if (h->user_id) md_buf_appendf(b, "%lld", (long long)h->user_id);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"action\":");
    srv_json_str(b, h->action ? h->action : "");
    md_buf_appendf(b, ",\"diff\":%s}", h->diff_json ? h->diff_json : "null");
    return true;
}

md_status srv_handle_report_history(srv_request *r, md_error *err) {
    md_report_record rep;
    srv_subject subj;
    md_status st = load_report(r, &rep, &subj, err);
    if (st) return st;
    note_ctx hc = {&r->resp, 0};
    md_buf_append_char(&r->resp, '[');
    if ((st = md_records_history_each(r->srv->store, rep.id, history_row, &hc, err))) return st;
    md_buf_append_char(&r->resp, ']');
    return srv_resp_ok(r, err);
}

/* The clinician's notes as the JSON array md_analysis_answer reads. */
static bool notes_array_row(const md_note_record *n, void *ctx) {
    note_ctx *nc = ctx;
    if (nc->n++) md_buf_append_char(nc->b, ',');
    md_buf_append_str(nc->b, "{\"kind\":");
    srv_json_str(nc->b, n->kind ? n->kind : "note");
    md_buf_append_str(nc->b, ",\"text\":");
    srv_json_str(nc->b, n->text ? n->text : "");
    md_buf_append_char(nc->b, '}');
    return true;
}

md_status srv_handle_report_question(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st) return st;
    const char *stream = srv_query_get(r, "stream");
    if (stream && strcmp(stream, "1") != 0 && strcmp(stream, "0") != 0)
        return md_error_set(err, MD_ERR_INVALID_ARG, "stream must be 0 or 1");
    md_report_record rep;
    srv_subject subj;
    if ((st = load_report(r, &rep, &subj, err))) return st;
    if (!r->srv->analysis) return md_error_set(err, MD_ERR_UNAVAILABLE, "answers are unavailable on this server");
    json_t *body = NULL;
    if ((st = srv_body_object(r, k_question_fields, &body, err))) return st;
    const char *question = NULL;
    st = srv_field_str(body, "question", true, MD_ANALYSIS_MAX_QUESTION_BYTES, &question, err);
    md_report doc;
    md_report_init(&doc);
    md_buf notes, answer;
    md_buf_init(&notes);
    md_buf_init(&answer);
    bool on_topic = false;
    if (st == MD_OK) {
        md_report_free(&doc);
        st = stored_report(&rep, &doc, err);
    }
    if (st == MD_OK) {
        note_ctx nc = {&notes, 0};
        md_buf_append_char(&notes, '[');
        st = md_records_note_each(r->srv->store, rep.id, notes_array_row, &nc, err);
        md_buf_append_char(&notes, ']');
        if (st == MD_OK && !md_buf_ok(&notes)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    if (st == MD_OK)
        st = md_analysis_answer(r->srv->analysis, &doc, notes.data, question, NULL, NULL, &answer, &on_topic, err);
    if (st == MD_OK && !md_buf_ok(&answer)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (st == MD_OK)
        st = md_records_question_add(r->srv->store, rep.id, r->who.user_id, question, answer.data, on_topic, err);
    if (st == MD_OK) {
        bool sse = stream && strcmp(stream, "1") == 0;
        md_buf *b = &r->resp;
        if (sse) {
            r->resp_content_type = "text/event-stream";
            md_buf_append_str(b, "event: piece\ndata: {\"text\":");
            md_buf_append_json_str(b, answer.data, answer.len);
            md_buf_append_str(b, "}\n\nevent: done\ndata: ");
        }
        md_buf_append_str(b, "{\"answer\":");
        md_buf_append_json_str(b, answer.data, answer.len);
        md_buf_appendf(b, ",\"on_topic\":%s}", on_topic ? "true" : "false");
        if (sse) md_buf_append_str(b, "\n\n");
    }
    md_buf_free(&notes);
    md_buf_free(&answer);
    md_report_free(&doc);
    json_decref(body);
    return st ? st : srv_resp_ok(r, err);
}
