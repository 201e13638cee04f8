/* handlers_static.c: the web UI, compiled into the binary (tools/embed_files.c writes
 * md_web_embedded from web/; see CMakeLists.txt).
 *
 *   GET /                 web/index.html
 *   GET /assets/{name}    web/<name>, for the names the build embedded; else 404
 *
 * Content-Type comes from the extension table below; a file of any other type is not
 * served (the build embeds only these). Caching: assets keep their names across
 * releases, so instead of a long max-age every answer carries a strong ETag (FNV-1a 64
 * of the bytes; Fowler, Noll, Vo) with "Cache-Control: no-cache", and a request whose
 * If-None-Match lists it gets 304 with no body (RFC 9110 sec. 13.1.2, RFC 9111
 * sec. 5.2.2.4). Security headers: a Content-Security-Policy of default-src 'self'
 * (no inline script or style, nothing from other origins), nosniff, no referrer, no
 * framing. The files are a few tens of KiB, so hashing them per request costs
 * microseconds and keeps the server free of mutable state.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "server/handlers_static.h"

/* Written by tools/embed_files.c from web/ (see CMakeLists.txt). */
typedef struct md_embedded_file {
    const char *path;
    const char *data;
    size_t n_bytes;
} md_embedded_file;
extern const md_embedded_file md_web_embedded[];
extern const size_t md_web_embedded_count;

#define STATIC_ASSET_PREFIX "/assets/"
#define STATIC_ETAG_BYTES   20 /* '"' + 16 hex + '"' + NUL */

/* Strict: the UI is plain same-origin files; API calls and the report stream are
 * same-origin too (connect-src falls back to default-src). */
static const char k_csp[] = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
                            "form-action 'self'";

static const struct {
    const char *ext;
    const char *content_type;
} k_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
};

static const char *content_type_of(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < MD_ARRAY_LEN(k_types); i++) {
        size_t n_ext = strlen(k_types[i].ext);
        if (n > n_ext && strcmp(name + n - n_ext, k_types[i].ext) == 0) return k_types[i].content_type;
    }
    return NULL;
}

static const md_embedded_file *find_file(const char *name) {
    if (!name || !*name || name[0] == '.' || strchr(name, '/')) return NULL;
    for (size_t i = 0; i < md_web_embedded_count; i++)
        if (strcmp(md_web_embedded[i].path, name) == 0) return &md_web_embedded[i];
    return NULL;
}

/* The file a static route's request names, NULL when there is none. */
static const md_embedded_file *file_of(const srv_request *r) {
    if (!r->route || !r->path) return NULL;
    if (strcmp(r->path, "/") == 0) return find_file("index.html");
    if (strncmp(r->path, STATIC_ASSET_PREFIX, strlen(STATIC_ASSET_PREFIX)) != 0) return NULL;
    return find_file(r->path + strlen(STATIC_ASSET_PREFIX));
}

static void etag_of(const md_embedded_file *f, char out[STATIC_ETAG_BYTES]) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */
    for (size_t i = 0; i < f->n_bytes; i++) {
        h ^= (unsigned char)f->data[i];
        h *= 0x100000001b3ULL; /* FNV 64 prime */
    }
    snprintf(out, STATIC_ETAG_BYTES, "\"%016llx\"", (unsigned long long)h);
}

/* True when an If-None-Match list names etag, or is "*" (RFC 9110 sec. 13.1.2; weak
 * comparison: a W/ prefix is ignored). */
static bool etag_listed(const char *list, const char *etag) {
    size_t n_etag = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*') return true;
        if (strncmp(p, "W/", 2) == 0) p += 2;
        if (strncmp(p, etag, n_etag) == 0 && (p[n_etag] == '\0' || p[n_etag] == ',' || p[n_etag] == ' ')) return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static md_status serve_file(srv_request *r, const md_embedded_file *f, md_error *err) {
    const char *type = f ? content_type_of(f->path) : NULL;
    if (!type) return md_error_set(err, MD_ERR_NOT_FOUND, "no such file");
    char etag[STATIC_ETAG_BYTES];
    etag_of(f, etag);
    const char *inm =
        r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH) : NULL;
    r->resp_content_type = type;
    if (inm && etag_listed(inm, etag)) {
        r->http_status = MHD_HTTP_NOT_MODIFIED;
        return MD_OK;
    }
    md_buf_append(&r->resp, f->data, f->n_bytes);
    return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

md_status srv_handle_static_index(srv_request *r, md_error *err) { return serve_file(r, find_file("index.html"), err); }

md_status srv_handle_static_asset(srv_request *r, md_error *err) { return serve_file(r, file_of(r), err); }

bool srv_route_is_static(const srv_route *route) {
    return route && (route->handler == srv_handle_static_index || route->handler == srv_handle_static_asset);
}

void srv_static_headers(const srv_request *r, struct MHD_Response *resp) {
    /* Each add fails only on OOM; the answer is still correct without the header. */
    const md_embedded_file *f = r->http_status == 200 || r->http_status == MHD_HTTP_NOT_MODIFIED ? file_of(r) : NULL;
    if (f) {
        char etag[STATIC_ETAG_BYTES];
        etag_of(f, etag);
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, f ? "no-cache" : "no-store");
    (void)MHD_add_response_header(resp, "Content-Security-Policy", k_csp);
    (void)MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    (void)MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}
