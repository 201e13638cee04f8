/* router.c: the HTTP routes as a table, and matching a request against it.
 *
 * A route is data: method, path pattern, handler, and its limits (whether it takes a
 * JSON body, which query arguments it accepts). Matching walks the table once: a
 * route whose pattern matches under the request's method wins; when the path matches
 * only under other methods the answer is 405 with an Allow header listing them
 * (RFC 9110, sec. 15.5.6); when nothing matches the path, 404. HEAD is served by
 * every GET route (libmicrohttpd drops the body). Patterns are literal segments or
 * "{name}", which matches one non-empty segment; the table is small, so a linear scan
 * beats any index here.
 */
#include <string.h>

#include "server/server_internal.h"
#include "server/handlers_static.h"

static const char *const k_query_none[] = {NULL};
static const char *const k_query_conditions[] = {"system", NULL};
static const char *const k_query_symptoms[] = {"kind", NULL};
static const char *const k_query_page[] = {"limit", "before", NULL};
static const char *const k_query_reports[] = {"status", "limit", NULL};
static const char *const k_query_stream[] = {"stream", NULL};

/* The order is the metrics order; the Allow strings below follow the table. */
const srv_route srv_routes[] = {
    {"POST", "/v1/parse", srv_handle_parse, true, k_query_none},
    {"POST", "/v1/triage", srv_handle_triage, true, k_query_none},
    {"POST", "/v1/diagnosis", srv_handle_diagnosis, true, k_query_none},
    {"POST", "/v1/explain", srv_handle_explain, true, k_query_none},
    {"POST", "/v1/suggest", srv_handle_suggest, true, k_query_none},
    {"GET", "/v1/conditions", srv_handle_conditions, false, k_query_conditions},
    {"GET", "/v1/symptoms", srv_handle_symptoms, false, k_query_symptoms},
    {"GET", "/v1/openapi.yaml", srv_handle_openapi, false, k_query_none},
    /* ops endpoints ignore query strings: probes and scrapers add their own */
    {"GET", "/healthz", srv_handle_healthz, false, NULL},
    {"GET", "/readyz", srv_handle_readyz, false, NULL},
    {"GET", "/metrics", srv_handle_metrics, false, NULL},
    /* the web UI (handlers_static.c); query strings are ignored */
    {"GET", "/", srv_handle_static_index, false, NULL},
    {"GET", "/assets/{name}", srv_handle_static_asset, false, NULL},
    /* the product: accounts, interviews, reports, review (authz.c has a rule for each) */
    {"POST", "/v1/auth/signup", srv_handle_signup, true, k_query_none},
    {"POST", "/v1/auth/login", srv_handle_login, true, k_query_none},
    {"POST", "/v1/auth/logout", srv_handle_logout, true, k_query_none},
    {"GET", "/v1/auth/me", srv_handle_me, false, k_query_none},
    {"GET", "/v1/users", srv_handle_users_list, false, k_query_page},
    {"POST", "/v1/users", srv_handle_users_create, true, k_query_none},
    {"PATCH", "/v1/users/{id}", srv_handle_users_patch, true, k_query_none},
    {"POST", "/v1/api-keys", srv_handle_keys_create, true, k_query_none},
    {"GET", "/v1/api-keys", srv_handle_keys_list, false, k_query_none},
    {"DELETE", "/v1/api-keys/{id}", srv_handle_keys_delete, false, k_query_none},
    {"GET", "/v1/audit", srv_handle_audit, false, k_query_page},
    {"POST", "/v1/interviews", srv_handle_interview_create, true, k_query_none},
    {"GET", "/v1/interviews", srv_handle_interview_list, false, k_query_page},
    {"GET", "/v1/interviews/{id}", srv_handle_interview_get, false, k_query_none},
    {"POST", "/v1/interviews/{id}/messages", srv_handle_interview_message, true, k_query_none},
    {"POST", "/v1/interviews/{id}/finish", srv_handle_interview_finish, true, k_query_none},
    {"GET", "/v1/reports", srv_handle_report_list, false, k_query_reports},
    {"GET", "/v1/reports/{id}", srv_handle_report_get, false, k_query_none},
    {"PATCH", "/v1/reports/{id}", srv_handle_report_patch, true, k_query_none},
    {"GET", "/v1/reports/{id}/stream", srv_handle_report_stream, false, k_query_none},
    {"GET", "/v1/reports/{id}/pdf", srv_handle_report_pdf, false, k_query_none},
    {"POST", "/v1/reports/{id}/notes", srv_handle_report_note, true, k_query_none},
    {"POST", "/v1/reports/{id}/sign", srv_handle_report_sign, true, k_query_none},
    {"GET", "/v1/reports/{id}/history", srv_handle_report_history, false, k_query_none},
    {"POST", "/v1/reports/{id}/questions", srv_handle_report_question, true, k_query_stream},
    {"GET", "/v1/patients", srv_handle_patients_list, false, k_query_none},
    {"GET", "/v1/patients/{id}", srv_handle_patient_get, false, k_query_none},
};
const size_t srv_n_routes = MD_ARRAY_LEN(srv_routes);

/* True when `path` matches `pattern` segment by segment. */
static bool pattern_match(const char *pattern, const char *path) {
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close) return false;
            const char *seg_end = strchr(s, '/');
            size_t n_seg = seg_end ? (size_t)(seg_end - s) : strlen(s);
            if (n_seg == 0) return false;
            p = close + 1;
            s += n_seg;
            continue;
        }
        if (*p != *s) return false;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

/* Allow header values by the set of methods a path serves (bits: GET, POST, PATCH,
 * DELETE), in a fixed order. */
static const char *const k_methods[4] = {"GET", "POST", "PATCH", "DELETE"};
static const char *const k_allow[16] = {
    "OPTIONS",
    "GET, HEAD, OPTIONS",
    "POST, OPTIONS",
    "GET, HEAD, POST, OPTIONS",
    "PATCH, OPTIONS",
    "GET, HEAD, PATCH, OPTIONS",
    "POST, PATCH, OPTIONS",
    "GET, HEAD, POST, PATCH, OPTIONS",
    "DELETE, OPTIONS",
    "GET, HEAD, DELETE, OPTIONS",
    "POST, DELETE, OPTIONS",
    "GET, HEAD, POST, DELETE, OPTIONS",
    "PATCH, DELETE, OPTIONS",
    "GET, HEAD, PATCH, DELETE, OPTIONS",
    "POST, PATCH, DELETE, OPTIONS",
    "GET, HEAD, POST, PATCH, DELETE, OPTIONS",
};

static bool method_serves(const char *route_method, const char *method) {
    if (strcmp(route_method, method) == 0) return true;
    return strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

const srv_route *srv_route_match(const char *method, const char *path, bool *path_known, const char **allow,
                                 size_t *index) {
    *path_known = false;
    *allow = NULL;
    *index = srv_n_routes;
    unsigned methods = 0; /* bit per entry of k_methods */
    for (size_t i = 0; i < srv_n_routes; i++) {
        if (!pattern_match(srv_routes[i].pattern, path)) continue;
        *path_known = true;
        if (*index == srv_n_routes) *index = i; /* 405s are counted under the path's route */
        if (method_serves(srv_routes[i].method, method)) {
            *index = i;
            return &srv_routes[i];
        }
        for (unsigned m = 0; m < 4; m++)
            if (strcmp(srv_routes[i].method, k_methods[m]) == 0) methods |= 1u << m;
    }
    if (*path_known) *allow = k_allow[methods & 15u];
    return NULL;
}

const char *srv_query_get(const srv_request *r, const char *key) {
    for (size_t i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].key, key) == 0) return r->query[i].value;
    return NULL;
}

md_status srv_query_check(srv_request *r, md_error *err) {
    const char *const *allowed = r->route ? r->route->query : NULL;
    if (!allowed) return MD_OK;
    md_buf names;
    md_buf_init(&names);
    size_t n_bad = 0;
    for (size_t i = 0; i < r->n_query; i++) {
        bool ok = false;
        for (size_t k = 0; allowed[k]; k++)
            ok = ok || strcmp(allowed[k], r->query[i].key) == 0;
        if (ok) continue;
        md_buf_appendf(&names, "%s'%s'", n_bad ? ", " : "", r->query[i].key);
        n_bad++;
    }
    md_status st = MD_OK;
    if (n_bad)
        st = md_error_set(err, MD_ERR_INVALID_ARG, "unknown query argument%s %s", n_bad > 1 ? "s" : "",
                          md_buf_ok(&names) ? names.data : "");
    md_buf_free(&names);
    return st;
}
