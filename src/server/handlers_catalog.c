/* handlers_catalog.c: what the knowledge base knows, and the API's own description.
 *
 *   GET /v1/conditions[?system=S]   {"conditions":[{id,name,icd10,system,severity,triage}],
 *                                    "count":N,"notice":...}
 *   GET /v1/symptoms[?kind=K]       {"observations":[{id,name,kind,question}],"count":N,
 *                                    "notice":...}
 *   GET /v1/openapi.yaml            docs/openapi.yaml, embedded at build time
 *
 * An unknown `system` matches nothing (an empty list: systems are free-form KB text);
 * an unknown `kind` is a 400, since kinds are a closed set.
 */
#include <string.h>

#include "server/server_internal.h"

/* Written by tools/embed_files.c from docs/openapi.yaml (see CMakeLists.txt). */
typedef struct md_embedded_file {
    const char *path;
    const char *data;
    size_t n_bytes;
} md_embedded_file;
extern const md_embedded_file md_openapi_embedded[];
extern const size_t md_openapi_embedded_count;

static const char *const k_kind_names[] = {"symptom", "sign", "risk_factor", "history"};
_Static_assert(MD_ARRAY_LEN(k_kind_names) == MD_OBS_KIND_HISTORY + 1, "one name per md_obs_kind");

const char *srv_obs_kind_name(md_obs_kind kind) {
    return (size_t)kind < MD_ARRAY_LEN(k_kind_names) ? k_kind_names[kind] : "unknown";
}

bool srv_obs_kind_parse(const char *name, md_obs_kind *out) {
    for (size_t i = 0; i < MD_ARRAY_LEN(k_kind_names); i++)
        if (strcmp(name, k_kind_names[i]) == 0) {
            *out = (md_obs_kind)i;
            return true;
        }
    return false;
}

md_status srv_handle_conditions(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st != MD_OK) return st;
    const md_kb *kb = r->srv->kb;
    const char *system = srv_query_get(r, "system");
    md_buf *b = &r->resp;
    md_buf_append_str(b, "{\"conditions\":[");
    size_t n = 0;
    for (size_t i = 0; i < md_kb_n_conditions(kb); i++) {
        const md_kb_condition *c = md_kb_condition_at(kb, i);
        if (system && (!c->system || strcmp(system, c->system) != 0)) continue;
        if (n++) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        srv_json_str(b, c->id);
        md_buf_append_str(b, ",\"name\":");
        srv_json_str(b, c->name);
        md_buf_append_str(b, ",\"icd10\":[");
        for (size_t k = 0; k < c->n_icd10; k++) {
            if (k) md_buf_append_char(b, ',');
            srv_json_str(b, c->icd10[k]);
        }
        md_buf_append_str(b, "],\"system\":");
        if (c->system)
            srv_json_str(b, c->system);
        else
            md_buf_append_str(b, "null");
        md_buf_append_str(b, ",\"severity\":");
        srv_json_str(b, md_severity_name(c->severity));
        md_buf_append_str(b, ",\"triage\":");
        srv_json_str(b, md_triage_level_name(c->triage));
        md_buf_append_char(b, '}');
    }
    md_buf_appendf(b, "],\"count\":%zu", n);
    srv_json_notice(b);
    md_buf_append_char(b, '}');
    return md_buf_ok(b) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

md_status srv_handle_symptoms(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st != MD_OK) return st;
    const md_kb *kb = r->srv->kb;
    const char *kind_arg = srv_query_get(r, "kind");
    md_obs_kind kind = MD_OBS_KIND_SYMPTOM;
    if (kind_arg && !srv_obs_kind_parse(kind_arg, &kind))
        return md_error_set(err, MD_ERR_INVALID_ARG,
                            "query argument 'kind' must be symptom, sign, risk_factor or history, got '%s'", kind_arg);
    md_buf *b = &r->resp;
    md_buf_append_str(b, "{\"observations\":[");
    size_t n = 0;
    for (size_t i = 0; i < md_kb_n_observations(kb); i++) {
        const md_kb_observation *o = md_kb_observation_at(kb, i);
        if (kind_arg && o->kind != kind) continue;
        if (n++) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        srv_json_str(b, o->id);
        md_buf_append_str(b, ",\"name\":");
        srv_json_str(b, o->name);
        md_buf_append_str(b, ",\"kind\":");
        srv_json_str(b, srv_obs_kind_name(o->kind));
        md_buf_append_str(b, ",\"question\":");
        if (o->question)
            srv_json_str(b, o->question);
        else
            md_buf_append_str(b, "null");
        md_buf_append_char(b, '}');
    }
    md_buf_appendf(b, "],\"count\":%zu", n);
    srv_json_notice(b);
    md_buf_append_char(b, '}');
    return md_buf_ok(b) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

md_status srv_handle_openapi(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st != MD_OK) return st;
    if (md_openapi_embedded_count < 1) return md_error_set(err, MD_ERR_NOT_FOUND, "no API description was built in");
    md_buf_append(&r->resp, md_openapi_embedded[0].data, md_openapi_embedded[0].n_bytes);
    r->resp_content_type = "application/yaml";
    return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}
