/* Private parts of the server module, shared by its files:
 *
 *   server.c     libmicrohttpd glue: lifecycle, body upload, limits, request ids,
 *                response headers, access log, graceful stop, the product gate
 *   router.c     the route table (data) and path matching (404 / 405 + Allow)
 *   request.c    strict JSON request decoding into a clinical case
 *   handlers_clinical.c, handlers_catalog.c, handlers_ops.c   one function per route
 *   metrics.c    counters and latency histograms, Prometheus text rendering
 *   the product (accounts, interviews, reports, review; a store in --data-dir):
 *   auth.c       cookie / bearer / API key → principal; CSRF
 *   authz.c      the one table of route × role × ownership
 *   ratelimit.c  token buckets per address and per principal; login throttling
 *   audit.c      the audit log entry of each answered product request
 *   product.c    strict JSON fields, path ids, shared output (product.h)
 *   handlers_auth.c, handlers_users.c, handlers_interviews.c, handlers_reports.c,
 *   handlers_clinician.c   the product routes
 *   report_worker.c   LLM reports off the request threads; server-sent event streams
 */
#ifndef MEDIFY_SERVER_INTERNAL_H
#define MEDIFY_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "medify/accounts.h"
#include "medify/analysis.h"
#include "medify/records.h"
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
    /* product */
    atomic_uint_fast64_t interviews_started, interviews_finished;
    srv_series report_latency; /* report generation, seconds */
    atomic_uint_fast64_t prompt_tokens, completion_tokens;
} srv_metrics;

md_status srv_metrics_init(srv_metrics *m, size_t n_routes, size_t n_redflags);
void srv_metrics_free(srv_metrics *m);
void srv_metrics_observe(srv_metrics *m, size_t route, int http_status, uint64_t duration_ns);
void srv_metrics_assessment(srv_metrics *m, const md_kb *kb, const md_assessment *a);
void srv_metrics_report(srv_metrics *m, uint64_t duration_ns, uint32_t prompt_tokens, uint32_t completion_tokens);

/* ---------------------------------------------------------------- request ---- */

typedef struct srv_kv {
    const char *key;
    const char *value;
} srv_kv;

typedef struct srv_route srv_route;
struct MHD_Connection;

/* Who is asking (auth.c). API keys act with their own role; their user_id is the
 * admin who created them (they own no patient records). */
typedef struct srv_principal {
    bool authenticated;
    bool via_cookie;     /* cookie sessions need the CSRF header on unsafe methods */
    md_role role;
    int64_t user_id;
    int64_t api_key_id;  /* 0 for sessions */
    md_user_record user; /* sessions: the user (strings in the request arena) */
    char token[MD_TOKEN_BYTES]; /* the session token, "" for API keys and anonymous */
} srv_principal;

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
    /* product */
    struct MHD_Connection *conn;
    const char *path;          /* owned by libmicrohttpd for the request's lifetime */
    char client_ip[64];
    srv_principal who;
    bool authz_checked;        /* a record-level decision was made (authz.c) */
    const char *audit_type;    /* record the request touched ("interview", ...), or NULL */
    int64_t audit_id;
    char set_cookie[256];      /* Set-Cookie value, "" for none */
    int retry_after_s;         /* > 0: Retry-After header */
    bool store_locked;
    struct srv_sse *sse;       /* a streamed response (report_worker.c), else NULL */
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
    /* product: the store is one SQLite connection, used under store_lock */
    char *data_dir;
    md_store *store;
    pthread_mutex_t store_lock;
    md_analysis *analysis; /* NULL when the data dir could not be opened for analysis */
    struct srv_ratelimit *limits;
    md_llm *llm;           /* the report writer from the environment, or NULL */
    struct srv_worker *worker; /* writes LLM reports off the request threads */
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



/* ------------------------------------------------------------------ auth ---- */

#define SRV_SESSION_COOKIE "medify_session"

/* Reads the cookie or bearer credential into r->who. A bad bearer credential is
 * MD_ERR_UNAUTHORIZED; a stale cookie is ignored (the caller is anonymous). A cookie
 * session on an unsafe method must carry X-CSRF-Token (MD_ERR_FORBIDDEN otherwise). */
md_status srv_authenticate(srv_request *r, md_error *err);
/* Sets r->set_cookie to open (token) or clear (NULL) the session cookie. */
void srv_cookie_set(srv_request *r, const char *token);

/* ----------------------------------------------------------------- authz ---- */

/* What a role may do on a route. OWN: records of the patient who is asking. CARE:
 * records of patients assigned to the asking clinician, or unassigned patients with a
 * report awaiting review (opening that review assigns them). */
typedef enum srv_access {
    SRV_ACCESS_DENY = 0,
    SRV_ACCESS_ALLOW,
    SRV_ACCESS_OWN,
    SRV_ACCESS_CARE,
} srv_access;

/* The subject record of a request: whose data it is. */
typedef struct srv_subject {
    int64_t patient_id;
    int64_t clinician_id; /* the patient's assigned clinician, 0 = none */
    bool claimable;       /* unassigned and with a report awaiting review */
} srv_subject;

typedef struct srv_authz_rule {
    const char *method;
    const char *pattern;
    srv_access anonymous, patient, clinician, admin;
    bool product; /* needs the store and the auth pipeline (else: open to all) */
    bool audited; /* every answer goes to the audit log */
} srv_authz_rule;

extern const srv_authz_rule srv_authz_rules[];
extern const size_t srv_n_authz_rules;

/* The rule of (method, pattern), NULL when the table has none (then: deny). */
const srv_authz_rule *srv_authz_rule_find(const char *method, const char *pattern);
/* The route-level decision, before any record is read: MD_OK, MD_ERR_UNAUTHORIZED
 * (anonymous where a role is needed) or MD_ERR_FORBIDDEN. */
md_status srv_authz_route(const srv_authz_rule *rule, bool authenticated, md_role role);
/* The record-level decision: MD_OK or MD_ERR_FORBIDDEN. subject NULL means no record
 * (lists: the handler filters by the same rule). */
md_status srv_authz_record(const srv_authz_rule *rule, bool authenticated, md_role role, int64_t user_id,
                           const srv_subject *subject);
/* The access level of the asking role on the request's route. */
srv_access srv_authz_access(const srv_request *r);
/* srv_authz_record for the request, noting that the check happened. */
md_status srv_authz_check(srv_request *r, const srv_subject *subject, md_error *err);

/* ------------------------------------------------------------ rate limits ---- */

typedef struct srv_ratelimit srv_ratelimit;
md_status srv_ratelimit_new(const md_server_params *p, srv_ratelimit **out);
void srv_ratelimit_free(srv_ratelimit *rl);
/* Takes a token from the bucket of the client address (client_ip not NULL) or of the
 * principal (principal_key: user id > 0, minus the API key id < 0); false, with the
 * whole seconds until a token is available, when the bucket is empty. */
bool srv_ratelimit_take(srv_ratelimit *rl, const char *client_ip, int64_t principal_key, int *retry_after_s);
/* Login throttling: failures per account and per address in a sliding window.
 * srv_login_allowed says whether another attempt may run now. */
bool srv_login_allowed(srv_ratelimit *rl, const char *email, const char *client_ip, int *retry_after_s);
void srv_login_failed(srv_ratelimit *rl, const char *email, const char *client_ip);
void srv_login_succeeded(srv_ratelimit *rl, const char *email);

/* ----------------------------------------------------------------- audit ---- */

/* Appends the request's audit entry (who, route, record, outcome) when its route is
 * audited. Never content. Called once per answered request. */
void srv_audit_request(srv_request *r);

/* ---------------------------------------------------------- product JSON ---- */

/* JSON input helpers: src/server/product.h. */
/* Parses path segment ith (0-based: "/v1/reports/7" has "7" at 2) as a positive id;
 * MD_ERR_NOT_FOUND when it is not one. */
md_status srv_path_id(srv_request *r, size_t ith_segment, int64_t *id, md_error *err);
/* The user object of the API: {id,email,name,role,clinician_id,created_at}. */
void srv_user_json(md_buf *b, const md_user_record *u);
void srv_time_json(md_buf *b, int64_t ms); /* "2026-01-02T03:04:05.678Z" or null for 0 */

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
/* product (handlers_auth.c, handlers_users.c, handlers_interviews.c,
 * handlers_reports.c, handlers_clinician.c) */
md_status srv_handle_signup(srv_request *r, md_error *err);
md_status srv_handle_login(srv_request *r, md_error *err);
md_status srv_handle_logout(srv_request *r, md_error *err);
md_status srv_handle_me(srv_request *r, md_error *err);
md_status srv_handle_users_list(srv_request *r, md_error *err);
md_status srv_handle_users_create(srv_request *r, md_error *err);
md_status srv_handle_users_patch(srv_request *r, md_error *err);
md_status srv_handle_keys_create(srv_request *r, md_error *err);
md_status srv_handle_keys_list(srv_request *r, md_error *err);
md_status srv_handle_keys_delete(srv_request *r, md_error *err);
md_status srv_handle_audit(srv_request *r, md_error *err);
md_status srv_handle_interview_create(srv_request *r, md_error *err);
md_status srv_handle_interview_list(srv_request *r, md_error *err);
md_status srv_handle_interview_get(srv_request *r, md_error *err);
md_status srv_handle_interview_message(srv_request *r, md_error *err);
md_status srv_handle_interview_finish(srv_request *r, md_error *err);
md_status srv_handle_report_list(srv_request *r, md_error *err);
md_status srv_handle_report_get(srv_request *r, md_error *err);
md_status srv_handle_report_patch(srv_request *r, md_error *err);
md_status srv_handle_report_stream(srv_request *r, md_error *err);
md_status srv_handle_report_pdf(srv_request *r, md_error *err);
md_status srv_handle_report_note(srv_request *r, md_error *err);
md_status srv_handle_report_sign(srv_request *r, md_error *err);
md_status srv_handle_report_history(srv_request *r, md_error *err);
md_status srv_handle_report_question(srv_request *r, md_error *err);
md_status srv_handle_patients_list(srv_request *r, md_error *err);
md_status srv_handle_patient_get(srv_request *r, md_error *err);

/* Shared by the interview and report handlers: the report object of the API for a
 * stored report (notes included), and the subject (whose record) of a patient. */
md_status srv_report_json(srv_request *r, const md_report_record *rep, md_buf *b, md_error *err);
md_status srv_subject_of(srv_request *r, int64_t patient_id, srv_subject *out, md_error *err);
/* The interview object of the API (messages, triage, emergency, next question). */
void srv_interview_json(md_buf *b, const md_interview_record *rec);
/* Builds and stores the report of a finished interview's case. With an LLM the row is
 * stored "generating" and the worker writes it after the caller commits
 * (srv_report_submit_pending). */
md_status srv_report_generate(srv_request *r, int64_t interview_id, int64_t patient_id, const md_case *c,
                              int64_t *report_id, md_error *err);
/* The report object JSON of a finished generation (analysis module → store columns). */
md_status srv_report_columns(const md_report *rep, md_buf *body, char **sections, char **similar, char **usage,
                             md_error *err);

/* -------------------------------------------------- report worker (LLM) ---- */

typedef struct srv_worker srv_worker;
typedef struct srv_sse srv_sse;
md_status srv_worker_start(md_server *s, srv_worker **out);
/* Stops after the report in progress; queued ones stay "generating" in the store. */
void srv_worker_stop(srv_worker *w);
/* Queues report_id, to be written from a copy of c. */
md_status srv_worker_submit(srv_worker *w, int64_t report_id, const md_case *c);
/* Reports a stopped process left "generating" are written again (queued with a
 * model, else written at once), from their interviews replayed. */
void srv_worker_resume(md_server *s);
/* The clinical case of a stored interview, rebuilt by replaying its events. */
md_status srv_interview_case(const md_kb *kb, const md_interview_record *rec, md_case **out, md_error *err);
/* Makes r's response a stream of the report being written: the pieces so far and
 * to come, then the done event with the stored report. */
md_status srv_sse_report(srv_request *r, int64_t report_id, md_error *err);
/* libmicrohttpd glue for a streamed response. */
struct MHD_Response *srv_sse_response(srv_sse *x);
void srv_sse_free(srv_sse *x);

/* Renders the Prometheus text exposition of the server's metrics into out. */
void srv_metrics_render(const md_server *s, md_buf *out);

/* "symptom", "sign", "risk_factor", "history". */
const char *srv_obs_kind_name(md_obs_kind kind);
bool srv_obs_kind_parse(const char *name, md_obs_kind *out);

/* JSON helpers. */
void srv_json_str(md_buf *b, const char *s);
void srv_json_notice(md_buf *b); /* ,"notice":"..." */

#endif /* MEDIFY_SERVER_INTERNAL_H */
