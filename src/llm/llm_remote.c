/* The remote llm backend: an OpenAI-compatible HTTP endpoint over libcurl (llm.h).
 *
 * A chat is POST {base}/v1/chat/completions with {"messages": [...], "stream": true,
 * "stream_options": {"include_usage": true}, sampling fields}; a completion is POST
 * {base}/v1/completions with {"prompt": ...}. The answer is a text/event-stream of
 * "data: {chunk}" events ending with "data: [DONE]"; a chat chunk carries its text in
 * choices[0].delta.content, a completion chunk in choices[0].text, the last one a
 * finish_reason and (with include_usage) a "usage" object. Events are parsed as they
 * arrive (sse.c), so pieces reach the caller while the server still generates.
 *
 * Failure handling, in the order it is decided after each attempt:
 *   cancelled by the callback         MD_OK, finish_reason "cancelled"
 *   a stop string in the text         MD_OK, "stop" (a server that ignores "stop" is cut
 *                                     off client-side through the same gate as local)
 *   malformed SSE or JSON             MD_ERR_PARSE (the message says where, never what)
 *   no byte for idle_timeout_ms        MD_ERR_TIMEOUT (a progress callback watches)
 *   whole request over timeout_ms      MD_ERR_TIMEOUT
 *   cannot connect                    MD_ERR_IO        \  retried with backoff while
 *   HTTP 429 / 5xx                    MD_ERR_UNAVAILABLE /  nothing was streamed yet
 *   other HTTP errors                 401 unauthorized, 403 forbidden, 404 not found,
 *                                     400/422 invalid argument, else MD_ERR_IO; the
 *                                     message quotes the server's error message
 *   stream ends without [DONE] and without a finish_reason: MD_ERR_IO (truncated)
 * A server that ignores "stream" and answers one JSON object is accepted as well.
 *
 * Each call uses its own curl handle, so calls on one md_llm run concurrently.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "llm/llm_internal.h"
#include "llm/sse.h"

#define REMOTE_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define REMOTE_DEFAULT_TIMEOUT_MS         120000u
#define REMOTE_DEFAULT_IDLE_TIMEOUT_MS    30000u
#define REMOTE_DEFAULT_MAX_RETRIES        2
#define REMOTE_BACKOFF_FIRST_MS           250u /* doubled per retry */
#define REMOTE_BACKOFF_MAX_MS             4000u
#define REMOTE_RETRY_AFTER_MAX_MS         10000u     /* a server's Retry-After is honoured up to this */
#define REMOTE_MAX_BODY_BYTES             (8u << 20) /* an error body or a non-streamed answer */

typedef struct remote {
    char *url_chat, *url_completions;
    char *model, *api_key;
    uint32_t connect_timeout_ms, timeout_ms, idle_timeout_ms;
    int max_retries;
} remote;

md_llm_remote_params md_llm_remote_default_params(void) {
    return (md_llm_remote_params){
        .model = NULL,
        .api_key = NULL,
        .connect_timeout_ms = REMOTE_DEFAULT_CONNECT_TIMEOUT_MS,
        .timeout_ms = REMOTE_DEFAULT_TIMEOUT_MS,
        .idle_timeout_ms = REMOTE_DEFAULT_IDLE_TIMEOUT_MS,
        .max_retries = REMOTE_DEFAULT_MAX_RETRIES,
    };
}

/* One attempt's state, shared by the curl callbacks. */
typedef struct xfer {
    const md_llm_request *req;
    bool chat;
    uint32_t idle_timeout_ms;
    long http_status;
    bool is_sse;
    md_sse_parser sse;
    md_buf body;      /* the body when it is not a 200 event stream */
    md_llm_gate gate; /* stop strings are enforced here too, whatever the server does */
    uint64_t n_bytes;
    uint32_t n_pieces;
    uint64_t t_start_ns, t_last_byte_ns, t_first_piece_ns;
    bool done, got_finish, got_usage, cancelled, stopped, idle_timed_out;
    char finish[16];
    uint32_t prompt_tokens, completion_tokens;
    uint32_t retry_after_ms; /* the Retry-After header (seconds form), 0 when none */
    md_status st;            /* a parse error or an error event */
    md_error err;
} xfer;

static uint64_t now_ns(void) { return md_clock_monotonic_ns(); }

static void remote_free(void *impl) {
    remote *r = impl;
    if (!r) return;
    md_free(r->url_chat);
    md_free(r->url_completions);
    md_free(r->model);
    md_free(r->api_key);
    md_free(r);
}

/* ---- reading the answer ------------------------------------------------------------ */

static void set_finish(xfer *x, const char *reason) {
    size_t n = strlen(reason);
    if (n >= sizeof x->finish) n = sizeof x->finish - 1;
    memcpy(x->finish, reason, n);
    x->finish[n] = '\0';
    x->got_finish = true;
}

/* The server's message in {"error": {"message": "..."}}, {"error": "..."} or
 * {"message": "..."}; NULL when none. Borrowed from root. */
static const char *error_message(json_t *root) {
    json_t *e = json_object_get(root, "error");
    if (json_is_string(e)) return json_string_value(e);
    json_t *m = json_is_object(e) ? json_object_get(e, "message") : json_object_get(root, "message");
    return json_is_string(m) ? json_string_value(m) : (e ? "(no message)" : NULL);
}

/* Takes what one chunk (or a whole non-streamed answer) says. Returns false to stop. */
static bool take_chunk(xfer *x, json_t *root, bool whole) {
    if (!json_is_object(root)) {
        x->st = md_error_set(&x->err, MD_ERR_PARSE, "the server sent JSON that is not an object");
        return false;
    }
    const char *emsg = error_message(root);
    if (emsg) {
        x->st = md_error_set(&x->err, MD_ERR_IO, "the server reported an error: %.300s", emsg);
        return false;
    }
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        json_t *pt = json_object_get(usage, "prompt_tokens"), *ct = json_object_get(usage, "completion_tokens");
        if (json_is_integer(pt) && json_is_integer(ct) && json_integer_value(pt) >= 0 && json_integer_value(ct) >= 0) {
            x->prompt_tokens = (uint32_t)(json_integer_value(pt) > UINT32_MAX ? UINT32_MAX : json_integer_value(pt));
            x->completion_tokens =
                (uint32_t)(json_integer_value(ct) > UINT32_MAX ? UINT32_MAX : json_integer_value(ct));
            x->got_usage = true;
        }
    }
    json_t *choices = json_object_get(root, "choices");
    if (choices && !json_is_array(choices)) {
        x->st = md_error_set(&x->err, MD_ERR_PARSE, "the server sent a chunk whose \"choices\" is not an array");
        return false;
    }
    json_t *c0 = json_array_get(choices, 0);
    if (!c0) return true; /* the usage chunk has no choices */
    json_t *text = NULL;
    if (x->chat) {
        json_t *delta = json_object_get(c0, whole ? "message" : "delta");
        text = json_object_get(delta, "content");
    } else {
        text = json_object_get(c0, "text");
    }
    if (text && !json_is_string(text) && !json_is_null(text)) {
        x->st = md_error_set(&x->err, MD_ERR_PARSE, "the server sent text that is not a string");
        return false;
    }
    json_t *fr = json_object_get(c0, "finish_reason");
    if (json_is_string(fr)) set_finish(x, json_string_value(fr));
    size_t n = json_is_string(text) ? json_string_length(text) : 0;
    if (n > 0) {
        if (x->n_pieces++ == 0) x->t_first_piece_ns = now_ns();
        md_llm_gate_result r = md_llm_gate_push(&x->gate, x->req, json_string_value(text), n);
        if (!md_llm_gate_ok(&x->gate)) {
            x->st = md_error_set(&x->err, MD_ERR_NOMEM, "out of memory");
            return false;
        }
        if (r == MD_LLM_GATE_CANCEL) x->cancelled = true;
        if (r == MD_LLM_GATE_STOP) { /* the server went past a stop string: end here */
            x->stopped = true;
            set_finish(x, "stop");
        }
        if (r != MD_LLM_GATE_MORE) return false;
    }
    return true;
}

static bool on_event(const char *event, const char *data, size_t n_data, void *ctx) {
    xfer *x = ctx;
    (void)event;
    if (n_data == 6 && memcmp(data, "[DONE]", 6) == 0) {
        x->done = true;
        return false;
    }
    json_error_t jerr;
    json_t *root = json_loadb(data, n_data, 0, &jerr);
    if (!root) {
        /* jansson's text quotes the input; the message gives only the place */
        x->st = md_error_set(&x->err, MD_ERR_PARSE, "malformed JSON in event %llu of the stream (column %d)",
                             (unsigned long long)x->sse.n_events, jerr.column);
        return false;
    }
    bool go_on = take_chunk(x, root, false);
    json_decref(root);
    return go_on;
}

static size_t on_write(char *bytes, size_t size, size_t nmemb, void *ud) {
    xfer *x = ud;
    size_t n = size * nmemb;
    x->t_last_byte_ns = now_ns();
    x->n_bytes += n;
    if (x->http_status != 200 || !x->is_sse) {
        if (x->body.len + n > REMOTE_MAX_BODY_BYTES) {
            x->st =
                md_error_set(&x->err, MD_ERR_TOO_LARGE, "the server's answer exceeds %u bytes", REMOTE_MAX_BODY_BYTES);
            return 0;
        }
        md_buf_append(&x->body, bytes, n);
        return md_buf_ok(&x->body) ? n : 0;
    }
    if (x->done) return 0;
    md_status st = md_sse_feed(&x->sse, bytes, n, on_event, x, &x->err);
    if (st != MD_OK) {
        x->st = st == MD_ERR_TOO_LARGE ? MD_ERR_PARSE : st;
        if (x->err.status != x->st) x->err.status = x->st;
        return 0;
    }
    /* [DONE], a cancel or an error: end the transfer now rather than wait for the
     * server to close (a keep-alive server may not) */
    if (x->done || x->cancelled || x->stopped || x->st != MD_OK) return 0;
    return n;
}

/* Called by curl once per header line (status lines included), before any body byte. */
static size_t on_header(char *bytes, size_t size, size_t nmemb, void *ud) {
    xfer *x = ud;
    size_t n = size * nmemb;
    x->t_last_byte_ns = now_ns();
    if (n >= 5 && strncmp(bytes, "HTTP/", 5) == 0) { /* a status line (also of a 100 Continue) */
        const char *sp = memchr(bytes, ' ', n);
        long code = 0;
        for (const char *p = sp ? sp + 1 : bytes + n; p < bytes + n && *p >= '0' && *p <= '9' && code < 1000; p++)
            code = code * 10 + (*p - '0');
        x->http_status = code;
        x->is_sse = false;
        x->retry_after_ms = 0;
    } else if (n > 12 && strncasecmp(bytes, "retry-after:", 12) == 0) {
        uint32_t secs = 0;
        const char *p = bytes + 12, *end = bytes + n;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (p < end && *p >= '0' && *p <= '9' && secs < 3600)
            secs = secs * 10 + (uint32_t)(*p++ - '0');
        x->retry_after_ms = secs * 1000u; /* an HTTP-date form is ignored: the backoff applies */
    } else if (n > 13 && strncasecmp(bytes, "content-type:", 13) == 0) {
        const char *v = bytes + 13;
        size_t k = n - 13;
        while (k > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            k--;
        }
        x->is_sse = k >= 17 && strncasecmp(v, "text/event-stream", 17) == 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    xfer *x = ud;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (x->idle_timeout_ms && now_ns() - x->t_last_byte_ns > (uint64_t)x->idle_timeout_ms * 1000000u) {
        x->idle_timed_out = true;
        return 1; /* abort the transfer */
    }
    return 0;
}

/* ---- the request ------------------------------------------------------------------- */

static char *request_body(const remote *r, const md_llm_request *req) {
    json_t *root = json_object();
    if (!root) return NULL;
    const md_llm_sampling *s = &req->sampling;
    if (r->model) json_object_set_new(root, "model", json_string(r->model));
    if (req->msgs) {
        json_t *msgs = json_array();
        for (size_t i = 0; i < req->n_msgs; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "role", json_string(req->msgs[i].role));
            json_object_set_new(m, "content", json_string(req->msgs[i].content));
            json_array_append_new(msgs, m);
        }
        json_object_set_new(root, "messages", msgs);
    } else {
        json_object_set_new(root, "prompt", json_string(req->prompt));
    }
    json_object_set_new(root, "stream", json_true());
    json_t *so = json_object();
    json_object_set_new(so, "include_usage", json_true());
    json_object_set_new(root, "stream_options", so);
    json_object_set_new(root, "temperature", json_real(s->temperature > 0.0f ? s->temperature : 0.0));
    json_object_set_new(root, "top_p", json_real(s->top_p < 1.0f ? s->top_p : 1.0));
    if (s->max_tokens) json_object_set_new(root, "max_tokens", json_integer(s->max_tokens));
    json_object_set_new(root, "seed", json_integer((json_int_t)(s->seed & 0x7fffffffffffffffull)));
    json_object_set_new(root, "frequency_penalty", json_real(s->frequency_penalty));
    json_object_set_new(root, "presence_penalty", json_real(s->presence_penalty));
    /* not in OpenAI's API; llama.cpp's server, vLLM and `medify model serve` read them */
    if (s->top_k > 0) json_object_set_new(root, "top_k", json_integer(s->top_k));
    if (s->min_p > 0.0f) json_object_set_new(root, "min_p", json_real(s->min_p));
    if (s->repeat_penalty != 1.0f) {
        json_object_set_new(root, "repeat_penalty", json_real(s->repeat_penalty));
        json_object_set_new(root, "repeat_last_n", json_integer(s->repeat_last_n));
    }
    if (req->n_stop) {
        json_t *stop = json_array();
        for (size_t i = 0; i < req->n_stop; i++)
            json_array_append_new(stop, json_string(s->stop[i]));
        json_object_set_new(root, "stop", stop);
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

typedef enum attempt_kind {
    ATTEMPT_DONE = 0,  /* success or cancel: x holds the result */
    ATTEMPT_FAILED,    /* final error in err */
    ATTEMPT_RETRYABLE, /* error in err, may be retried if nothing was streamed */
} attempt_kind;

static md_status http_error_status(long code) {
    switch (code) {
    case 400:
    case 422: return MD_ERR_INVALID_ARG;
    case 401: return MD_ERR_UNAUTHORIZED;
    case 403: return MD_ERR_FORBIDDEN;
    case 404: return MD_ERR_NOT_FOUND;
    case 413: return MD_ERR_TOO_LARGE;
    default: return code == 429 || code >= 500 ? MD_ERR_UNAVAILABLE : MD_ERR_IO;
    }
}

static attempt_kind remote_attempt(const remote *r, const char *url, const char *body, uint32_t timeout_ms, xfer *x,
                                   md_error *err) {
    CURL *c = curl_easy_init();
    if (!c) {
        md_error_set(err, MD_ERR_NOMEM, "cannot create an HTTP handle");
        return ATTEMPT_FAILED;
    }
    struct curl_slist *headers = NULL, *h = NULL;
    md_buf auth;
    md_buf_init(&auth);
    if (r->api_key) md_buf_appendf(&auth, "Authorization: Bearer %s", r->api_key);
    static const char *const k_headers[] = {"Content-Type: application/json", "Accept: text/event-stream", "Expect:"};
    bool ok = md_buf_ok(&auth);
    for (size_t i = 0; ok && i < MD_ARRAY_LEN(k_headers); i++) {
        h = curl_slist_append(headers, k_headers[i]);
        ok = h != NULL;
        if (h) headers = h;
    }
    if (ok && r->api_key) {
        h = curl_slist_append(headers, auth.data);
        ok = h != NULL;
        if (h) headers = h;
    }
    md_buf_free(&auth);
    if (!ok) {
        curl_slist_free_all(headers);
        curl_easy_cleanup(c);
        md_error_set(err, MD_ERR_NOMEM, "out of memory");
        return ATTEMPT_FAILED;
    }
    char curl_msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "medify");
    x->t_start_ns = x->t_last_byte_ns = now_ns();
    CURLcode res = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code) x->http_status = code;
    double connect_s = 0.0;
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &connect_s);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    const char *why = curl_msg[0] ? curl_msg : curl_easy_strerror(res);

    if (x->cancelled || ((x->done || x->stopped) && x->st == MD_OK)) return ATTEMPT_DONE;
    if (x->st != MD_OK) {
        *err = x->err;
        err->status = x->st;
        return ATTEMPT_FAILED;
    }
    if (x->idle_timed_out) {
        md_error_set(err, MD_ERR_TIMEOUT, "the server sent nothing for %u ms", x->idle_timeout_ms);
        return ATTEMPT_FAILED;
    }
    if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
        (res == CURLE_OPERATION_TIMEDOUT && connect_s == 0.0 && x->n_bytes == 0)) {
        md_error_set(err, MD_ERR_IO, "cannot connect to the model server: %s", why);
        return ATTEMPT_RETRYABLE;
    }
    if (res == CURLE_OPERATION_TIMEDOUT) {
        md_error_set(err, MD_ERR_TIMEOUT, "the request took longer than %u ms", timeout_ms);
        return ATTEMPT_FAILED;
    }
    if (res != CURLE_OK) {
        md_error_set(err, MD_ERR_IO, "the connection to the model server failed after %llu bytes: %s",
                     (unsigned long long)x->n_bytes, why);
        return ATTEMPT_FAILED;
    }
    if (x->http_status != 200) {
        json_t *root = json_loadb(x->body.data ? x->body.data : "", x->body.len, 0, NULL);
        const char *msg = root ? error_message(root) : NULL;
        md_status st = http_error_status(x->http_status);
        md_error_set(err, st, "the model server answered HTTP %ld%s%.300s", x->http_status, msg ? ": " : "",
                     msg ? msg : "");
        json_decref(root);
        return st == MD_ERR_UNAVAILABLE ? ATTEMPT_RETRYABLE : ATTEMPT_FAILED;
    }
    if (!x->is_sse) { /* a server that ignored "stream": one JSON answer */
        json_error_t jerr;
        json_t *root = json_loadb(x->body.data ? x->body.data : "", x->body.len, 0, &jerr);
        if (!root) {
            md_error_set(err, MD_ERR_PARSE, "the model server's answer is not JSON (column %d)", jerr.column);
            return ATTEMPT_FAILED;
        }
        bool ok_chunk = take_chunk(x, root, true);
        json_decref(root);
        if (!ok_chunk && !x->cancelled && !x->stopped) {
            *err = x->err;
            err->status = x->st;
            return ATTEMPT_FAILED;
        }
        if (!x->got_finish) set_finish(x, "stop");
        return ATTEMPT_DONE;
    }
    if (!x->done && !x->got_finish) {
        md_error_set(err, MD_ERR_IO,
                     "the event stream ended without [DONE] or a finish_reason (truncated after %llu bytes)",
                     (unsigned long long)x->n_bytes);
        return ATTEMPT_FAILED;
    }
    return ATTEMPT_DONE;
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static md_status remote_generate(void *impl, const md_llm_request *req, md_llm_usage *usage, md_error *err) {
    const remote *r = impl;
    char *body = request_body(r, req);
    if (!body) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    const char *url = req->msgs ? r->url_chat : r->url_completions;
    uint64_t t0 = now_ns();
    md_error e = {0};
    md_status st = MD_OK;
    for (int attempt = 0;; attempt++) {
        xfer x;
        memset(&x, 0, sizeof x);
        x.req = req;
        x.chat = req->msgs != NULL;
        x.idle_timeout_ms = r->idle_timeout_ms;
        md_sse_parser_init(&x.sse, 0);
        md_buf_init(&x.body);
        md_llm_gate_init(&x.gate);
        uint64_t elapsed_ms = (now_ns() - t0) / 1000000u;
        uint32_t left_ms = elapsed_ms >= r->timeout_ms ? 1u : r->timeout_ms - (uint32_t)elapsed_ms;
        md_error_clear(&e);
        attempt_kind k = remote_attempt(r, url, body, left_ms, &x, &e);
        md_sse_parser_free(&x.sse);
        md_buf_free(&x.body);
        if (k == ATTEMPT_DONE && !x.cancelled && !x.stopped && md_llm_gate_flush(&x.gate, req) == MD_LLM_GATE_CANCEL)
            x.cancelled = true;
        if (k == ATTEMPT_DONE && !md_llm_gate_ok(&x.gate)) {
            k = ATTEMPT_FAILED;
            md_error_set(&e, MD_ERR_NOMEM, "out of memory");
        }
        md_llm_gate_free(&x.gate);
        if (k == ATTEMPT_DONE) {
            uint64_t t_end = now_ns(), t_first = x.n_pieces ? x.t_first_piece_ns : t_end;
            usage->prompt_tokens = x.got_usage ? x.prompt_tokens : 0;
            usage->completion_tokens = x.got_usage ? x.completion_tokens : x.n_pieces;
            usage->prompt_ms = (double)(t_first - x.t_start_ns) / 1e6;
            usage->generation_ms = (double)(t_end - t_first) / 1e6;
            md_llm_usage_set_finish(usage, x.cancelled ? "cancelled" : x.got_finish ? x.finish : "stop");
            st = MD_OK;
            break;
        }
        st = e.status != MD_OK ? e.status : MD_ERR_IO;
        bool retry = k == ATTEMPT_RETRYABLE && x.n_pieces == 0 && attempt < r->max_retries;
        uint32_t wait_ms = REMOTE_BACKOFF_FIRST_MS << (attempt < 5 ? attempt : 5);
        if (wait_ms > REMOTE_BACKOFF_MAX_MS) wait_ms = REMOTE_BACKOFF_MAX_MS;
        if (x.retry_after_ms > wait_ms)
            wait_ms = x.retry_after_ms < REMOTE_RETRY_AFTER_MAX_MS ? x.retry_after_ms : REMOTE_RETRY_AFTER_MAX_MS;
        if (retry && (now_ns() - t0) / 1000000u + wait_ms >= r->timeout_ms) retry = false; /* no time left */
        if (!retry) {
            if (k == ATTEMPT_RETRYABLE && attempt > 0) {
                size_t len = strlen(e.message);
                snprintf(e.message + len, sizeof e.message - len, " (after %d attempts)", attempt + 1);
            }
            break;
        }
        sleep_ms(wait_ms);
    }
    free(body); /* from jansson's allocator */
    if (st != MD_OK && err) *err = e;
    return st;
}

static const md_llm_backend k_remote_backend = {remote_generate, remote_free};

/* ---- opening ----------------------------------------------------------------------- */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_result = CURLE_OK;
static void curl_init_once(void) { g_curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *join_url(const char *base, size_t n_base, const char *path) {
    md_buf b;
    md_buf_init(&b);
    md_buf_append(&b, base, n_base);
    md_buf_append_str(&b, path);
    return md_buf_steal(&b);
}

md_status md_llm_open_remote(const char *base_url, const md_llm_remote_params *params, md_llm **out, md_error *err) {
    if (out) *out = NULL;
    if (!out || !base_url) return md_error_set(err, MD_ERR_INVALID_ARG, "no server URL given");
    if (strncasecmp(base_url, "http://", 7) != 0 && strncasecmp(base_url, "https://", 8) != 0)
        return md_error_set(err, MD_ERR_INVALID_ARG, "the model server URL must start with http:// or https://");
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_result != CURLE_OK) return md_error_set(err, MD_ERR_INTERNAL, "libcurl failed to initialise");
    md_llm_remote_params p = params ? *params : md_llm_remote_default_params();
    md_llm_remote_params d = md_llm_remote_default_params();
    remote *r = md_calloc(1, sizeof *r);
    if (!r) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    if (n >= 3 && strncmp(base_url + n - 3, "/v1", 3) == 0) n -= 3; /* "http://host/v1" is accepted as well */
    r->url_chat = join_url(base_url, n, "/v1/chat/completions");
    r->url_completions = join_url(base_url, n, "/v1/completions");
    r->model = p.model ? md_strdup(p.model) : NULL;
    r->api_key = p.api_key ? md_strdup(p.api_key) : NULL;
    r->connect_timeout_ms = p.connect_timeout_ms ? p.connect_timeout_ms : d.connect_timeout_ms;
    r->timeout_ms = p.timeout_ms ? p.timeout_ms : d.timeout_ms;
    r->idle_timeout_ms = p.idle_timeout_ms ? p.idle_timeout_ms : d.idle_timeout_ms;
    r->max_retries = p.max_retries < 0 ? d.max_retries : p.max_retries;
    if (!r->url_chat || !r->url_completions || (p.model && !r->model) || (p.api_key && !r->api_key)) {
        remote_free(r);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    md_buf name;
    md_buf_init(&name);
    md_buf_append_str(&name, "remote:");
    md_buf_append(&name, base_url, n);
    if (!md_buf_ok(&name)) {
        remote_free(r);
        md_buf_free(&name);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    md_status st = md_llm_wrap(&k_remote_backend, r, name.data, out, err);
    md_buf_free(&name);
    return st;
}
