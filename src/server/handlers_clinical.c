/* handlers_clinical.c: the stateless clinical endpoints.
 *
 * POST /v1/parse, /v1/triage and /v1/diagnosis all answer with the whole assessment
 * object of `medify assess --json` (md_assessment_to_json; docs/cli.md): one shape, the
 * same field names as the CLI, and each endpoint's own part (observations + patient;
 * triage + emergency + red_flags; conditions + next_question + should_stop) is always
 * there with the notice. Computing only a part would save little: the parse is most of
 * the cost, and red flags must run on every answer anyway.
 *
 * POST /v1/explain answers as `medify explain --json`; POST /v1/suggest lists the next
 * observations worth asking about (md_suggest_questions). Every answer carries the notice.
 */
#include <string.h>

#include "server/server_internal.h"

#define SUGGEST_DEFAULT_RESULTS 5

void srv_json_str(md_buf *b, const char *s) { md_buf_append_json_str(b, s, strlen(s)); }

void srv_json_notice(md_buf *b) {
    md_buf_append_str(b, ",\"notice\":");
    md_buf_append_json_str(b, MD_CLINICAL_NOTICE, sizeof MD_CLINICAL_NOTICE - 1);
}

/* Decodes the request, builds the case and assesses it. On MD_OK the caller owns *c
 * and *a (md_case_free, md_assessment_free). */
static md_status assess_request(srv_request *r, uint32_t fields, srv_input *in, md_case **c, md_assessment *a,
                                md_error *err) {
    md_status st = srv_input_decode(r, fields, true, in, err);
    if (st != MD_OK) return st;
    st = srv_case_build(r->srv->kb, in, c, err);
    if (st != MD_OK) return st;
    st = md_assess(*c, md_assess_default_params(), a, err);
    if (st != MD_OK) {
        md_case_free(*c);
        *c = NULL;
        return st;
    }
    srv_metrics_assessment(&r->srv->metrics, r->srv->kb, a);
    return MD_OK;
}

static md_status handle_assessment(srv_request *r, md_error *err) {
    srv_input in;
    md_case *c = NULL;
    md_assessment a;
    md_status st = assess_request(r, SRV_FIELDS_CASE, &in, &c, &a, err);
    if (st != MD_OK) return st;
    st = md_assessment_to_json(c, &a, &r->resp);
    md_assessment_free(&a);
    md_case_free(c);
    if (st != MD_OK || !md_buf_ok(&r->resp)) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    return MD_OK;
}

md_status srv_handle_parse(srv_request *r, md_error *err) { return handle_assessment(r, err); }
md_status srv_handle_triage(srv_request *r, md_error *err) { return handle_assessment(r, err); }
md_status srv_handle_diagnosis(srv_request *r, md_error *err) { return handle_assessment(r, err); }

static void explain_items(md_buf *b, const md_kb *kb, const md_explain_item *items, size_t n) {
    md_buf_append_char(b, '[');
    for (size_t i = 0; i < n; i++) {
        const md_kb_observation *o = md_kb_observation_at(kb, items[i].obs);
        if (i) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        srv_json_str(b, o->id);
        md_buf_append_str(b, ",\"name\":");
        srv_json_str(b, o->name);
        md_buf_appendf(b, ",\"status\":\"%s\",\"likelihood_ratio\":%.4g}", md_obs_status_name(items[i].status),
                       items[i].likelihood_ratio);
    }
    md_buf_append_char(b, ']');
}

/* The same object as `medify explain --json` (src/cli/cmd_explain.c). */
md_status srv_handle_explain(srv_request *r, md_error *err) {
    const md_kb *kb = r->srv->kb;
    srv_input in;
    md_status st = srv_input_decode(r, SRV_FIELDS_CASE | SRV_FIELD_CONDITION, true, &in, err);
    if (st != MD_OK) return st;
    md_case *c = NULL;
    st = srv_case_build(kb, &in, &c, err);
    if (st != MD_OK) return st;
    md_explanation ex = {0};
    st = md_explain(c, (uint32_t)in.condition, &ex, err);
    if (st == MD_OK) {
        const md_kb_condition *cd = md_kb_condition_at(kb, (size_t)in.condition);
        md_buf *b = &r->resp;
        md_buf_append_str(b, "{\"condition\":{\"id\":");
        srv_json_str(b, cd->id);
        md_buf_append_str(b, ",\"name\":");
        srv_json_str(b, cd->name);
        md_buf_appendf(b, "},\"probability\":%.4f,\"prior\":%.4f,\"supporting\":", ex.probability, ex.prior);
        explain_items(b, kb, ex.supporting, ex.n_supporting);
        md_buf_append_str(b, ",\"opposing\":");
        explain_items(b, kb, ex.opposing, ex.n_opposing);
        md_buf_append_str(b, ",\"unasked\":[");
        for (size_t i = 0; i < ex.n_unasked; i++) {
            if (i) md_buf_append_char(b, ',');
            srv_json_str(b, md_kb_observation_at(kb, ex.unasked[i])->id);
        }
        md_buf_append_char(b, ']');
        srv_json_notice(b);
        md_buf_append_char(b, '}');
        if (!md_buf_ok(b)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    md_explanation_free(&ex);
    md_case_free(c);
    return st;
}

md_status srv_handle_suggest(srv_request *r, md_error *err) {
    const md_kb *kb = r->srv->kb;
    srv_input in;
    md_case *c = NULL;
    md_assessment a;
    md_status st = assess_request(r, SRV_FIELDS_CASE | SRV_FIELD_MAX_RESULTS, &in, &c, &a, err);
    if (st != MD_OK) return st;
    size_t n_sug = 0;
    size_t max = in.max_results > 0 ? (size_t)in.max_results : SUGGEST_DEFAULT_RESULTS;
    md_suggestion *sug = md_arena_calloc(&r->arena, max, sizeof *sug);
    st = sug ? md_suggest_questions(c, &a, 0.0, sug, max, &n_sug, err)
             : md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (st == MD_OK) {
        md_buf *b = &r->resp;
        md_buf_append_str(b, "{\"suggestions\":[");
        for (size_t i = 0; i < n_sug; i++) {
            const md_kb_observation *o = md_kb_observation_at(kb, sug[i].obs);
            if (i) md_buf_append_char(b, ',');
            md_buf_append_str(b, "{\"id\":");
            srv_json_str(b, o->id);
            md_buf_append_str(b, ",\"name\":");
            srv_json_str(b, o->name);
            md_buf_append_str(b, ",\"kind\":");
            srv_json_str(b, srv_obs_kind_name(o->kind));
            md_buf_append_str(b, ",\"question\":");
            srv_json_str(b, o->question ? o->question : o->name);
            md_buf_appendf(b, ",\"information_gain\":%.4f}", sug[i].information_gain_bits);
        }
        /* the emergency status travels with every patient-facing answer */
        md_buf_appendf(b, "],\"emergency\":%s,\"triage\":{\"level\":", a.emergency ? "true" : "false");
        srv_json_str(b, md_triage_level_name(a.level));
        md_buf_append_str(b, ",\"advice\":");
        srv_json_str(b, md_triage_level_advice(a.level));
        md_buf_append_char(b, '}');
        srv_json_notice(b);
        md_buf_append_char(b, '}');
        if (!md_buf_ok(b)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    md_assessment_free(&a);
    md_case_free(c);
    return st;
}
