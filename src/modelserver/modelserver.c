/* modelserver.c: the model server's life cycle and its glue to libmicrohttpd.
 *
 * Threads: libmicrohttpd (MHD) runs one thread per connection. Generation is slow and
 * blocking (seconds), so a thread per connection is the plain model: a whole answer
 * is generated on its connection's thread (waiting its turn in the FIFO), and a
 * streamed answer's content callback may block on its ring buffer (stream.c) without
 * holding up anyone else. max_connections bounds the threads.
 *
 * A request's path, as in the API server (src/server/server.c): the first callback
 * creates the ms_request (request id, start time), matches the route (exact path;
 * 404, or 405 with Allow), refuses a declared Content-Length over the limit at once
 * (413) and a non-JSON Content-Type (415); the body is collected up to the limit (an
 * excess is dropped and answered 413 once it has arrived; a body still arriving after
 * request_timeout_ms closes the connection); the last callback runs the
 * handler. A handler writes JSON into r->resp, or sets r->stream for an event stream.
 * The completion callback records metrics and writes the access log line (route,
 * status, duration, token counts, request id: never a prompt or generated text).
 *
 * Graceful stop (md_modelserver_stop): `draining` makes /readyz answer 503 and every
 * later response carry "Connection: close"; MHD_quiesce_daemon stops accepting; we
 * wait until no request is in flight and no producer runs, at most grace_ms; then
 * `aborting` cancels generations (their piece callbacks return false) and gives the
 * cancelled requests up to ABORT_FLUSH_MS to send their error answers; then `closing`
 * ends whatever streams remain, MHD's threads are stopped, and we wait for the
 * producers to exit.
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

#include "modelserver/modelserver_internal.h"

#define LISTEN_BACKLOG       511
#define DRAIN_POLL_MS        5
#define ABORT_FLUSH_MS       1000 /* after the grace period: time for cancelled requests to answer */
#define REQUEST_ID_MAX_BYTES 64
#define DISCARD_MAX_BYTES    (1024 * 1024) /* past the limit, read and drop this much for the 413 */
#define MAX_QUEUE_LIMIT      4096
#define SSE_BLOCK_BYTES      4096 /* MHD's buffer for the content callback */

const ms_route ms_routes[MS_N_ROUTES] = {
    {"POST", "/v1/chat/completions", ms_handle_chat, true},
    {"POST", "/v1/completions", ms_handle_completions, true},
    {"POST", "/v1/embeddings", ms_handle_embeddings, true},
    {"GET", "/v1/models", ms_handle_models, false},
    /* probes and scrapers */
    {"GET", "/healthz", ms_handle_healthz, false},
    {"GET", "/readyz", ms_handle_readyz, false},
    {"GET", "/metrics", ms_handle_metrics, false},
};

md_modelserver_params md_modelserver_default_params(void) {
    md_logger log = md_logger_default();
    log.component = "modelserver";
    return (md_modelserver_params){
        .host = "127.0.0.1",
        .port = MD_MODELSERVER_DEFAULT_PORT,
        .model_id = NULL,
        .max_body_bytes = MD_MODELSERVER_DEFAULT_MAX_BODY_BYTES,
        .max_queue = MD_MODELSERVER_DEFAULT_MAX_QUEUE,
        .max_connections = MD_MODELSERVER_DEFAULT_MAX_CONNECTIONS,
        .idle_timeout_s = MD_MODELSERVER_DEFAULT_IDLE_TIMEOUT_S,
        .request_timeout_ms = MD_MODELSERVER_DEFAULT_REQUEST_TIMEOUT_MS,
        .log = log,
    };
}

/* ------------------------------------------------------------- lifecycle ---- */

md_status md_modelserver_new(md_llm *llm, md_modelserver_params params, md_modelserver **out, md_error *err) {
    *out = NULL;
    if (!llm) return md_error_set(err, MD_ERR_INVALID_ARG, "the model server needs a model");
    if (!params.model_id || !*params.model_id) return md_error_set(err, MD_ERR_CONFIG, "the model needs an id");
    if (params.port < 0 || params.port > 65535)
        return md_error_set(err, MD_ERR_CONFIG, "port must be from 0 to 65535, got %d", params.port);
    if (params.max_queue < 0 || params.max_queue > MAX_QUEUE_LIMIT)
        return md_error_set(err, MD_ERR_CONFIG, "max-queue must be from 0 to %d, got %d", MAX_QUEUE_LIMIT,
                            params.max_queue);
    if (params.max_connections < 1)
        return md_error_set(err, MD_ERR_CONFIG, "max-connections must be at least 1, got %d", params.max_connections);
    if (params.max_body_bytes < 1024) return md_error_set(err, MD_ERR_CONFIG, "max-body-bytes must be at least 1024");
    if (params.embed && params.embed_n_dim == 0)
        return md_error_set(err, MD_ERR_CONFIG, "the embedder needs a dimension");
    md_modelserver *s = md_calloc(1, sizeof *s);
    if (!s) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    s->llm = llm;
    s->params = params;
    s->listen_fd = -1;
    s->created = (long)time(NULL);
    s->host = md_strdup(params.host && *params.host ? params.host : "127.0.0.1");
    s->model_id = md_strdup(params.model_id);
    const char *eid = params.embed_model_id && *params.embed_model_id ? params.embed_model_id : "embeddings";
    s->embed_model_id = params.embed ? md_strdup(eid) : NULL;
    if (!s->host || !s->model_id || (params.embed && !s->embed_model_id)) {
        md_free(s->host);
        md_free(s->model_id);
        md_free(s->embed_model_id);
        md_free(s);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    s->params.host = s->host;
    s->params.model_id = s->model_id;
    s->params.embed_model_id = s->embed_model_id;
    ms_fifo_init(&s->fifo, (size_t)params.max_queue);
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)md_clock_monotonic_ns() ^ ((uint32_t)getpid() << 16);
    snprintf(s->id_prefix, sizeof s->id_prefix, "%08x", rnd);
    *out = s;
    return MD_OK;
}

int md_modelserver_port(const md_modelserver *s) { return s->port; }

size_t md_modelserver_n_in_flight(const md_modelserver *s) {
    return atomic_load(&((md_modelserver *)s)->n_in_flight);
}

/* ------------------------------------------------------------- responses ---- */

static size_t utf8_prefix(const char *s) {
    size_t n = strlen(s), bad = 0;
    return md_utf8_valid(s, n, &bad) ? n : bad;
}

/* OpenAI's error "type" for an HTTP status, so OpenAI clients classify it. */
static const char *openai_error_type(int http_status) {
    switch (http_status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable_error";
    default: return http_status >= 500 ? "server_error" : "invalid_request_error";
    }
}

void ms_render_error(ms_request *r, int http_status, const char *code, const char *message) {
    r->http_status = http_status;
    r->error_code = code;
    md_buf_clear(&r->resp);
    md_buf_append_str(&r->resp, "{\"error\":{\"code\":");
    md_buf_append_json_str(&r->resp, code, strlen(code));
    md_buf_append_str(&r->resp, ",\"message\":");
    md_buf_append_json_str(&r->resp, message, utf8_prefix(message));
    md_buf_appendf(&r->resp, ",\"type\":\"%s\",\"param\":null}}", openai_error_type(http_status));
    r->resp_content_type = "application/json";
}

static void render_status(ms_request *r, md_status st, const char *message) {
    ms_render_error(r, md_status_http(st), md_status_name(st), message && *message ? message : md_status_message(st));
}

static void add_common_headers(ms_request *r, struct MHD_Response *resp) {
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (atomic_load(&r->srv->draining)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result send_stream(ms_request *r, struct MHD_Connection *conn) {
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_BYTES, ms_stream_read, r->stream,
                                          ms_stream_release);
    if (!resp) {
        ms_stream_release(r->stream); /* the response's reference: the producer sees the client gone */
        r->abort_reason = "out of memory";
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies must not hold events back */
    add_common_headers(r, resp);
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp); /* the stream now lives until MHD calls ms_stream_release */
    r->responded = ret == MHD_YES;
    r->http_status = 200;
    return ret;
}

static enum MHD_Result send_response(ms_request *r, struct MHD_Connection *conn) {
    if (r->stream) return send_stream(r, conn);
    if (!md_buf_ok(&r->resp)) render_status(r, MD_ERR_NOMEM, NULL);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->resp.len, r->resp.data ? r->resp.data : (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp_content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", MD_MODELSERVER_DEFAULT_RETRY_AFTER_S);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    add_common_headers(r, resp);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->http_status, resp);
    MHD_destroy_response(resp);
    r->responded = ret == MHD_YES;
    return ret;
}

/* --------------------------------------------------------------- requests ---- */

static bool request_id_ok(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > REQUEST_ID_MAX_BYTES) return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.' || c == ':';
        if (!ok) return false;
    }
    return true;
}

static bool content_type_is_json(const char *ct) {
    static const char k_json[] = "application/json";
    if (strncasecmp(ct, k_json, sizeof k_json - 1) != 0) return false;
    char next = ct[sizeof k_json - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

static const ms_route *route_match(const char *method, const char *path, const char **allow, size_t *index) {
    *allow = NULL;
    *index = MS_N_ROUTES;
    for (size_t i = 0; i < MS_N_ROUTES; i++) {
        if (strcmp(ms_routes[i].path, path) != 0) continue;
        *index = i;
        bool get = strcmp(ms_routes[i].method, "GET") == 0;
        if (strcmp(ms_routes[i].method, method) == 0 || (get && strcmp(method, "HEAD") == 0)) return &ms_routes[i];
        *allow = get ? "GET, HEAD" : "POST";
        return NULL;
    }
    return NULL;
}

static ms_request *request_new(md_modelserver *s, struct MHD_Connection *conn, const char *url, const char *method) {
    ms_request *r = md_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->t0_ns = md_clock_monotonic_ns();
    r->http_status = 200;
    r->resp_content_type = "application/json";
    md_buf_init(&r->body);
    md_buf_init(&r->resp);
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (id && request_id_ok(id)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", id);
    } else {
        uint64_t seq = atomic_fetch_add(&s->n_requests, 1) + 1;
        snprintf(r->request_id, sizeof r->request_id, "%s-%08llx", s->id_prefix, (unsigned long long)seq);
    }
    r->route = route_match(method, url, &r->allow, &r->route_index);
    atomic_fetch_add(&s->n_in_flight, 1);
    return r;
}

static void request_free(ms_request *r) {
    md_buf_free(&r->body);
    md_buf_free(&r->resp);
    md_free(r);
}

static size_t body_limit(const ms_request *r) {
    return r->route && r->route->json_body ? r->srv->params.max_body_bytes : 0;
}

/* Decisions from the request line and headers alone: a response now, an error to send
 * once the body has been read and dropped, or nothing yet. */
static enum MHD_Result decide_early(ms_request *r, struct MHD_Connection *conn, const char *url) {
    md_error err = {0};
    if (!r->route) {
        if (r->allow) {
            md_error_set(&err, MD_ERR_METHOD_NOT_ALLOWED, "method %s is not allowed on this path; allowed: %s",
                         r->method, r->allow);
            render_status(r, MD_ERR_METHOD_NOT_ALLOWED, err.message);
        } else {
            size_t n_url = strlen(url);
            if (n_url <= 200 && md_utf8_valid(url, n_url, NULL))
                md_error_set(&err, MD_ERR_NOT_FOUND, "no route for %s %s", r->method, url);
            else
                md_error_set(&err, MD_ERR_NOT_FOUND, "no route for this path");
            render_status(r, MD_ERR_NOT_FOUND, err.message);
        }
        return MHD_YES;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && n > body_limit(r)) {
            md_error_set(&err, MD_ERR_TOO_LARGE, "the request body is %llu bytes; the limit is %zu", n, body_limit(r));
            render_status(r, MD_ERR_TOO_LARGE, err.message);
            return send_response(r, conn);
        }
    }
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (r->route->json_body && ct && !content_type_is_json(ct))
        render_status(r, MD_ERR_UNSUPPORTED_MEDIA, "Content-Type must be application/json");
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
    (void)version;
    md_modelserver *s = cls;
    ms_request *r = *con_cls;
    if (!r) {
        r = request_new(s, conn, url, method);
        if (!r) return MHD_NO;
        *con_cls = r;
        return decide_early(r, conn, url);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded) return MHD_YES;
        r->n_body_bytes_seen += n;
        size_t limit = body_limit(r);
        if (r->n_body_bytes_seen > limit + DISCARD_MAX_BYTES) {
            r->abort_reason = "body far over the limit";
            return MHD_NO;
        }
        /* A body trickling in holds a connection thread: bound the whole upload. */
        uint64_t elapsed_ms = (md_clock_monotonic_ns() - r->t0_ns) / 1000000u;
        if (s->params.request_timeout_ms > 0 && elapsed_ms > (uint64_t)s->params.request_timeout_ms) {
            r->abort_reason = "body too slow";
            return MHD_NO;
        }
        if (r->error_code) return MHD_YES;
        if (r->n_body_bytes_seen > limit) {
            md_error err = {0};
            md_error_set(&err, MD_ERR_TOO_LARGE, "the request body exceeds the limit of %zu bytes", limit);
            render_status(r, MD_ERR_TOO_LARGE, err.message);
            md_buf_free(&r->body);
            return MHD_YES;
        }
        md_buf_append(&r->body, upload_data, n);
        if (!md_buf_ok(&r->body)) render_status(r, MD_ERR_NOMEM, NULL);
        return MHD_YES;
    }
    if (r->responded) return MHD_YES;
    if (!r->error_code) {
        md_error err = {0};
        md_status st = r->route->handler(r, &err);
        if (st != MD_OK) render_status(r, st, err.message);
    }
    return send_response(r, conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)conn;
    md_modelserver *s = cls;
    ms_request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    uint64_t dt = md_clock_monotonic_ns() - r->t0_ns;
    const char *route = r->route_index < MS_N_ROUTES ? ms_routes[r->route_index].path : "unmatched";
    if (r->stream) ms_stream_usage(r->stream, &r->prompt_tokens, &r->completion_tokens);
    if (r->responded) {
        ms_metrics_request(&s->metrics, r->route_index, r->http_status, dt);
        md_log(&s->params.log, MD_LOG_LEVEL_INFO, "request", MD_LOG_STR("request_id", r->request_id),
               MD_LOG_STR("method", r->method), MD_LOG_STR("route", route), MD_LOG_INT("status", r->http_status),
               MD_LOG_DOUBLE("duration_ms", (double)dt / 1e6), MD_LOG_BOOL("stream", r->stream != NULL),
               MD_LOG_INT("prompt_tokens", r->prompt_tokens), MD_LOG_INT("completion_tokens", r->completion_tokens),
               MD_LOG_INT("bytes_in", r->n_body_bytes_seen), MD_LOG_STR("error", r->error_code ? r->error_code : ""),
               MD_LOG_BOOL("complete", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK));
    } else {
        md_log(&s->params.log, MD_LOG_LEVEL_INFO, "request aborted", MD_LOG_STR("request_id", r->request_id),
               MD_LOG_STR("method", r->method), MD_LOG_STR("route", route),
               MD_LOG_STR("reason", r->abort_reason ? r->abort_reason : "connection closed"),
               MD_LOG_DOUBLE("duration_ms", (double)dt / 1e6), MD_LOG_INT("bytes_in", r->n_body_bytes_seen));
    }
    if (r->stream) ms_stream_release(r->stream); /* the request's reference */
    atomic_fetch_sub(&s->n_in_flight, 1);
    request_free(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    md_modelserver *s = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    line[utf8_prefix(line)] = '\0';
    md_log(&s->params.log, MD_LOG_LEVEL_WARN, "libmicrohttpd", MD_LOG_STR("detail", line));
}

/* A peek that reads EOF means the peer shut its sending side down; HTTP clients do that
 * only when they close the connection (a half-closing client would be taken for gone).
 * Pipelined bytes of a next request peek as data, not EOF. */
bool ms_conn_peer_closed(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    char c;
    ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void ms_completion_id(const ms_request *r, bool chat, char out[96]) {
    snprintf(out, 96, "%s-%s", chat ? "chatcmpl" : "cmpl", r->request_id);
}

/* ---------------------------------------------------------- start / stop ---- */

static md_status bind_listen(md_modelserver *s, md_error *err) {
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

md_status md_modelserver_start(md_modelserver *s, md_error *err) {
    if (s->daemon) return md_error_set(err, MD_ERR_CONFLICT, "the model server is already running");
    md_status st = bind_listen(s, err);
    if (st != MD_OK) return st;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)s->params.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)s->params.idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        close(s->listen_fd);
        s->listen_fd = -1;
        return md_error_set(err, MD_ERR_IO, "cannot start the HTTP server on %s:%d", s->host, s->port);
    }
    md_log(&s->params.log, MD_LOG_LEVEL_INFO, "listening", MD_LOG_STR("host", s->host), MD_LOG_INT("port", s->port),
           MD_LOG_STR("model", s->model_id), MD_LOG_STR("llm", md_llm_name(s->llm)),
           MD_LOG_BOOL("embeddings", s->params.embed != NULL), MD_LOG_INT("max_queue", s->params.max_queue),
           MD_LOG_INT("max_body_bytes", s->params.max_body_bytes));
    return MD_OK;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

md_status md_modelserver_stop(md_modelserver *s, uint32_t grace_ms) {
    if (!s->daemon || atomic_exchange(&s->stopped, true)) return MD_OK;
    atomic_store(&s->draining, true);
    uint64_t t0 = md_clock_monotonic_ns(), deadline = t0 + (uint64_t)grace_ms * 1000000u;
    MHD_socket quiesced = MHD_quiesce_daemon(s->daemon);
    size_t at_signal = md_modelserver_n_in_flight(s);
    while (md_modelserver_n_in_flight(s) > 0 || atomic_load(&s->n_producers) > 0) {
        if (md_clock_monotonic_ns() >= deadline) break;
        sleep_ms(DRAIN_POLL_MS);
    }
    size_t left = md_modelserver_n_in_flight(s);
    /* Cancel what runs, and give the cancelled requests a moment to send their error
     * answer (a 503, or a stream's error event and [DONE]) before connections close. */
    atomic_store(&s->aborting, true);
    uint64_t flush_deadline = md_clock_monotonic_ns() + (uint64_t)ABORT_FLUSH_MS * 1000000u;
    while ((md_modelserver_n_in_flight(s) > 0 || atomic_load(&s->n_producers) > 0) &&
           md_clock_monotonic_ns() < flush_deadline)
        sleep_ms(DRAIN_POLL_MS);
    atomic_store(&s->closing, true);
    MHD_stop_daemon(s->daemon); /* joins the connection threads; streams see `closing` */
    s->daemon = NULL;
    while (atomic_load(&s->n_producers) > 0)
        sleep_ms(DRAIN_POLL_MS);
    if (quiesced != MHD_INVALID_SOCKET) close(s->listen_fd);
    s->listen_fd = -1;
    md_log(&s->params.log, left ? MD_LOG_LEVEL_WARN : MD_LOG_LEVEL_INFO, "stopped",
           MD_LOG_INT("in_flight_at_stop", at_signal), MD_LOG_INT("cut_off", left),
           MD_LOG_DOUBLE("drain_ms", (double)(md_clock_monotonic_ns() - t0) / 1e6));
    return left ? MD_ERR_TIMEOUT : MD_OK;
}

void md_modelserver_free(md_modelserver *s) {
    if (!s) return;
    md_modelserver_stop(s, 0);
    ms_fifo_destroy(&s->fifo);
    md_free(s->host);
    md_free(s->model_id);
    md_free(s->embed_model_id);
    md_free(s);
}
