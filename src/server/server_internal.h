/* Private parts of the server module, shared by its files:
 *
 *   server.c     libmicrohttpd glue: lifecycle, body upload, limits, request ids,
 *                response headers, access log, graceful stop
 *   router.c     the route table (data) and path matching (404 / 405 + Allow)
 *   request.c    strict JSON request decoding into a clinical case
 *   handlers_clinical.c, handlers_catalog.c, handlers_ops.c   one function per route
 *   metrics.c    counters and latency histograms, Prometheus text rendering
 */
#ifndef MEDIFY_SERVER_INTERNAL_H
#define MEDIFY_SERVER_INTERNAL_H

#include <stdatomic.h>

#include "medify/server.h"

struct MHD_Daemon;

/* ---------------------------------------------------------------- metrics ---- */

/* Latency buckets in seconds (Prometheus `le` bounds); +Inf is implicit. Chosen around
 * the target of p99 < 10 ms for triage, with room for slow outliers. */
#define SRV_N_BUCKETS 12
extern const double srv_bucket_bounds[SRV_N_BUCKETS];

/* HTTP statuses the server answers with; anything else counts as "other". */
#define SRV_N_STATUS 17
extern const int srv_status_codes[SRV_N_STATUS]; /* last entry 0 = other */

typedef struct srv_series {
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t buckets[SRV_N_BUCKETS]; /* non-cumulative; summed when rendered */
} srv_series;

typedef struct srv_metrics {
    size_t n_routes;    /* route table size + 1 ("unmatched") */
    srv_series *series; /* (n_routes, SRV_N_STATUS) */
    size_t n_redflags;
    atomic_uint_fast64_t *emergencies; /* per KB red flag at level >= emergency */
    atomic_uint_fast64_t triage[MD_TRIAGE_COUNT];
    atomic_uint_fast64_t assessments;
} srv_metrics;

md_status srv_metrics_init(srv_metrics *m, size_t n_routes, size_t n_redflags);
void srv_metrics_free(srv_metrics *m);
void srv_metrics_observe(srv_metrics *m, size_t route, int http_status, uint64_t duration_ns);
void srv_metrics_assessment(srv_metrics *m, const md_kb *kb, const md_assessment *a);

/* ---------------------------------------------------------------- request ---- */

typedef struct srv_kv {
    const char *key;
    const char *value;
} srv_kv;

typedef struct srv_route srv_route;

/* One request from the first byte to the response. Lives in the connection context;
 * everything hanging off it is freed when libmicrohttpd reports the request done. */
typedef struct srv_request {
    md_server *srv;
    const srv_route *route;   /* NULL: no path matched */
    size_t route_index;       /* index for metrics (n_routes for unmatched) */
    const char *method;       /* owned by libmicrohttpd for the request's lifetime */
    md_arena arena;           /* per-request scratch, freed at the end */
    md_buf body;              /* the uploaded body, at most max_body_bytes */
    size_t n_body_bytes_seen; /* including any refused excess */
    srv_kv *query;            /* decoded query arguments */
    size_t n_query;
    const char *content_type;
    char request_id[72];
    uint64_t t0_ns;
    bool responded;           /* a response was queued */
    bool counted;             /* counted in the in-flight gauge */
    const char *abort_reason; /* why the server closed the connection unanswered */
    /* response */
    int http_status;
    const char *error_code; /* status name when answering with an error */
    const char *resp_content_type;
    const char *allow; /* Allow header for 405 / OPTIONS */
    md_buf resp;
} srv_request;

/* The server object (server.c owns it; handlers read kb, params and metrics). */
struct md_server {
    const md_kb *kb;
    md_server_params params;
    char *host;
    char *cors_origin;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
    atomic_bool draining;
    atomic_bool stopped;
    atomic_size_t n_in_flight;
    atomic_size_t n_connections;
    atomic_uint_fast64_t n_requests;
    atomic_uint_fast64_t last_activity_ns;
    char id_prefix[12];
    srv_metrics metrics;
};

/* A handler writes its JSON (or other) body into r->resp and returns MD_OK, or returns
 * an error status with a message in err; the server renders the error object. */
typedef md_status (*srv_handler)(srv_request *r, md_error *err);

/* A route: method, path pattern ("{name}" matches one segment), handler, limits. */
struct srv_route {
    const char *method;
    const char *pattern;
    srv_handler handler;
    bool json_body;           /* POST with a JSON object body (Content-Type checked) */
    const char *const *query; /* allowed query arguments, NULL-terminated; NULL: any */
};

extern const srv_route srv_routes[];
extern const size_t srv_n_routes;

/* Finds the route for (method, path). Returns the route, or NULL with *path_known set
 * when some route has the path under another method (→ 405; *allow lists them). */
const srv_route *srv_route_match(const char *method, const char *path, bool *path_known, const char **allow,
                                 size_t *index);

/* Looks up a query argument; NULL when absent. */
const char *srv_query_get(const srv_request *r, const char *key);
/* MD_ERR_INVALID_ARG naming the query arguments the route does not accept. */
md_status srv_query_check(srv_request *r, md_error *err);

/* ------------------------------------------------------------ JSON input ---- */

/* The clinical request: text and/or structured evidence, age and sex, and the
 * endpoint-specific fields. Field sets are per endpoint (SRV_FIELD_* bits). */
enum {
    SRV_FIELD_TEXT = 1u << 0,
    SRV_FIELD_AGE = 1u << 1,
    SRV_FIELD_SEX = 1u << 2,
    SRV_FIELD_EVIDENCE = 1u << 3,
    SRV_FIELD_CONDITION = 1u << 4,
    SRV_FIELD_MAX_RESULTS = 1u << 5,
};
#define SRV_FIELDS_CASE (SRV_FIELD_TEXT | SRV_FIELD_AGE | SRV_FIELD_SEX | SRV_FIELD_EVIDENCE)

typedef struct srv_evidence {
    uint32_t obs;
    md_obs_status status;
} srv_evidence;

typedef struct srv_input {
    const char *text; /* arena copy, NULL when absent */
    size_t n_text_bytes;
    double age_years; /* < 0 when absent */
    md_sex sex;
    srv_evidence *evidence;
    size_t n_evidence;
    int32_t condition; /* KB index, -1 when absent */
    int max_results;   /* 0 when absent */
} srv_input;

/* Decodes r->body against the allowed fields: UTF-8, JSON syntax, object shape, field
 * names, types, ranges and KB ids, each with its own status and a message naming the
 * field. Requires text or evidence when `need_case`. */
md_status srv_input_decode(srv_request *r, uint32_t allowed, bool need_case, srv_input *in, md_error *err);

/* Builds the case: text first, then evidence (answers beat the narrative), then age and
 * sex (explicit fields beat what the text said), as `medify assess --age --sex` does.
 * Free with md_case_free. */
md_status srv_case_build(const md_kb *kb, const srv_input *in, md_case **out, md_error *err);



/* --------------------------------------------------------------- handlers ---- */

md_status srv_handle_parse(srv_request *r, md_error *err);
md_status srv_handle_triage(srv_request *r, md_error *err);
md_status srv_handle_diagnosis(srv_request *r, md_error *err);
md_status srv_handle_explain(srv_request *r, md_error *err);
md_status srv_handle_suggest(srv_request *r, md_error *err);
md_status srv_handle_conditions(srv_request *r, md_error *err);
md_status srv_handle_symptoms(srv_request *r, md_error *err);
md_status srv_handle_openapi(srv_request *r, md_error *err);
md_status srv_handle_healthz(srv_request *r, md_error *err);
md_status srv_handle_readyz(srv_request *r, md_error *err);
md_status srv_handle_metrics(srv_request *r, md_error *err);

/* Renders the Prometheus text exposition of the server's metrics into out. */
void srv_metrics_render(const md_server *s, md_buf *out);

/* "symptom", "sign", "risk_factor", "history". */
const char *srv_obs_kind_name(md_obs_kind kind);
bool srv_obs_kind_parse(const char *name, md_obs_kind *out);

/* JSON helpers. */
void srv_json_str(md_buf *b, const char *s);
void srv_json_notice(md_buf *b); /* ,"notice":"..." */

#endif /* MEDIFY_SERVER_INTERNAL_H */
