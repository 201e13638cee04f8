/* handlers_interviews.c: the symptom interview over HTTP, resumable by any process.
 *
 *   POST /v1/interviews {age?, sex?}                 201 interview
 *   GET  /v1/interviews, /v1/interviews/{id}         interview(s)
 *   POST /v1/interviews/{id}/messages {text} | {answer:{question_id, choice|value}}
 *        → {interview_id, reply:{text}, emergency, next_question, triage, should_stop, messages}
 *   POST /v1/interviews/{id}/finish                  {interview, summary, report}
 *
 * State: the interview row holds the events (free-text turns and answers, in order)
 * and the conversation. Each request rebuilds the clinical case by replaying the
 * events through the engine exactly as `medify chat` drives it (src/cli/cmd_chat.c):
 * a text turn is parsed into the case; an answer is applied to the question the
 * engine asks at that point, after marking it asked. The engine is deterministic, so
 * the replayed case, and the question pending now, are what they were when the
 * patient saw them. No process keeps interview memory; a row version makes two
 * concurrent writers retry instead of losing a turn.
 *
 * A message is an answer when a question is pending; free text then goes to
 * md_case_answer, which also parses new findings from it. Red flags are checked on
 * every turn; an emergency is reported at once with its guidance.
 *
 * Patient text goes to the store and back to its owner only; never to a log.
 */
#include <stdlib.h>
#include <string.h>

#include "server/product.h"

#define MAX_MESSAGE_BYTES (8 * 1024) /* one turn of a chat; the parser's limit is larger */
#define UPDATE_RETRIES 3

static const char *const k_create_fields[] = {"age", "sex", NULL};
static const char *const k_message_fields[] = {"text", "answer", NULL};
static const char *const k_answer_fields[] = {"question_id", "choice", "value", NULL};

static const char k_greeting[] = "Hello. Please describe your symptoms in your own words.";
static const char k_enough[] = "Thank you, that is all I need to ask. Finish the interview to see your summary.";

/* ------------------------------------------------------------- replaying ---- */

typedef struct interview_case {
    md_case *c;
    md_assessment a; /* valid when have_a */
    bool have_a;
    bool has_text;   /* at least one free-text turn */
} interview_case;

static void interview_case_free(interview_case *ic) {
    if (ic->have_a) md_assessment_free(&ic->a);
    md_case_free(ic->c);
    memset(ic, 0, sizeof *ic);
}

static md_status assess(interview_case *ic, md_error *err) {
    if (ic->have_a) md_assessment_free(&ic->a);
    ic->have_a = false;
    md_status st = md_assess(ic->c, md_assess_default_params(), &ic->a, err);
    ic->have_a = st == MD_OK;
    return st;
}

static bool pending(const interview_case *ic) {
    return ic->has_text && ic->have_a && ic->a.has_question && !ic->a.should_stop;
}

/* Applies one answer: to the pending question when it is the one answered, else (the
 * knowledge base changed since) as free text after marking the question asked. */
static md_status apply_answer(interview_case *ic, const char *qid, const char *reply, bool strict, md_error *err) {
    md_status st = assess(ic, err);
    if (st) return st;
    if (pending(ic) && strcmp(ic->a.question.id, qid) == 0) {
        if ((st = md_case_mark_asked(ic->c, qid))) return md_error_set(err, st, "out of memory");
        md_error aerr = {0};
        st = md_case_answer(ic->c, &ic->a.question, reply, strlen(reply), &aerr);
        if (st == MD_ERR_NOMEM || (strict && st != MD_OK)) return md_error_set(err, st, "%s", aerr.message);
        return MD_OK;
    }
    if (strict) return md_error_set(err, MD_ERR_CONFLICT, "that question is no longer pending");
    if ((st = md_case_mark_asked(ic->c, qid))) return md_error_set(err, st, "out of memory");
    md_error terr = {0};
    st = md_case_add_text(ic->c, reply, strlen(reply), &terr);
    return st == MD_ERR_NOMEM ? md_error_set(err, st, "out of memory") : MD_OK;
}

static md_status apply_text(interview_case *ic, const char *text, bool strict, md_error *err) {
    md_error terr = {0};
    md_status st = md_case_add_text(ic->c, text, strlen(text), &terr);
    if (st == MD_OK) {
        ic->has_text = true;
        return MD_OK;
    }
    if (st == MD_ERR_NOMEM || strict)
        return md_error_set(err, st, "field 'text': %s", terr.message[0] ? terr.message : md_status_message(st));
    return MD_OK;
}

/* Rebuilds the case from the stored events and assesses it. */
static md_status replay(const md_kb *kb, const md_interview_record *rec, interview_case *ic, md_error *err) {
    memset(ic, 0, sizeof *ic);
    ic->c = md_case_new(kb);
    if (!ic->c) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    md_sex sex = !rec->sex ? MD_SEX_UNKNOWN : strcmp(rec->sex, "female") == 0 ? MD_SEX_FEMALE : MD_SEX_MALE;
    md_case_set_patient(ic->c, rec->age_years, sex);
    json_error_t jerr;
    json_t *events = json_loads(rec->events_json, 0, &jerr);
    if (!json_is_array(events)) {
        json_decref(events);
        return md_error_set(err, MD_ERR_INTERNAL, "stored interview events are not a JSON array");
    }
    md_status st = MD_OK;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *k = json_string_value(json_object_get(ev, "k"));
        if (k && strcmp(k, "text") == 0) {
            const char *t = json_string_value(json_object_get(ev, "text"));
            if (t) st = apply_text(ic, t, false, err);
        } else if (k && strcmp(k, "answer") == 0) {
            const char *q = json_string_value(json_object_get(ev, "q"));
            const char *reply = json_string_value(json_object_get(ev, "reply"));
            if (q && reply) st = apply_answer(ic, q, reply, false, err);
        }
        if (st) break;
    }
    json_decref(events);
    if (st == MD_OK && ic->has_text) st = assess(ic, err);
    return st;
}

md_status srv_interview_case(const md_kb *kb, const md_interview_record *rec, md_case **out, md_error *err) {
    interview_case ic;
    md_status st = replay(kb, rec, &ic, err);
    if (st == MD_OK && !ic.has_text) st = md_error_set(err, MD_ERR_EMPTY, "the interview has no description");
    if (st == MD_OK) {
        *out = ic.c;
        ic.c = NULL;
    }
    interview_case_free(&ic);
    return st;
}

/* --------------------------------------------------------------- output ---- */

static const char *triage_label(md_triage_level l) {
    static const char *const k_labels[MD_TRIAGE_COUNT] = {
        "Self-care", "See a doctor", "See a doctor within 24 hours", "Emergency care now",
        "Call an ambulance now"};
    return (unsigned)l < MD_TRIAGE_COUNT ? k_labels[l] : "Unknown";
}

static void triage_json(md_buf *b, const interview_case *ic) {
    if (!ic->have_a) {
        md_buf_append_str(b, "null");
        return;
    }
    md_buf_appendf(b, "{\"level\":\"%s\",\"label\":", md_triage_level_name(ic->a.level));
    srv_json_str(b, triage_label(ic->a.level));
    md_buf_append_str(b, ",\"advice\":");
    srv_json_str(b, md_triage_level_advice(ic->a.level));
    md_buf_append_char(b, '}');
}

static void emergency_json(md_buf *b, const md_kb *kb, const interview_case *ic) {
    bool active = ic->have_a && ic->a.emergency;
    md_buf_appendf(b, "{\"active\":%s,\"level\":", active ? "true" : "false");
    if (ic->have_a && ic->a.n_redflags) md_buf_appendf(b, "\"%s\"", md_triage_level_name(ic->a.level));
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"flags\":[");
    const char *guidance = NULL;
    for (size_t i = 0; ic->have_a && i < ic->a.n_redflags; i++) {
        const md_kb_redflag *rf = md_kb_redflag_at(kb, ic->a.redflags[i].redflag);
        if (i) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        srv_json_str(b, rf->id);
        md_buf_append_str(b, ",\"name\":");
        srv_json_str(b, rf->name);
        md_buf_append_str(b, ",\"advice\":");
        srv_json_str(b, rf->guidance);
        md_buf_append_char(b, '}');
        if (!guidance) guidance = rf->guidance;
    }
    md_buf_append_str(b, "],\"guidance\":");
    if (guidance) srv_json_str(b, guidance);
    else md_buf_append_str(b, "null");
    md_buf_append_char(b, '}');
}

static void question_json(md_buf *b, const interview_case *ic) {
    if (!pending(ic)) {
        md_buf_append_str(b, "null");
        return;
    }
    const md_next_question *q = &ic->a.question;
    md_buf_append_str(b, "{\"id\":");
    srv_json_str(b, q->id);
    md_buf_append_str(b, ",\"text\":");
    srv_json_str(b, q->text ? q->text : "");
    md_buf_appendf(b, ",\"type\":\"%s\",\"choices\":[", md_question_type_name(q->type));
    if (q->type == MD_QUESTION_TYPE_YESNO) {
        md_buf_append_str(b, "{\"id\":\"yes\",\"label\":\"Yes\"},{\"id\":\"no\",\"label\":\"No\"},"
                             "{\"id\":\"unsure\",\"label\":\"Not sure\"}");
    } else if (q->type == MD_QUESTION_TYPE_CHOICE) {
        for (size_t i = 0; i < q->n_choices && q->choices; i++) {
            md_buf_appendf(b, "%s{\"id\":\"%zu\",\"label\":", i ? "," : "", i + 1);
            srv_json_str(b, q->choices[i]);
            md_buf_append_char(b, '}');
        }
    }
    md_buf_append_char(b, ']');
    if (q->type == MD_QUESTION_TYPE_NUMBER) {
        md_buf_appendf(b, ",\"min\":%g,\"max\":%g,\"unit\":", q->min, q->max);
        if (q->unit) srv_json_str(b, q->unit);
        else md_buf_append_str(b, "null");
    }
    md_buf_append_char(b, '}');
}

/* The state kept with the row for listing without replay: triage, emergency, question. */
static void state_json(md_buf *b, const md_kb *kb, const interview_case *ic) {
    md_buf_append_str(b, "{\"triage\":");
    triage_json(b, ic);
    md_buf_append_str(b, ",\"emergency\":");
    emergency_json(b, kb, ic);
    md_buf_append_str(b, ",\"next_question\":");
    question_json(b, ic);
    md_buf_appendf(b, ",\"should_stop\":%s}", ic->have_a && ic->a.should_stop ? "true" : "false");
}

/* Copies a member of the stored state object (raw JSON) into b, or null. */
static void state_member(md_buf *b, const char *state, const char *name) {
    json_t *s = json_loads(state ? state : "{}", 0, NULL);
    json_t *v = json_object_get(s, name);
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    md_buf_append_str(b, text ? text : "null");
    free(text);
    json_decref(s);
}

void srv_interview_json(md_buf *b, const md_interview_record *rec) {
    md_buf_appendf(b, "{\"id\":%lld,\"patient_id\":%lld,\"status\":", (long long)rec->id, (long long)rec->patient_id);
    srv_json_str(b, rec->status);
    md_buf_append_str(b, ",\"created_at\":");
    srv_time_json(b, rec->created_at_ms);
    md_buf_append_str(b, ",\"updated_at\":");
    srv_time_json(b, rec->updated_at_ms);
    md_buf_append_str(b, ",\"age\":");
    if (rec->age_years >= 0) md_buf_appendf(b, "%g", rec->age_years);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"sex\":");
    if (rec->sex) srv_json_str(b, rec->sex);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"messages\":");
    md_buf_append_str(b, rec->messages_json);
    md_buf_append_str(b, ",\"triage\":");
    state_member(b, rec->state_json, "triage");
    md_buf_append_str(b, ",\"emergency\":");
    state_member(b, rec->state_json, "emergency");
    md_buf_append_str(b, ",\"next_question\":");
    state_member(b, rec->state_json, "next_question");
    md_buf_append_char(b, '}');
}

/* ---------------------------------------------------------------- access ---- */

md_status srv_subject_of(srv_request *r, int64_t patient_id, srv_subject *out, md_error *err) {
    memset(out, 0, sizeof *out);
    out->patient_id = patient_id;
    md_user_record u;
    md_status st = md_account_get(r->srv->store, patient_id, &r->arena, &u, err);
    if (st == MD_ERR_NOT_FOUND) return MD_OK; /* a record of a deleted user: nobody's but admins' */
    if (st) return st;
    out->clinician_id = u.clinician_id;
    return MD_OK;
}

/* Loads interview {id} of the path and checks the caller may act on it. */
static md_status load_interview(srv_request *r, md_interview_record *rec, md_error *err) {
    int64_t id = 0;
    md_status st = srv_path_id(r, 2, &id, err);
    if (st) return st;
    r->audit_type = "interview";
    r->audit_id = id;
    if ((st = md_records_interview_get(r->srv->store, id, &r->arena, rec, err))) {
        if (st == MD_ERR_NOT_FOUND) r->authz_checked = true; /* nothing to see */
        return st == MD_ERR_NOT_FOUND ? md_error_set(err, st, "no interview %lld", (long long)id) : st;
    }
    srv_subject subj;
    if ((st = srv_subject_of(r, rec->patient_id, &subj, err))) return st;
    return srv_authz_check(r, &subj, err);
}

/* -------------------------------------------------------------- handlers ---- */

md_status srv_handle_interview_create(srv_request *r, md_error *err) {
    json_t *body = NULL;
    md_status st = r->body.len ? srv_body_object(r, k_create_fields, &body, err) : MD_OK;
    double age = -1;
    bool has_age = false;
    const char *sex = NULL;
    if (st == MD_OK && body) st = srv_field_num(body, "age", 0, 130, &age, &has_age, err);
    if (st == MD_OK && body) st = srv_field_str(body, "sex", false, 16, &sex, err);
    if (st == MD_OK && sex && strcmp(sex, "female") != 0 && strcmp(sex, "male") != 0)
        st = md_error_set(err, MD_ERR_INVALID_ARG, "field 'sex' must be \"female\" or \"male\"");
    int64_t id = 0;
    /* The row and its greeting are one transaction. */
    bool in_tx = st == MD_OK && (st = md_store_begin(r->srv->store, err)) == MD_OK;
    if (st == MD_OK) st = md_records_interview_create(r->srv->store, r->who.user_id, has_age ? age : -1, sex, &id, err);
    json_decref(body);
    if (st) {
        if (in_tx) md_store_rollback(r->srv->store);
        return st;
    }
    r->audit_type = "interview";
    r->audit_id = id;
    /* The greeting is the first message; the row is new, so its version is 1. */
    md_interview_record rec;
    if ((st = md_records_interview_get(r->srv->store, id, &r->arena, &rec, err))) {
        md_store_rollback(r->srv->store);
        return st;
    }
    md_buf msgs;
    md_buf_init(&msgs);
    md_buf_append_str(&msgs, "[{\"role\":\"medify\",\"text\":");
    srv_json_str(&msgs, k_greeting);
    md_buf_append_str(&msgs, ",\"at\":");
    srv_time_json(&msgs, rec.created_at_ms);
    md_buf_append_str(&msgs, "}]");
    if (!md_buf_ok(&msgs)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (st == MD_OK) {
        rec.messages_json = msgs.data;
        st = md_records_interview_update(r->srv->store, &rec, err);
    }
    md_buf_free(&msgs);
    if (st == MD_OK) st = md_store_commit(r->srv->store, err);
    if (st != MD_OK) md_store_rollback(r->srv->store);
    if (st == MD_OK) st = md_records_interview_get(r->srv->store, id, &r->arena, &rec, err);
    if (st) return st;
    atomic_fetch_add_explicit(&r->srv->metrics.interviews_started, 1, memory_order_relaxed);
    r->http_status = 201;
    srv_interview_json(&r->resp, &rec);
    return srv_resp_ok(r, err);
}

typedef struct list_ctx {
    srv_request *r;
    size_t n;
    md_status st;
    md_error *err;
} list_ctx;

static bool interview_row(const md_interview_record *rec, void *ctx) {
    list_ctx *lc = ctx;
    srv_subject subj;
    md_error ignored = {0};
    if (srv_subject_of(lc->r, rec->patient_id, &subj, &ignored) != MD_OK) return true;
    if (srv_authz_check(lc->r, &subj, &ignored) != MD_OK) return true;
    if (lc->n++) md_buf_append_char(&lc->r->resp, ',');
    srv_interview_json(&lc->r->resp, rec);
    return true;
}

md_status srv_handle_interview_list(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st) return st;
    r->authz_checked = true; /* each row is checked below */
    /* Patients: their own. Clinicians: every row passes the CARE rule or is skipped. */
    int64_t patient = r->who.role == MD_ROLE_PATIENT ? r->who.user_id : 0;
    list_ctx lc = {r, 0, MD_OK, err};
    md_buf_append_char(&r->resp, '[');
    st = md_records_interview_each(r->srv->store, patient, 500, interview_row, &lc, err);
    md_buf_append_char(&r->resp, ']');
    r->audit_type = "interview";
    return st ? st : srv_resp_ok(r, err);
}

md_status srv_handle_interview_get(srv_request *r, md_error *err) {
    md_interview_record rec;
    md_status st = load_interview(r, &rec, err);
    if (st) return st;
    srv_interview_json(&r->resp, &rec);
    return srv_resp_ok(r, err);
}

/* The parsed message: either text, or an answer's question id and reply string. */
typedef struct message_in {
    const char *text;
    const char *question_id;
    char reply[64];
    const char *shown; /* what the patient's message reads as in the conversation */
} message_in;

static md_status parse_message(srv_request *r, json_t *body, message_in *m, md_error *err) {
    (void)r;
    memset(m, 0, sizeof *m);
    md_status st = srv_field_str(body, "text", false, MAX_MESSAGE_BYTES, &m->text, err);
    if (st) return st;
    json_t *ans = json_object_get(body, "answer");
    if (!!m->text == !!ans) return md_error_set(err, MD_ERR_INVALID_ARG, "give either 'text' or 'answer'");
    if (m->text) {
        m->shown = m->text;
        return MD_OK;
    }
    if (!json_is_object(ans)) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'answer' must be an object");
    const char *key;
    json_t *val;
    json_object_foreach(ans, key, val) {
        bool ok = false;
        for (size_t i = 0; k_answer_fields[i]; i++) ok = ok || strcmp(key, k_answer_fields[i]) == 0;
        if (!ok) return md_error_set(err, MD_ERR_INVALID_ARG, "unknown field in 'answer'");
    }
    if ((st = srv_field_str(ans, "question_id", true, 95, &m->question_id, err))) return st;
    const char *choice = NULL;
    if ((st = srv_field_str(ans, "choice", false, 32, &choice, err))) return st;
    double value = 0;
    bool has_value = false;
    if ((st = srv_field_num(ans, "value", -1e9, 1e9, &value, &has_value, err))) return st;
    if (!!choice == has_value) return md_error_set(err, MD_ERR_INVALID_ARG, "give either 'answer.choice' or 'answer.value'");
    if (choice) {
        if (strcmp(choice, "unsure") == 0) snprintf(m->reply, sizeof m->reply, "not sure");
        else snprintf(m->reply, sizeof m->reply, "%s", choice);
    } else {
        snprintf(m->reply, sizeof m->reply, "%.10g", value);
    }
    return MD_OK;
}

/* Checks a structured answer against the pending question and fills the label shown. */
static md_status check_answer(const interview_case *ic, message_in *m, md_error *err) {
    if (!pending(ic) || strcmp(ic->a.question.id, m->question_id) != 0)
        return md_error_set(err, MD_ERR_CONFLICT, "question '%s' is not the one pending", m->question_id);
    const md_next_question *q = &ic->a.question;
    bool number = strspn(m->reply, "-0123456789.eE+") == strlen(m->reply) && m->reply[0];
    if (q->type == MD_QUESTION_TYPE_YESNO) {
        if (strcmp(m->reply, "yes") == 0) m->shown = "Yes";
        else if (strcmp(m->reply, "no") == 0) m->shown = "No";
        else if (strcmp(m->reply, "not sure") == 0) m->shown = "Not sure";
        else return md_error_set(err, MD_ERR_INVALID_ARG, "'answer.choice' must be yes, no or unsure");
    } else if (q->type == MD_QUESTION_TYPE_CHOICE) {
        size_t n = strspn(m->reply, "0123456789");
        long k = n && !m->reply[n] && n < 4 ? strtol(m->reply, NULL, 10) : 0;
        if (k < 1 || (size_t)k > q->n_choices || !q->choices)
            return md_error_set(err, MD_ERR_INVALID_ARG, "'answer.choice' must be a choice id from 1 to %zu",
                                q->n_choices);
        m->shown = q->choices[k - 1];
    } else {
        if (!number) return md_error_set(err, MD_ERR_INVALID_ARG, "this question needs 'answer.value'");
        double v = strtod(m->reply, NULL);
        if (v < q->min || v > q->max)
            return md_error_set(err, MD_ERR_INVALID_ARG, "'answer.value' must be from %g to %g", q->min, q->max);
        m->shown = m->reply;
    }
    return MD_OK;
}

/* Appends {"role","text","at"} to a JSON array held as text; returns a new string
 * (free with free()) or NULL. */
static char *append_json(const char *array_json, json_t *item) {
    json_t *arr = json_loads(array_json, 0, NULL);
    if (!json_is_array(arr) || json_array_append(arr, item) != 0) {
        json_decref(arr);
        return NULL;
    }
    char *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return out;
}

static json_t *message_obj(const char *role, const char *text, const char *at) {
    return json_pack("{s:s, s:s, s:s}", "role", role, "text", text, "at", at);
}

/* The medify reply after a turn: new emergency guidance first, then the question. */
static void reply_text(md_buf *b, const md_kb *kb, const interview_case *ic, const char *prev_state) {
    if (ic->have_a && ic->a.n_redflags) {
        for (size_t i = 0; i < ic->a.n_redflags; i++) {
            const md_kb_redflag *rf = md_kb_redflag_at(kb, ic->a.redflags[i].redflag);
            char needle[128];
            snprintf(needle, sizeof needle, "\"id\":\"%s\"", rf->id);
            if (prev_state && strstr(prev_state, needle)) continue; /* shown before */
            md_buf_appendf(b, "%s: %s ", rf->name, rf->guidance);
        }
    }
    if (pending(ic)) md_buf_append_str(b, ic->a.question.text ? ic->a.question.text : "");
    else if (ic->has_text) md_buf_append_str(b, k_enough);
    else md_buf_append_str(b, k_greeting);
}

static md_status message_once(srv_request *r, json_t *body, bool *retry, md_error *err) {
    const md_kb *kb = r->srv->kb;
    md_interview_record rec;
    md_status st = load_interview(r, &rec, err);
    if (st) return st;
    if (strcmp(rec.status, "open") != 0) return md_error_set(err, MD_ERR_CONFLICT, "the interview is finished");
    message_in m;
    if ((st = parse_message(r, body, &m, err))) return st;
    interview_case ic;
    if ((st = replay(kb, &rec, &ic, err))) {
        interview_case_free(&ic);
        return st;
    }
    json_t *event = NULL;
    if (m.text && (!ic.has_text || !pending(&ic))) {
        st = apply_text(&ic, m.text, true, err);
        event = json_pack("{s:s, s:s}", "k", "text", "text", m.text);
    } else {
        const char *qid = m.question_id ? m.question_id : ic.a.question.id;
        const char *reply = m.text ? m.text : m.reply;
        if (!m.text) st = check_answer(&ic, &m, err);
        char qid_copy[96];
        snprintf(qid_copy, sizeof qid_copy, "%s", qid);
        if (st == MD_OK) st = apply_answer(&ic, qid_copy, reply, true, err);
        if (st == MD_OK) event = json_pack("{s:s, s:s, s:s}", "k", "answer", "q", qid_copy, "reply", reply);
    }
    if (st == MD_OK) st = assess(&ic, err);
    char at[32];
    md_clock_wall_iso8601(at);
    md_buf reply, state;
    md_buf_init(&reply);
    md_buf_init(&state);
    char *events = NULL, *msgs = NULL, *msgs2 = NULL;
    if (st == MD_OK) {
        reply_text(&reply, kb, &ic, rec.state_json);
        state_json(&state, kb, &ic);
        json_t *pm = message_obj("patient", m.shown ? m.shown : "", at);
        json_t *mm = md_buf_ok(&reply) ? message_obj("medify", reply.data, at) : NULL;
        events = event ? append_json(rec.events_json, event) : NULL;
        msgs = pm ? append_json(rec.messages_json, pm) : NULL;
        msgs2 = msgs && mm ? append_json(msgs, mm) : NULL;
        json_decref(pm);
        json_decref(mm);
        if (!events || !msgs2 || !md_buf_ok(&state)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    if (st == MD_OK) {
        rec.events_json = events;
        rec.messages_json = msgs2;
        rec.state_json = state.data;
        st = md_records_interview_update(r->srv->store, &rec, err);
        if (st == MD_ERR_CONFLICT) *retry = true;
    }
    if (st == MD_OK) {
        md_buf *b = &r->resp;
        md_buf_appendf(b, "{\"interview_id\":%lld,\"reply\":{\"text\":", (long long)rec.id);
        srv_json_str(b, reply.data);
        md_buf_append_str(b, "},\"emergency\":");
        emergency_json(b, kb, &ic);
        md_buf_append_str(b, ",\"next_question\":");
        question_json(b, &ic);
        md_buf_append_str(b, ",\"triage\":");
        triage_json(b, &ic);
        md_buf_appendf(b, ",\"should_stop\":%s,\"messages\":%s}", ic.have_a && ic.a.should_stop ? "true" : "false",
                       msgs2);
    }
    free(events);
    free(msgs);
    free(msgs2);
    json_decref(event);
    md_buf_free(&reply);
    md_buf_free(&state);
    interview_case_free(&ic);
    return st ? st : srv_resp_ok(r, err);
}

md_status srv_handle_interview_message(srv_request *r, md_error *err) {
    json_t *body = NULL;
    md_status st = srv_body_object(r, k_message_fields, &body, err);
    if (st) return st;
    for (int attempt = 0; attempt < UPDATE_RETRIES; attempt++) {
        bool retry = false;
        md_buf_clear(&r->resp);
        st = message_once(r, body, &retry, err);
        if (!retry) break;
    }
    json_decref(body);
    return st;
}

md_status srv_handle_interview_finish(srv_request *r, md_error *err) {
    md_status st = srv_body_none(r, err);
    if (st) return st;
    md_interview_record rec;
    if ((st = load_interview(r, &rec, err))) return st;
    if (strcmp(rec.status, "open") != 0) return md_error_set(err, MD_ERR_CONFLICT, "the interview is already finished");
    interview_case ic;
    if ((st = replay(r->srv->kb, &rec, &ic, err)) == MD_OK && !ic.has_text)
        st = md_error_set(err, MD_ERR_CONFLICT, "describe the symptoms before finishing the interview");
    md_buf summary;
    md_buf_init(&summary);
    if (st == MD_OK && md_summary_to_json(ic.c, &ic.a, &summary) != MD_OK)
        st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    /* Finishing and creating the report are one transaction: a crash leaves either an
     * open interview or a finished one with its report. */
    if (st == MD_OK) st = md_store_begin(r->srv->store, err);
    if (st == MD_OK) {
        rec.status = "finished";
        st = md_records_interview_update(r->srv->store, &rec, err);
        int64_t report_id = 0;
        if (st == MD_OK) st = srv_report_generate(r, rec.id, rec.patient_id, ic.c, &report_id, err);
        if (st == MD_OK) st = md_store_commit(r->srv->store, err);
        if (st != MD_OK) md_store_rollback(r->srv->store);
        md_report_record rep;
        if (st == MD_OK) st = md_records_report_get(r->srv->store, report_id, &r->arena, &rep, err);
        if (st == MD_OK) st = md_records_interview_get(r->srv->store, rec.id, &r->arena, &rec, err);
        if (st == MD_OK) {
            srv_metrics_assessment(&r->srv->metrics, r->srv->kb, &ic.a);
            atomic_fetch_add_explicit(&r->srv->metrics.interviews_finished, 1, memory_order_relaxed);
            md_buf_append_str(&r->resp, "{\"interview\":");
            srv_interview_json(&r->resp, &rec);
            md_buf_append_str(&r->resp, ",\"summary\":");
            md_buf_append(&r->resp, summary.data, summary.len);
            md_buf_append_str(&r->resp, ",\"report\":");
            st = srv_report_json(r, &rep, &r->resp, err);
            md_buf_append_char(&r->resp, '}');
        }
    }
    md_buf_free(&summary);
    interview_case_free(&ic);
    return st ? st : srv_resp_ok(r, err);
}
