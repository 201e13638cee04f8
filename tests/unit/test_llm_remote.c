/* The remote llm backend against a small scripted HTTP server on loopback (llm.h,
 * llm_remote.c): a well-behaved OpenAI-style stream (sent in odd-sized pieces), the
 * completions endpoint, a server that ignores "stream", and misbehaving servers: one
 * that stalls (the idle timeout fires, no hang), truncated streams, malformed JSON,
 * an error event, a server that keeps the connection open after [DONE], 500 then 200 (the retry works), 401 (no retry,
 * the server's message), 503 forever, a closed port, and a cancel from the callback. Every call carries a total
 * timeout, so no scenario can hang the test. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "medify/llm.h"

typedef struct server {
    int fd, port;
    pthread_t thread;
    const char *script;
    int n_requests;
    char last_request[8192];
    volatile int stop;
} server;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_ms(void) { return (double)md_clock_monotonic_ns() / 1e6; }

static void send_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) return;
        s += k;
        n -= (size_t)k;
    }
}

/* Sends s in pieces of 7 bytes with a pause, so events arrive split anywhere. */
static void send_split(int fd, const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 7) {
        send_all(fd, s + i, n - i < 7 ? n - i : 7);
        sleep_ms(1);
    }
}

static const char k_sse_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";

#define CHUNK(delta, finish)                                                                                           \
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m1\","                        \
    "\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" finish "}]}\n\n"

/* clang-format off */
static const char k_chat_stream[] =
    ": hello\n\n"
    CHUNK("{\"role\":\"assistant\"}", "null")
    CHUNK("{\"content\":\"Hel\"}", "null")
    CHUNK("{\"content\":\"lo, caf\\u00e9\"}", "null")
    CHUNK("{\"content\":\" \\u2014 ok\"}", "null")
    CHUNK("{}", "\"stop\"")
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}\r\n\r\n"
    "data: [DONE]\n\n";
/* clang-format on */
#define CHAT_TEXT "Hello, caf\xC3\xA9 \xE2\x80\x94 ok"

static void respond(server *s, int fd, int i) {
    const char *sc = s->script;
    if (strcmp(sc, "rate_limited") == 0 && i == 0) {
        static const char r429[] =
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
            "Connection: close\r\n\r\n{\"error\":{\"message\":\"slow down\"}}";
        send_all(fd, r429, sizeof r429 - 1);
    } else if (strcmp(sc, "chat") == 0 || ((strcmp(sc, "retry") == 0 || strcmp(sc, "rate_limited") == 0) && i > 0)) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, k_chat_stream);
    } else if (strcmp(sc, "completion") == 0) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, "data: {\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"one \","
                       "\"finish_reason\":null}]}\n\n"
                       "data: {\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"two\","
                       "\"finish_reason\":\"length\"}]}\n\n"
                       "data: [DONE]\n\n");
    } else if (strcmp(sc, "plain_json") == 0) {
        static const char body[] = "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
                                   "{\"role\":\"assistant\",\"content\":\"whole answer\"},\"finish_reason\":\"stop\"}],"
                                   "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}";
        char head[256];
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 sizeof body - 1);
        send_all(fd, head, strlen(head));
        send_all(fd, body, sizeof body - 1);
    } else if (strcmp(sc, "slow") == 0) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_all(fd, CHUNK("{\"content\":\"Hel\"}", "null"), strlen(CHUNK("{\"content\":\"Hel\"}", "null")));
        for (int t = 0; t < 100 && !s->stop; t++) /* then nothing for up to 5 s */
            sleep_ms(50);
    } else if (strcmp(sc, "done_then_hang") == 0) { /* [DONE], then the connection stays open */
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, k_chat_stream);
        for (int t = 0; t < 100 && !s->stop; t++)
            sleep_ms(50);
    } else if (strcmp(sc, "truncated") == 0) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, CHUNK("{\"content\":\"Hel\"}", "null") CHUNK("{\"content\":\"lo\"}", "null"));
    } else if (strcmp(sc, "truncated_mid_event") == 0) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, CHUNK("{\"content\":\"Hel\"}", "null") "data: {\"choices\":[{\"delta\":{\"cont");
    } else if (strcmp(sc, "finish_no_done") == 0) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, CHUNK("{\"content\":\"Hi\"}", "null") CHUNK("{}", "\"length\""));
    } else if (strcmp(sc, "bad_json") == 0) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, CHUNK("{\"content\":\"Hel\"}", "null") "data: {\"choices\": [oops\n\ndata: [DONE]\n\n");
    } else if (strcmp(sc, "error_event") == 0) {
        send_all(fd, k_sse_head, sizeof k_sse_head - 1);
        send_split(fd, "data: {\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\"}}\n\n");
    } else if (strcmp(sc, "retry") == 0 || strcmp(sc, "unavailable") == 0) {
        static const char r500[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                   "Connection: close\r\n\r\n{\"error\":{\"message\":\"warming up\"}}";
        static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                   "Connection: close\r\n\r\n{\"error\":{\"message\":\"busy\"}}";
        if (sc[0] == 'r')
            send_all(fd, r500, sizeof r500 - 1);
        else
            send_all(fd, r503, sizeof r503 - 1);
    } else if (strcmp(sc, "unauthorized") == 0) {
        static const char r401[] =
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: close\r\n"
            "\r\n{\"error\":{\"message\":\"invalid api key\",\"type\":\"invalid_request_error\"}}";
        send_all(fd, r401, sizeof r401 - 1);
    }
}

/* Reads one request (headers and a Content-Length body) into s->last_request. */
static void read_request(server *s, int fd) {
    size_t n = 0, need = 0;
    char *buf = s->last_request;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 2000) <= 0) break;
        ssize_t k = recv(fd, buf + n, sizeof s->last_request - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end && need == 0) {
            const char *cl = strstr(buf, "Content-Length: ");
            if (!cl) cl = strstr(buf, "content-length: ");
            need = (size_t)(end + 4 - buf) + (cl ? (size_t)atol(cl + 16) : 0);
        }
        if (need && n >= need) break;
        if (n + 1 >= sizeof s->last_request) break;
    }
}

static void *serve(void *ud) {
    server *s = ud;
    while (!s->stop) {
        struct pollfd pfd = {s->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) continue;
        read_request(s, c);
        respond(s, c, s->n_requests);
        s->n_requests++;
        shutdown(c, SHUT_RDWR);
        close(c);
    }
    return NULL;
}

static bool server_start(server *s, const char *script) {
    memset(s, 0, sizeof *s);
    s->script = script;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &len) != 0)
        return false;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, serve, s) == 0;
}

static void server_stop(server *s) {
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static const char *g_stop = "END"; /* the stop string every call sends */

typedef struct collected {
    md_buf text;
    int n, cancel_at;
} collected;

static bool on_piece(const char *piece, size_t len, void *ctx) {
    collected *c = ctx;
    md_buf_append(&c->text, piece, len);
    c->n++;
    return !(c->cancel_at && c->n >= c->cancel_at);
}

/* Runs one chat against a fresh server with the given script. */
static md_status run(const char *script, md_llm_remote_params rp, bool chat, collected *c, md_buf *out, md_llm_usage *u,
                     md_error *err, server *s, double *elapsed_ms) {
    md_status st = MD_ERR_INTERNAL;
    if (!server_start(s, script)) {
        CHECK_MSG(false, "cannot start the test server");
        return st;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    md_llm *llm = NULL;
    CHECK(md_llm_open_remote(url, &rp, &llm, err) == MD_OK);
    md_llm_sampling smp = md_llm_sampling_default();
    smp.max_tokens = 50;
    smp.stop[0] = g_stop;
    double t0 = now_ms();
    if (llm && chat) {
        md_llm_message msgs[] = {{"system", "Be brief."}, {"user", "Fever and \"cough\"?"}};
        st = md_llm_chat(llm, msgs, 2, &smp, on_piece, c, out, u, err);
    } else if (llm) {
        st = md_llm_complete(llm, "Once", &smp, on_piece, c, out, u, err);
    }
    *elapsed_ms = now_ms() - t0;
    md_llm_free(llm);
    server_stop(s);
    return st;
}

static md_llm_remote_params params(void) {
    md_llm_remote_params rp = md_llm_remote_default_params();
    rp.model = "m1";
    rp.api_key = "k1";
    rp.timeout_ms = 10000;
    rp.idle_timeout_ms = 1000;
    rp.connect_timeout_ms = 2000;
    return rp;
}

#define SETUP                                                                                                          \
    server s;                                                                                                          \
    collected c = {0};                                                                                                 \
    md_buf out;                                                                                                        \
    md_llm_usage u;                                                                                                    \
    md_error err = {0};                                                                                                \
    double ms = 0;                                                                                                     \
    md_buf_init(&c.text);                                                                                              \
    md_buf_init(&out);                                                                                                 \
    md_status st
#define TEARDOWN                                                                                                       \
    md_buf_free(&c.text);                                                                                              \
    md_buf_free(&out)

static void test_chat_ok(void) {
    SETUP;
    st = run("chat", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_STR(out.data, CHAT_TEXT);
    md_buf_append_str(&c.text, "");
    CHECK_EQ_STR(c.text.data, CHAT_TEXT);
    CHECK_EQ_INT(c.n, 3);
    CHECK_EQ_STR(u.finish_reason, "stop");
    CHECK_EQ_INT(u.prompt_tokens, 11); /* from the final usage chunk */
    CHECK_EQ_INT(u.completion_tokens, 5);
    CHECK_EQ_INT(s.n_requests, 1);
    /* the request: path, headers, OpenAI fields */
    CHECK(strncmp(s.last_request, "POST /v1/chat/completions HTTP/1.1", 34) == 0);
    CHECK(strstr(s.last_request, "Authorization: Bearer k1") != NULL);
    CHECK(strstr(s.last_request, "\"stream\":true") != NULL);
    CHECK(strstr(s.last_request, "\"model\":\"m1\"") != NULL);
    CHECK(strstr(s.last_request, "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                                 "{\"role\":\"user\",\"content\":\"Fever and \\\"cough\\\"?\"}]") != NULL);
    CHECK(strstr(s.last_request, "\"max_tokens\":50") != NULL);
    CHECK(strstr(s.last_request, "\"stop\":[\"END\"]") != NULL);
    CHECK(strstr(s.last_request, "\"include_usage\":true") != NULL);
    TEARDOWN;
}

static void test_completion_and_plain(void) {
    SETUP;
    st = run("completion", params(), false, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_STR(out.data, "one two");
    CHECK_EQ_STR(u.finish_reason, "length");
    CHECK_EQ_INT(u.completion_tokens, 2); /* no usage chunk: the pieces counted */
    CHECK(strncmp(s.last_request, "POST /v1/completions HTTP/1.1", 29) == 0);
    CHECK(strstr(s.last_request, "\"prompt\":\"Once\"") != NULL);
    md_buf_clear(&out);
    st = run("plain_json", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_STR(out.data, "whole answer");
    CHECK_EQ_INT(u.prompt_tokens, 3);
    md_buf_clear(&out);
    st = run("done_then_hang", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message);                      /* [DONE] ends the call; no wait for the close */
    CHECK_MSG(ms < 3000, "the call took %.0f ms after [DONE]", ms); /* the idle timeout would say 1000 ms */
    CHECK_EQ_STR(out.data, CHAT_TEXT);
    md_buf_clear(&out);
    st = run("finish_no_done", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message); /* a finish_reason without [DONE] is complete */
    CHECK_EQ_STR(u.finish_reason, "length");
    TEARDOWN;
}

static void test_slow(void) {
    SETUP;
    st = run("slow", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_EQ_INT(st, MD_ERR_TIMEOUT);
    CHECK_MSG(ms < 4000, "the idle timeout took %.0f ms", ms);
    CHECK(strstr(err.message, "1000 ms") != NULL);
    CHECK_EQ_STR(out.data, "Hel"); /* what was streamed stays streamed */
    CHECK_EQ_INT(s.n_requests, 1); /* no retry after bytes were streamed */
    TEARDOWN;
}

static void test_malformed(void) {
    SETUP;
    st = run("truncated", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_EQ_INT(st, MD_ERR_IO);
    CHECK(strstr(err.message, "truncated") != NULL);
    CHECK_EQ_STR(out.data, "Hello");
    md_buf_clear(&out);
    st = run("truncated_mid_event", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_EQ_INT(st, MD_ERR_IO);
    CHECK(strstr(err.message, "truncated") != NULL);
    st = run("bad_json", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_EQ_INT(st, MD_ERR_PARSE);
    CHECK(strstr(err.message, "malformed JSON") != NULL);
    CHECK(strstr(err.message, "oops") == NULL); /* the message says where, not what */
    st = run("error_event", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK(st != MD_OK);
    CHECK(strstr(err.message, "model overloaded") != NULL);
    TEARDOWN;
}

static void test_http_errors(void) {
    SETUP;
    st = run("retry", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_INT(s.n_requests, 2); /* 500, then the stream */
    CHECK_EQ_STR(out.data, CHAT_TEXT);

    md_buf_clear(&out);
    st = run("rate_limited", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_INT(s.n_requests, 2); /* 429, then the stream after the server's Retry-After: 1 */
    CHECK_MSG(ms >= 950, "retried after %.0f ms", ms);
    CHECK_EQ_STR(out.data, CHAT_TEXT);

    st = run("unauthorized", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_EQ_INT(st, MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(s.n_requests, 1); /* no retry */
    CHECK(strstr(err.message, "401") != NULL && strstr(err.message, "invalid api key") != NULL);

    md_llm_remote_params rp = params();
    rp.max_retries = 1;
    st = run("unavailable", rp, true, &c, &out, &u, &err, &s, &ms);
    CHECK_EQ_INT(st, MD_ERR_UNAVAILABLE);
    CHECK_EQ_INT(s.n_requests, 2);
    CHECK(strstr(err.message, "503") != NULL && strstr(err.message, "busy") != NULL);
    CHECK(strstr(err.message, "2 attempts") != NULL);
    TEARDOWN;
}

static void test_cancel(void) {
    SETUP;
    c.cancel_at = 2;
    st = run("chat", params(), true, &c, &out, &u, &err, &s, &ms);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_STR(u.finish_reason, "cancelled");
    CHECK_EQ_INT(c.n, 2);
    CHECK_EQ_STR(out.data, "Hello, caf\xC3\xA9");
    TEARDOWN;
}

/* A server that ignores "stop": the client cuts the text itself, also across pieces
 * ("Hel" + "lo, ..." with the stop string "llo"), and ends the transfer. */
static void test_stop_client_side(void) {
    SETUP;
    g_stop = "llo";
    st = run("chat", params(), true, &c, &out, &u, &err, &s, &ms);
    g_stop = "END";
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_STR(out.data, "He");
    md_buf_append_str(&c.text, "");
    CHECK_EQ_STR(c.text.data, "He");
    CHECK_EQ_STR(u.finish_reason, "stop");
    TEARDOWN;
}

static void test_refused(void) {
    /* a port nobody listens on: bind one, note it, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", ntohs(a.sin_port));
    md_llm_remote_params rp = params();
    rp.max_retries = 1;
    md_llm *llm = NULL;
    md_error err = {0};
    CHECK(md_llm_open_remote(url, &rp, &llm, &err) == MD_OK);
    char name[80];
    snprintf(name, sizeof name, "remote:http://127.0.0.1:%d", ntohs(a.sin_port));
    CHECK_EQ_STR(md_llm_name(llm), name);
    double t0 = now_ms();
    CHECK(md_llm_complete(llm, "x", NULL, NULL, NULL, NULL, NULL, &err) == MD_ERR_IO);
    CHECK(strstr(err.message, "cannot connect") != NULL);
    CHECK(now_ms() - t0 < 3000);
    md_llm_free(llm);
    CHECK(md_llm_open_remote("ftp://example", NULL, &llm, &err) == MD_ERR_INVALID_ARG);
    CHECK(llm == NULL);
}

static void test_open_oom(void) {
    for (uint64_t k = 1; k < 20; k++) {
        md_llm *llm = NULL;
        md_llm_remote_params rp = params();
        md_alloc_fail_after(k, false);
        md_status st = md_llm_open_remote("http://127.0.0.1:1", &rp, &llm, NULL);
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        CHECK((st == MD_OK) == (llm != NULL));
        md_llm_free(llm);
    }
}

/* md_llm_open_from_env: nothing set, a URL, both, a bad number. */
static void test_env(void) {
    md_llm *llm = NULL;
    md_error err = {0};
    unsetenv("MEDIFY_LLM_MODEL");
    unsetenv("MEDIFY_LLM_URL");
    CHECK(md_llm_open_from_env(&llm, &err) == MD_OK);
    CHECK(llm == NULL);
    setenv("MEDIFY_LLM_URL", "http://127.0.0.1:1/", 1);
    CHECK(md_llm_open_from_env(&llm, &err) == MD_OK);
    CHECK_EQ_STR(md_llm_name(llm), "remote:http://127.0.0.1:1");
    md_llm_free(llm);
    llm = NULL;
    setenv("MEDIFY_LLM_TIMEOUT_MS", "soon", 1);
    CHECK(md_llm_open_from_env(&llm, &err) == MD_ERR_CONFIG);
    CHECK(strstr(err.message, "MEDIFY_LLM_TIMEOUT_MS") != NULL);
    unsetenv("MEDIFY_LLM_TIMEOUT_MS");
    setenv("MEDIFY_LLM_MODEL", "/nonexistent.gguf", 1);
    CHECK(md_llm_open_from_env(&llm, &err) == MD_ERR_CONFIG); /* both set */
    CHECK(llm == NULL);
    unsetenv("MEDIFY_LLM_MODEL");
    unsetenv("MEDIFY_LLM_URL");
}

int main(void) {
    test_chat_ok();
    test_completion_and_plain();
    test_slow();
    test_malformed();
    test_http_errors();
    test_cancel();
    test_stop_client_side();
    test_refused();
    test_open_oom();
    test_env();
    return check_report("test_llm_remote");
}
