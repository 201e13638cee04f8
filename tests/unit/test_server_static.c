/* The web UI as the server serves it (handlers_static.c): a real md_server on a
 * loopback port, requests with libcurl.
 *
 *   - GET / is web/index.html byte for byte, as text/html
 *   - every file index.html and app.js refer to is served, byte for byte, with the
 *     Content-Type of its extension (a file left out of the build's embed list fails)
 *   - unknown names, hidden names, nested paths and traversal attempts are 404 with
 *     the API's error object; POST / is 405 with Allow; HEAD has headers and no body
 *   - If-None-Match "*" or the file's ETag is 304 with no body; another tag is 200
 *   - nosniff on every answer
 *   - no file of web/ names another origin (no CDN, font or script from elsewhere)
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "medify/server.h"

typedef struct reply {
    long status;
    md_buf body;
    md_buf headers;
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
    md_buf_append(&((reply *)ctx)->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
    md_buf_append(&((reply *)ctx)->headers, p, size * n);
    return size * n;
}

/* method NULL: GET. extra: one request header line or NULL. */
static bool request(int port, const char *method, const char *path, const char *extra, reply *out) {
    md_buf_init(&out->body);
    md_buf_init(&out->headers);
    out->status = 0;
    CURL *c = curl_easy_init();
    if (!c) return false;
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *hdrs = extra ? curl_slist_append(NULL, extra) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/assets/../x" as written */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method && strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    md_buf_append_char(&out->body, '\0');
    md_buf_append_char(&out->headers, '\0');
    out->body.len--;
    out->headers.len--;
    return rc == CURLE_OK;
}

static void reply_free(reply *r) {
    md_buf_free(&r->body);
    md_buf_free(&r->headers);
}

/* The value of header `name` (case-insensitive) copied into buf, "" when absent. */
static const char *header(const reply *r, const char *name, char *buf, size_t cap) {
    buf[0] = '\0';
    size_t n_name = strlen(name);
    for (const char *line = r->headers.data; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t n_line = end ? (size_t)(end - line) : strlen(line);
        if (n_line > n_name && strncasecmp(line, name, n_name) == 0 && line[n_name] == ':') {
            const char *v = line + n_name + 1;
            while (*v == ' ')
                v++;
            size_t n_v = n_line - (size_t)(v - line);
            if (n_v >= cap) n_v = cap - 1;
            memcpy(buf, v, n_v);
            buf[n_v] = '\0';
            return buf;
        }
        line = end ? end + 2 : line + n_line;
    }
    return buf;
}

static char *read_web_file(const char *src, const char *name, size_t *n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/web/%s", src, name);
    char *data = NULL;
    md_error err = {0};
    if (md_read_file(path, 1u << 20, &data, n, &err) != MD_OK) return NULL;
    return data;
}

/* True when text holds an http(s) URL other than an XML namespace name (SVG's xmlns
 * is an identifier, never fetched). */
static bool names_other_origin(const char *text) {
    static const char *const k_schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < MD_ARRAY_LEN(k_schemes); i++)
        for (const char *p = strstr(text, k_schemes[i]); p; p = strstr(p + 1, k_schemes[i]))
            if (strncmp(p + strlen(k_schemes[i]), "www.w3.org/", 11) != 0) return true;
    return false;
}

static const struct {
    const char *name;
    const char *type;
} k_files[] = {
    {"index.html", "text/html; charset=utf-8"},   {"app.js", "text/javascript; charset=utf-8"},
    {"api.js", "text/javascript; charset=utf-8"}, {"dom.js", "text/javascript; charset=utf-8"},
    {"app.css", "text/css; charset=utf-8"},       {"icon.svg", "image/svg+xml"},
};

static void check_file(int port, const char *src, const char *name, const char *type) {
    char path[256], buf[256];
    snprintf(path, sizeof path, "/assets/%s", name);
    size_t n = 0;
    char *want = read_web_file(src, name, &n);
    CHECK_MSG(want != NULL, "web/%s is readable", name);
    reply r;
    CHECK(request(port, NULL, path, NULL, &r));
    CHECK_MSG(r.status == 200, "%s: status %ld", path, r.status);
    CHECK_EQ_STR(header(&r, "Content-Type", buf, sizeof buf), type);
    CHECK_EQ_STR(header(&r, "X-Content-Type-Options", buf, sizeof buf), "nosniff");
    CHECK_MSG(want && r.body.len == n && memcmp(r.body.data, want, n) == 0, "%s is web/%s byte for byte", path, name);
    /* no other origin anywhere in the UI */
    CHECK_MSG(want && !names_other_origin(want), "web/%s names another origin", name);
    reply_free(&r);
    md_free(want);
}

/* Every "/assets/NAME" in index.html and every "./NAME" import in app.js is served. */
static void check_references(int port, const char *text, const char *prefix) {
    size_t n_prefix = strlen(prefix);
    for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
        const char *start = p + n_prefix;
        size_t n = strcspn(start, "\"'");
        if (n == 0 || n > 64) continue;
        char path[128];
        snprintf(path, sizeof path, "/assets/%.*s", (int)n, start);
        reply r;
        CHECK(request(port, NULL, path, NULL, &r));
        CHECK_MSG(r.status == 200, "%s (referred to by the UI) answers %ld", path, r.status);
        reply_free(&r);
    }
}

int main(void) {
    const char *src = getenv("MEDIFY_SOURCE_DIR");
    if (!src) src = ".";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    md_error err = {0};
    md_kb *kb = NULL;
    md_server *srv = NULL;
    CHECK(md_kb_load_embedded(&kb, &err) == MD_OK);
    md_server_params p = md_server_default_params();
    p.port = 0;
    p.log.min_level = MD_LOG_LEVEL_OFF;
    CHECK(md_server_new(kb, p, &srv, &err) == MD_OK);
    CHECK(srv && md_server_start(srv, &err) == MD_OK);
    int port = srv ? md_server_port(srv) : 0;
    CHECK(port > 0);
    char buf[256];
    reply r;

    /* the page */
    size_t n_index = 0;
    char *index = read_web_file(src, "index.html", &n_index);
    CHECK(index != NULL);
    CHECK(request(port, NULL, "/", NULL, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(header(&r, "Content-Type", buf, sizeof buf), "text/html; charset=utf-8");
    CHECK(index && r.body.len == n_index && memcmp(r.body.data, index, n_index) == 0);
    CHECK(strstr(r.body.data ? r.body.data : "", "default-src 'self'") != NULL);
    reply_free(&r);

    for (size_t i = 0; i < MD_ARRAY_LEN(k_files); i++)
        check_file(port, src, k_files[i].name, k_files[i].type);
    if (index) {
        check_references(port, index, "\"/assets/");
        size_t n_app = 0;
        char *app = read_web_file(src, "app.js", &n_app);
        CHECK(app != NULL);
        if (app) check_references(port, app, "from './");
        md_free(app);
    }
    md_free(index);

    /* what is not a UI file */
    static const char *const k_missing[] = {"/assets/nope.js",
                                            "/assets/.hidden",
                                            "/assets/app.js/x",
                                            "/assets/../CMakeLists.txt",
                                            "/assets/%2e%2e%2fCMakeLists.txt",
                                            "/assets/",
                                            "/index.html"};
    for (size_t i = 0; i < MD_ARRAY_LEN(k_missing); i++) {
        CHECK(request(port, NULL, k_missing[i], NULL, &r));
        CHECK_MSG(r.status == 404, "%s: status %ld", k_missing[i], r.status);
        CHECK_MSG(strstr(r.body.data ? r.body.data : "", "\"code\":\"not_found\"") != NULL, "%s: %s", k_missing[i],
                  r.body.data ? r.body.data : "");
        reply_free(&r);
    }
    CHECK(request(port, "POST", "/", "Content-Type: application/json", &r));
    CHECK_EQ_INT(r.status, 405);
    CHECK_EQ_STR(header(&r, "Allow", buf, sizeof buf), "GET, HEAD, OPTIONS");
    reply_free(&r);
    CHECK(request(port, "HEAD", "/assets/app.css", NULL, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.body.len, 0);
    CHECK_EQ_STR(header(&r, "Content-Type", buf, sizeof buf), "text/css; charset=utf-8");
    reply_free(&r);

    /* revalidation */
    CHECK(request(port, NULL, "/assets/app.js", "If-None-Match: *", &r));
    CHECK_EQ_INT(r.status, 304);
    CHECK_EQ_INT(r.body.len, 0);
    reply_free(&r);
    CHECK(request(port, NULL, "/assets/app.js", "If-None-Match: \"0000000000000000\"", &r));
    CHECK_EQ_INT(r.status, 200);
    reply_free(&r);

    md_server_free(srv);
    md_kb_free(kb);
    curl_global_cleanup();
    return check_report("test_server_static");
}
