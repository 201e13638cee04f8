/* server.c: the HTTP server's life cycle and its glue to libmicrohttpd.
 *
 * A request's path through this file:
 *
 *   accept       libmicrohttpd (MHD) accepts on our listening socket (bound here, so
 *                the port is known before any thread starts and port 0 works) and
 *                reads the request line and headers into its per-connection pool
 *                (params.max_header_bytes; larger headers get 431 from MHD itself).
 *   first call   on_access creates the srv_request (arena, ids, start time), matches
 *                the route (router.c) and decides what it can before any body byte:
 *                unknown path → 404, wrong method → 405 + Allow, declared
 *                Content-Length over the limit → 413 at once (the body is never read
 *                and MHD closes the connection after answering).
 *   body         each chunk is appended to r->body while the total stays within the
 *                route's limit; over it → 413 once the body has arrived (the excess is
 *                dropped; past DISCARD_MAX_BYTES more the connection is closed); a
 *                body still arriving after params.request_timeout_ms → closed.
 *   last call    the handler runs (on this pool thread, start to finish) and writes
 *                JSON into r->resp; errors become {"error":{"code","message"}} with
 *                the status table's HTTP code; headers are added; MHD sends it.
 *                /v1/ routes first take a token from the client address's bucket.
 *                Product routes (authz.c's table) run under the store lock:
 *                credentials (auth.c), the principal's bucket, the route's rule,
 *                the handler, the record-level check the rule demands, and the
 *                audit entry (audit.c). A streamed response (report_worker.c) is
 *                a libmicrohttpd callback instead of a buffer.
 *   completed    on_completed records metrics, writes the access log line (method,
 *                route pattern, status, duration, request id, byte counts: never a
 *                body) and frees the request.
 *
 * Graceful stop (md_server_stop): `draining` makes every later response carry
 * "Connection: close" and /readyz answer 503; MHD_quiesce_daemon stops accepting;
 * we wait until no request is in flight (and idle keep-alive connections have had a
 * moment to send one), at most grace_ms, then stop MHD's threads and close.
 *
 * Invariants: a request is counted in n_in_flight from its first callback to its
 * completion callback, whatever happens between. Every queued response has a body
 * that is valid UTF-8 JSON (or the YAML / Prometheus text of those two routes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/handlers_static.h"
#include "server/server_internal.h"

#define LISTEN_BACKLOG       511   /* the common default (nginx, redis) */
#define REQUEST_ARENA_BYTES  16384 /* one block covers a clinical request's scratch */
#define DRAIN_POLL_MS        5
#define DRAIN_IDLE_MS        200 /* idle keep-alive connections get this long to speak */
#define REQUEST_ID_MAX_BYTES 64
/* Past the limit a body is read and dropped so the 413 can be sent (MHD answers only
 * after the upload); a client still sending this much more is cut off instead. */
#define DISCARD_MAX_BYTES (1024 * 1024)
/* Rate limits: generous for a clinic behind one NAT address, tight enough that one
 * client cannot monopolise the store (every product request holds its lock). */
#define SRV_DEFAULT_RATE_IP_PER_S    50.0
#define SRV_DEFAULT_RATE_IP_BURST    500.0
#define SRV_DEFAULT_RATE_USER_PER_S  20.0
#define SRV_DEFAULT_RATE_USER_BURST  200.0

md_server_params md_server_default_params(void) {
    md_logger log = md_logger_default();
    log.component = "server";
    return (md_server_params){
        .host = "127.0.0.1",
        .port = MD_SERVER_DEFAULT_PORT,
        .n_threads = MD_SERVER_DEFAULT_THREADS,
        .max_body_bytes = MD_SERVER_DEFAULT_MAX_BODY_BYTES,
        .max_header_bytes = MD_SERVER_DEFAULT_MAX_HEADER_BYTES,
        .max_connections = MD_SERVER_DEFAULT_MAX_CONNECTIONS,
        .idle_timeout_s = MD_SERVER_DEFAULT_IDLE_TIMEOUT_S,
        .request_timeout_ms = MD_SERVER_DEFAULT_REQUEST_TIMEOUT_MS,
        .cors_origin = NULL,
        .log = log,
        .data_dir = NULL,
        .insecure_cookies = false,
        .session_ttl_ms = MD_SESSION_DEFAULT_TTL_MS,
        .rate_ip_per_s = SRV_DEFAULT_RATE_IP_PER_S,
        .rate_ip_burst = SRV_DEFAULT_RATE_IP_BURST,
        .rate_user_per_s = SRV_DEFAULT_RATE_USER_PER_S,
        .rate_user_burst = SRV_DEFAULT_RATE_USER_BURST,
    };
}

/* ------------------------------------------------------------- lifecycle ---- */

md_status md_server_new(const md_kb *kb, md_server_params params, md_server **out, md_error *err) {
    *out = NULL;
    if (!kb) return md_error_set(err, MD_ERR_INVALID_ARG, "the server needs a knowledge base");
    if (params.n_threads < 1 || params.n_threads > 256)
        return md_error_set(err, MD_ERR_CONFIG, "threads must be from 1 to 256, got %d", params.n_threads);
    if (params.port < 0 || params.port > 65535)
        return md_error_set(err, MD_ERR_CONFIG, "port must be from 0 to 65535, got %d", params.port);
    if (params.max_header_bytes < 4096)
        return md_error_set(err, MD_ERR_CONFIG, "max-header-bytes must be at least 4096");
    md_server *s = md_calloc(1, sizeof *s);
    if (!s) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    s->kb = kb;
    s->params = params;
    s->listen_fd = -1;
    s->host = md_strdup(params.host && *params.host ? params.host : "127.0.0.1");
    s->cors_origin = params.cors_origin && *params.cors_origin ? md_strdup(params.cors_origin) : NULL;
    s->params.host = s->host;
    s->params.cors_origin = s->cors_origin;
    if (!s->host || (params.cors_origin && *params.cors_origin && !s->cors_origin) ||
        srv_metrics_init(&s->metrics, srv_n_routes + 1, md_kb_n_redflags(kb)) != MD_OK) {
        md_server_free(s);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    /* Generated request ids: a random per-process prefix and a counter, so ids from
     * replicas behind one load balancer do not collide. */
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)md_clock_monotonic_ns() ^ ((uint32_t)getpid() << 16);
    snprintf(s->id_prefix, sizeof s->id_prefix, "%08x", rnd);
    pthread_mutex_init(&s->store_lock, NULL);
    md_status st = srv_ratelimit_new(&s->params, &s->limits);
    if (st != MD_OK) {
        md_server_free(s);
        return md_error_set(err, st, "out of memory");
    }
    if (params.data_dir && *params.data_dir) {
        s->data_dir = md_strdup(params.data_dir);
        s->params.data_dir = s->data_dir;
        if (!s->data_dir) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
        else st = md_store_open(s->data_dir, &s->store, err);
        if (st == MD_OK) {
            md_password_params pp = md_password_default_params();
            if (params.password_memory_kib) pp.memory_kib = params.password_memory_kib;
            if (params.password_iterations) pp.iterations = params.password_iterations;
            md_account_set_password_params(s->store, pp);
            md_error aerr = {0};
            /* The report writer: a model when the environment names one (MEDIFY_LLM_MODEL
             * or MEDIFY_LLM_URL), written by the worker; else the deterministic one. */
            if (md_llm_open_from_env(&s->llm, &aerr) != MD_OK) {
                s->llm = NULL;
                md_log(&s->params.log, MD_LOG_LEVEL_WARN, "report model unavailable", MD_LOG_STR("detail", aerr.message));
            }
            /* Reports work without similar cases: a data dir with no index is fine. */
            if (md_analysis_open(s->data_dir, kb, s->llm, NULL, &s->analysis, &aerr) != MD_OK) {
                s->analysis = NULL;
                md_log(&s->params.log, MD_LOG_LEVEL_WARN, "analysis unavailable", MD_LOG_STR("detail", aerr.message));
            }
            if (s->llm && s->analysis && srv_worker_start(s, &s->worker) != MD_OK)
                st = md_error_set(err, MD_ERR_NOMEM, "cannot start the report worker");
            if (st == MD_OK) srv_worker_resume(s);
        }
        if (st != MD_OK) {
            md_server_free(s);
            return st;
        }
    }
    *out = s;
    return MD_OK;
}

size_t md_server_n_in_flight(const md_server *s) { return atomic_load(&((md_server *)s)->n_in_flight); }

int md_server_port(const md_server *s) { return s->port; }

/* ------------------------------------------------------------- responses ---- */

/* Truncates a message at its first invalid UTF-8 byte: md_error_set may cut a
 * multi-byte character at MD_ERROR_MSG_BYTES, and the JSON we send must stay valid. */
static size_t utf8_prefix(const char *s) {
    size_t n = strlen(s), bad = 0;
    return md_utf8_valid(s, n, &bad) ? n : bad;
}

/* Writes the error object {"error":{"code","message"}} with the given HTTP status. */
static void render_error_as(srv_request *r, int http_status, const char *code, const char *message) {
    r->http_status = http_status;
    r->error_code = code;
    md_buf_clear(&r->resp);
    md_buf_append_str(&r->resp, "{\"error\":{\"code\":");
    srv_json_str(&r->resp, code);
    md_buf_append_str(&r->resp, ",\"message\":");
    md_buf_append_json_str(&r->resp, message, utf8_prefix(message));
    md_buf_append_str(&r->resp, "}}");
    r->resp_content_type = "application/json";
}

/* The error of a status: its name and HTTP code from the status table. */
static void render_error(srv_request *r, md_status st, const char *message) {
    render_error_as(r, md_status_http(st), md_status_name(st), message && *message ? message : md_status_message(st));
}

static void add_header(struct MHD_Response *resp, const char *name, const char *value) {
    /* Fails only on OOM; the response is still correct without the extra header. */
    (void)MHD_add_response_header(resp, name, value);
}

/* Sends r->resp with r->http_status. Returns MHD_NO only when MHD cannot queue it, in
 * which case MHD closes the connection. */
static enum MHD_Result send_response(srv_request *r, struct MHD_Connection *conn) {
    md_server *s = r->srv;
    if (!md_buf_ok(&r->resp)) render_error(r, MD_ERR_NOMEM, NULL);
    bool empty = r->http_status == 204;
    size_t n = empty ? 0 : r->resp.len;
    char *data = empty ? NULL : md_buf_steal(&r->resp);
    struct MHD_Response *resp = NULL;
    if (r->sse && r->http_status == 200) {
        md_free(data);
        data = NULL;
        resp = srv_sse_response(r->sse);
        if (resp) r->sse = NULL; /* libmicrohttpd frees it with the response */
    } else if (empty)
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    else if (data)
        resp = MHD_create_response_from_buffer_with_free_callback(n, data, md_free);
    if (!resp) {
        md_free(data);
        return MHD_NO;
    }
    r->resp.len = n; /* kept for the access log's byte count */
    if (!empty) add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp_content_type);
    add_header(resp, "X-Request-Id", r->request_id);
    /* The web UI's files may be cached (with their ETag) and carry the page's security
     * policy; API answers are never cached. */
    if (srv_route_is_static(r->route))
        srv_static_headers(r, resp);
    else
        add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    add_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->allow) add_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->set_cookie[0]) add_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
    if (r->retry_after_s > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", r->retry_after_s);
        add_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (s->cors_origin) {
        add_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, s->cors_origin);
        add_header(resp, "Access-Control-Expose-Headers", "X-Request-Id");
        if (strcmp(r->method, MHD_HTTP_METHOD_OPTIONS) == 0) {
            add_header(resp, "Access-Control-Allow-Methods", r->allow ? r->allow : "GET, POST");
            add_header(resp, "Access-Control-Allow-Headers",
                       "Content-Type, X-Request-Id, X-CSRF-Token, Authorization");
            add_header(resp, "Access-Control-Max-Age", "600");
        }
    }
    if (atomic_load(&s->draining)) add_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r->http_status, resp);
    MHD_destroy_response(resp);
    r->responded = ok == MHD_YES;
    return ok;
}

static enum MHD_Result send_error(srv_request *r, struct MHD_Connection *conn, md_status st, const char *message) {
    render_error(r, st, message);
    return send_response(r, conn);
}

/* -------------------------------------------------------------- requests ---- */

/* A caller's X-Request-Id is echoed when it is a short token of [A-Za-z0-9._:-];
 * anything else (which could smuggle text into logs) is replaced. */
static bool request_id_ok(const char *id) {
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == ':' || c == '-';
        if (!ok || n >= REQUEST_ID_MAX_BYTES) return false;
    }
    return n > 0;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    srv_request *r = cls;
    if (r->n_query >= 64) return MHD_NO; /* headers are bounded; so is this */
    srv_kv *grown = md_arena_alloc(&r->arena, (r->n_query + 1) * sizeof *grown);
    if (!grown) return MHD_NO;
    if (r->n_query) memcpy(grown, r->query, r->n_query * sizeof *grown);
    grown[r->n_query] = (srv_kv){.key = key ? key : "", .value = value ? value : ""};
    r->query = grown;
    r->n_query++;
    return MHD_YES;
}

static bool content_type_is_json(const char *ct) {
    static const char k_json[] = "application/json";
    if (strncasecmp(ct, k_json, sizeof k_json - 1) != 0) return false;
    char next = ct[sizeof k_json - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

static size_t body_limit(const srv_request *r) {
    return r->route && r->route->json_body ? r->srv->params.max_body_bytes : 0;
}

static srv_request *request_new(md_server *s, struct MHD_Connection *conn, const char *url, const char *method) {
    srv_request *r = md_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->srv = s;
    r->method = method;
    r->t0_ns = md_clock_monotonic_ns();
    r->http_status = 200;
    r->resp_content_type = "application/json";
    md_arena_init(&r->arena, REQUEST_ARENA_BYTES);
    md_buf_init(&r->body);
    md_buf_init(&r->resp);
    r->conn = conn;
    r->path = url;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->client_ip, sizeof r->client_ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->client_ip, sizeof r->client_ip);
    }
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (id && request_id_ok(id)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", id);
    } else {
        uint64_t seq = atomic_fetch_add(&s->n_requests, 1) + 1;
        snprintf(r->request_id, sizeof r->request_id, "%s-%08llx", s->id_prefix, (unsigned long long)seq);
    }
    bool path_known = false;
    r->route = srv_route_match(method, url, &path_known, &r->allow, &r->route_index);
    r->content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    atomic_fetch_add(&s->n_in_flight, 1);
    r->counted = true;
    atomic_store(&s->last_activity_ns, md_clock_monotonic_ns());
    return r;
}

static void request_free(srv_request *r) {
    srv_sse_free(r->sse);
    md_buf_free(&r->body);
    md_buf_free(&r->resp);
    md_arena_free(&r->arena);
    md_free(r);
}

/* Decisions that need only the request line and headers: either a response queued
 * now (its MHD result returned), or an error rendered into r->resp to be sent once
 * any body has been read and dropped, or nothing yet (MHD_YES). */
static enum MHD_Result decide_early(srv_request *r, struct MHD_Connection *conn, const char *url) {
    md_error err = {0};
    if (!r->route) {
        if (strcmp(r->method, MHD_HTTP_METHOD_OPTIONS) == 0 && r->allow) {
            r->http_status = 204;
            return send_response(r, conn);
        }
        if (r->allow) {
            /* The status table has no 405 row: a wrong method is HTTP's own error, so
             * its code is spelled here (RFC 9110, sec. 15.5.6: with an Allow header). */
            md_error_set(&err, MD_ERR_UNSUPPORTED, "method %s is not allowed on this path; allowed: %s", r->method,
                         r->allow);
            render_error(r, MD_ERR_METHOD_NOT_ALLOWED, err.message);
        } else {
            /* The path is echoed only when it is short printable UTF-8. */
            size_t n_url = strlen(url);
            if (n_url <= 200 && md_utf8_valid(url, n_url, NULL))
                md_error_set(&err, MD_ERR_NOT_FOUND, "no route for %s %s", r->method, url);
            else
                md_error_set(&err, MD_ERR_NOT_FOUND, "no route for this path");
            render_error(r, MD_ERR_NOT_FOUND, err.message);
        }
        /* Answer after the body (if any) is consumed, so the connection stays usable. */
        return MHD_YES;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && n > body_limit(r)) {
            md_error_set(&err, MD_ERR_TOO_LARGE, "the request body is %llu bytes; the limit is %zu", n, body_limit(r));
            return send_error(r, conn, MD_ERR_TOO_LARGE, err.message);
        }
    }
    if (r->route->json_body && r->content_type && !content_type_is_json(r->content_type)) {
        render_error(r, MD_ERR_UNSUPPORTED_MEDIA, "Content-Type must be application/json");
        return MHD_YES;
    }
    if (r->route->query) {
        if (MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, r) < 0 || r->n_query >= 64) {
            render_error(r, MD_ERR_INVALID_ARG, "too many query arguments");
            return MHD_YES;
        }
        for (size_t i = 0; i < r->n_query; i++) {
            if (!md_utf8_valid(r->query[i].key, strlen(r->query[i].key), NULL) ||
                !md_utf8_valid(r->query[i].value, strlen(r->query[i].value), NULL)) {
                render_error(r, MD_ERR_UTF8, "a query argument is not valid UTF-8");
                return MHD_YES;
            }
        }
    }
    return MHD_YES;
}

/* Gives up on a request without an answer: MHD closes the connection. */
static enum MHD_Result close_request(srv_request *r, const char *why) {
    r->abort_reason = why;
    return MHD_NO;
}

/* True for the routes every role may use without a store (clinical, catalogue, ops). */
static bool rule_is_open(const srv_authz_rule *rule) {
    return !rule->product && rule->anonymous == SRV_ACCESS_ALLOW && rule->patient == SRV_ACCESS_ALLOW &&
           rule->clinician == SRV_ACCESS_ALLOW && rule->admin == SRV_ACCESS_ALLOW;
}

static bool is_ops_route(const srv_route *route) { return strncmp(route->pattern, "/v1/", 4) != 0; }

/* The product gate around a handler: rate limit, authentication (with CSRF), the
 * route's authorisation rule, the handler under the store lock, the record-level
 * check that OWN/CARE routes must make, and the audit entry. */
static md_status run_product(srv_request *r, const srv_authz_rule *rule, md_error *err) {
    md_server *s = r->srv;
    if (!s->store) return md_error_set(err, MD_ERR_UNAVAILABLE, "this server runs without a data directory");
    pthread_mutex_lock(&s->store_lock);
    r->store_locked = true;
    md_status st = srv_authenticate(r, err);
    int64_t principal = r->who.api_key_id ? -r->who.api_key_id : r->who.authenticated ? r->who.user_id : 0;
    if (st == MD_OK && principal != 0 && !srv_ratelimit_take(s->limits, NULL, principal, &r->retry_after_s))
        st = md_error_set(err, MD_ERR_LIMIT, "too many requests; retry in %d s", r->retry_after_s);
    if (st == MD_OK) {
        st = srv_authz_route(rule, r->who.authenticated, r->who.role);
        if (st != MD_OK)
            md_error_set(err, st, st == MD_ERR_UNAUTHORIZED ? "sign in first" : "your role may not do this");
    }
    if (st == MD_OK) st = r->route->handler(r, err);
    srv_access access = srv_authz_access(r);
    if (st == MD_OK && (access == SRV_ACCESS_OWN || access == SRV_ACCESS_CARE) && !r->authz_checked)
        st = md_error_set(err, MD_ERR_INTERNAL, "no record-level authorisation decision was made");
    return st;
}

static void dispatch(srv_request *r) {
    md_error err = {0};
    md_status st = MD_OK;
    const srv_authz_rule *rule = srv_authz_rule_find(r->route->method, r->route->pattern);
    if (!is_ops_route(r->route) && !srv_ratelimit_take(r->srv->limits, r->client_ip, 0, &r->retry_after_s)) {
        st = md_error_set(&err, MD_ERR_LIMIT, "too many requests; retry in %d s", r->retry_after_s);
    } else if (!rule && !is_ops_route(r->route)) {
        /* An API route nobody wrote a rule for is denied; pages and probes outside
         * /v1/ carry no patient data and stay open. */
        st = md_error_set(&err, MD_ERR_FORBIDDEN, "this route has no authorisation rule");
    } else if (!rule || rule_is_open(rule)) {
        st = r->route->handler(r, &err);
    } else {
        st = run_product(r, rule, &err);
    }
    if (st != MD_OK) {
        md_buf_clear(&r->resp);
        r->resp_content_type = "application/json";
        render_error(r, st, err.message);
    }
    if (r->store_locked) {
        srv_audit_request(r);
        r->store_locked = false;
        pthread_mutex_unlock(&r->srv->store_lock);
    }
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
    (void)version;
    md_server *s = cls;
    srv_request *r = *con_cls;
    if (!r) {
        r = request_new(s, conn, url, method);
        if (!r) return MHD_NO; /* out of memory: MHD closes the connection */
        *con_cls = r;
        return decide_early(r, conn, url);
    }
    if (*upload_data_size) {
        /* MHD cannot queue a response while a body is arriving, so errors found here
         * are answered once it has arrived; the excess is read and dropped, up to a
         * cap past which the connection is simply closed. */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded) return MHD_YES;
        r->n_body_bytes_seen += n;
        size_t limit = body_limit(r);
        if (r->n_body_bytes_seen > limit + DISCARD_MAX_BYTES) return close_request(r, "body far over the limit");
        uint64_t elapsed_ms = (md_clock_monotonic_ns() - r->t0_ns) / 1000000u;
        if (s->params.request_timeout_ms > 0 && elapsed_ms > (uint64_t)s->params.request_timeout_ms)
            return close_request(r, "body too slow");
        if (r->error_code) return MHD_YES;
        if (r->n_body_bytes_seen > limit) {
            md_error err = {0};
            md_error_set(&err, MD_ERR_TOO_LARGE, "the request body exceeds the limit of %zu bytes", limit);
            render_error(r, MD_ERR_TOO_LARGE, err.message);
            md_buf_free(&r->body);
            return MHD_YES;
        }
        md_buf_append(&r->body, upload_data, n);
        if (!md_buf_ok(&r->body)) render_error(r, MD_ERR_NOMEM, NULL);
        return MHD_YES;
    }
    if (r->responded) return MHD_YES;
    if (!r->error_code) dispatch(r);
    return send_response(r, conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)conn;
    md_server *s = cls;
    srv_request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    uint64_t dt = md_clock_monotonic_ns() - r->t0_ns;
    const char *route = r->route ? r->route->pattern : r->allow ? srv_routes[r->route_index].pattern : "unmatched";
    if (r->responded) {
        srv_metrics_observe(&s->metrics, r->route_index, r->http_status, dt);
        md_log(&s->params.log, MD_LOG_LEVEL_INFO, "request", MD_LOG_STR("request_id", r->request_id),
               MD_LOG_STR("method", r->method), MD_LOG_STR("route", route), MD_LOG_INT("status", r->http_status),
               MD_LOG_DOUBLE("duration_ms", (double)dt / 1e6), MD_LOG_INT("bytes_in", r->n_body_bytes_seen),
               MD_LOG_INT("bytes_out", r->resp.len), MD_LOG_STR("error", r->error_code ? r->error_code : ""),
               MD_LOG_BOOL("complete", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK));
    } else {
        md_log(&s->params.log, MD_LOG_LEVEL_INFO, "request aborted", MD_LOG_STR("request_id", r->request_id),
               MD_LOG_STR("method", r->method), MD_LOG_STR("route", route),
               MD_LOG_STR("reason", r->abort_reason ? r->abort_reason : "connection closed"),
               MD_LOG_DOUBLE("duration_ms", (double)dt / 1e6), MD_LOG_INT("bytes_in", r->n_body_bytes_seen));
    }
    if (r->counted) atomic_fetch_sub(&s->n_in_flight, 1);
    atomic_store(&s->last_activity_ns, md_clock_monotonic_ns());
    request_free(r);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    (void)conn;
    (void)socket_context;
    md_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->n_connections, 1);
        atomic_store(&s->last_activity_ns, md_clock_monotonic_ns());
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&s->n_connections, 1);
    }
}

/* MHD's own diagnostics become log lines; they describe sockets and protocol errors,
 * not request contents. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    md_server *s = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    line[utf8_prefix(line)] = '\0';
    md_log(&s->params.log, MD_LOG_LEVEL_WARN, "libmicrohttpd", MD_LOG_STR("detail", line));
}

/* ---------------------------------------------------------- start / stop ---- */

static md_status bind_listen(md_server *s, md_error *err) {
    char port[16];
    snprintf(port, sizeof port, "%d", s->params.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(s->host, port, &hints, &res);
    if (rc != 0) return md_error_set(err, MD_ERR_CONFIG, "cannot resolve host '%s': %s", s->host, gai_strerror(rc));
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0) {
            struct sockaddr_storage ss;
            socklen_t n_ss = sizeof ss;
            if (getsockname(fd, (struct sockaddr *)&ss, &n_ss) == 0)
                s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                                   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
            s->listen_fd = fd;
            break;
        }
        last_errno = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (s->listen_fd < 0)
        return md_error_set(err, MD_ERR_IO, "cannot listen on %s:%d: %s", s->host, s->params.port,
                            strerror(last_errno ? last_errno : EADDRNOTAVAIL));
    return MD_OK;
}

md_status md_server_start(md_server *s, md_error *err) {
    if (s->daemon) return md_error_set(err, MD_ERR_CONFLICT, "the server is already running");
    md_status st = bind_listen(s, err);
    if (st != MD_OK) return st;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    unsigned pool = s->params.n_threads > 1 ? (unsigned)s->params.n_threads : 0;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->params.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->params.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->params.max_header_bytes, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        close(s->listen_fd);
        s->listen_fd = -1;
        return md_error_set(err, MD_ERR_IO, "cannot start the HTTP server on %s:%d", s->host, s->port);
    }
    md_log(&s->params.log, MD_LOG_LEVEL_INFO, "listening", MD_LOG_STR("host", s->host), MD_LOG_INT("port", s->port),
           MD_LOG_INT("threads", s->params.n_threads), MD_LOG_INT("max_body_bytes", s->params.max_body_bytes),
           MD_LOG_BOOL("cors", s->cors_origin != NULL));
    return MD_OK;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

md_status md_server_stop(md_server *s, uint32_t grace_ms) {
    if (!s->daemon || atomic_exchange(&s->stopped, true)) return MD_OK;
    atomic_store(&s->draining, true);
    uint64_t t0 = md_clock_monotonic_ns(), deadline = t0 + (uint64_t)grace_ms * 1000000u;
    MHD_socket quiesced = MHD_quiesce_daemon(s->daemon);
    size_t at_signal = md_server_n_in_flight(s);
    for (;;) {
        uint64_t now = md_clock_monotonic_ns();
        size_t in_flight = md_server_n_in_flight(s);
        bool idle = now - atomic_load(&s->last_activity_ns) >= (uint64_t)DRAIN_IDLE_MS * 1000000u;
        if (in_flight == 0 && (atomic_load(&s->n_connections) == 0 || idle)) break;
        if (now >= deadline) break;
        sleep_ms(DRAIN_POLL_MS);
    }
    size_t left = md_server_n_in_flight(s);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    /* After a successful quiesce the listening socket is ours to close; otherwise MHD
     * closed it in MHD_stop_daemon. */
    if (quiesced != MHD_INVALID_SOCKET) close(s->listen_fd);
    s->listen_fd = -1;
    md_log(&s->params.log, left ? MD_LOG_LEVEL_WARN : MD_LOG_LEVEL_INFO, "stopped",
           MD_LOG_INT("in_flight_at_stop", at_signal), MD_LOG_INT("cut_off", left),
           MD_LOG_DOUBLE("drain_ms", (double)(md_clock_monotonic_ns() - t0) / 1e6));
    return left ? MD_ERR_TIMEOUT : MD_OK;
}

void md_server_free(md_server *s) {
    if (!s) return;
    md_server_stop(s, 0);
    srv_worker_stop(s->worker);
    srv_metrics_free(&s->metrics);
    md_analysis_free(s->analysis);
    md_llm_free(s->llm);
    md_store_close(s->store);
    md_free(s->data_dir);
    srv_ratelimit_free(s->limits);
    pthread_mutex_destroy(&s->store_lock);
    md_free(s->host);
    md_free(s->cors_origin);
    md_free(s);
}
