/* product.c: strict JSON input for the product routes, path ids, and the small
 * output pieces (users, timestamps) several handlers share.
 *
 * Input checks run in the same order as the clinical routes (request.c): empty body,
 * UTF-8, JSON syntax (duplicate keys refused), an object, unknown fields (all named at
 * once), then each field's type and bounds with a message naming the field.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/product.h"

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

md_status srv_body_object(srv_request *r, const char *const *fields, json_t **out, md_error *err) {
    *out = NULL;
    const char *body = r->body.data;
    size_t n = r->body.len;
    if (!body || n == 0) return md_error_set(err, MD_ERR_EMPTY, "the request body is empty; send a JSON object");
    size_t bad = 0;
    if (!md_utf8_valid(body, n, &bad))
        return md_error_set(err, MD_ERR_UTF8, "the request body is not valid UTF-8 (byte %zu)", bad);
    json_error_t jerr;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return md_error_set(err, MD_ERR_PARSE, "malformed JSON at line %d, column %d", jerr.line, jerr.column);
    if (!json_is_object(root)) {
        md_status st = md_error_set(err, MD_ERR_INVALID_ARG, "the request body must be a JSON object, got %s",
                                    type_name(root));
        json_decref(root);
        return st;
    }
    md_buf names;
    md_buf_init(&names);
    size_t n_bad = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        bool ok = false;
        for (size_t i = 0; fields[i]; i++) ok = ok || strcmp(fields[i], key) == 0;
        if (ok) continue;
        md_buf_appendf(&names, "%s'", n_bad ? ", " : "");
        md_buf_append(&names, key, strnlen(key, 64));
        md_buf_append_char(&names, '\'');
        n_bad++;
    }
    md_status st = MD_OK;
    if (n_bad)
        st = md_error_set(err, MD_ERR_INVALID_ARG, "unknown field%s %s", n_bad > 1 ? "s" : "",
                          md_buf_ok(&names) ? names.data : "");
    md_buf_free(&names);
    if (st != MD_OK) {
        json_decref(root);
        return st;
    }
    *out = root;
    return MD_OK;
}

md_status srv_field_str(json_t *obj, const char *name, bool required, size_t max_bytes, const char **out,
                        md_error *err) {
    *out = NULL;
    json_t *v = json_object_get(obj, name);
    if (!v) return required ? md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' is required", name) : MD_OK;
    if (!json_is_string(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be a string, got %s", name, type_name(v));
    size_t n = json_string_length(v);
    if (n > max_bytes)
        return md_error_set(err, MD_ERR_TOO_LARGE, "field '%s' is %zu bytes; the limit is %zu", name, n, max_bytes);
    const char *s = json_string_value(v);
    if (strlen(s) != n) return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' contains a NUL character", name);
    *out = s;
    return MD_OK;
}

md_status srv_field_num(json_t *obj, const char *name, double min, double max, double *out, bool *present,
                        md_error *err) {
    *present = false;
    json_t *v = json_object_get(obj, name);
    if (!v) return MD_OK;
    if (!json_is_number(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be a number, got %s", name, type_name(v));
    double d = json_number_value(v);
    if (!(d >= min && d <= max))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be from %g to %g", name, min, max);
    *out = d;
    *present = true;
    return MD_OK;
}

md_status srv_field_bool(json_t *obj, const char *name, bool *out, bool *present, md_error *err) {
    *present = false;
    json_t *v = json_object_get(obj, name);
    if (!v) return MD_OK;
    if (!json_is_boolean(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be a boolean, got %s", name, type_name(v));
    *out = json_is_true(v);
    *present = true;
    return MD_OK;
}

md_status srv_field_id(json_t *obj, const char *name, int64_t *out, bool *present, md_error *err) {
    *present = false;
    json_t *v = json_object_get(obj, name);
    if (!v) return MD_OK;
    *present = true;
    if (json_is_null(v)) {
        *out = 0;
        return MD_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be a non-negative integer or null", name);
    *out = (int64_t)json_integer_value(v);
    return MD_OK;
}

md_status srv_path_id(srv_request *r, size_t ith_segment, int64_t *id, md_error *err) {
    const char *p = r->path;
    for (size_t k = 0; k <= ith_segment && p; k++) {
        p = strchr(p, '/');
        if (p) p++;
    }
    if (!p) return md_error_set(err, MD_ERR_NOT_FOUND, "no such record");
    int64_t v = 0;
    size_t n = 0;
    for (; p[n] && p[n] != '/'; n++) {
        if (p[n] < '0' || p[n] > '9' || n >= 18) return md_error_set(err, MD_ERR_NOT_FOUND, "no such record");
        v = v * 10 + (p[n] - '0');
    }
    if (n == 0 || v <= 0) return md_error_set(err, MD_ERR_NOT_FOUND, "no such record");
    *id = v;
    return MD_OK;
}

void srv_time_json(md_buf *b, int64_t ms) {
    if (ms <= 0) {
        md_buf_append_str(b, "null");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    md_buf_appendf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void srv_user_json(md_buf *b, const md_user_record *u) {
    md_buf_appendf(b, "{\"id\":%lld,\"email\":", (long long)u->id);
    srv_json_str(b, u->email ? u->email : "");
    md_buf_append_str(b, ",\"name\":");
    srv_json_str(b, u->name ? u->name : "");
    md_buf_appendf(b, ",\"role\":\"%s\",\"clinician_id\":", md_role_name(u->role));
    if (u->clinician_id) md_buf_appendf(b, "%lld", (long long)u->clinician_id);
    else md_buf_append_str(b, "null");
    md_buf_appendf(b, ",\"disabled\":%s,\"created_at\":", u->disabled ? "true" : "false");
    srv_time_json(b, u->created_at_ms);
    md_buf_append_char(b, '}');
}

md_status srv_resp_ok(srv_request *r, md_error *err) {
    return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

md_status srv_body_none(srv_request *r, md_error *err) {
    if (r->body.len == 0) return MD_OK;
    static const char *const k_none[] = {NULL};
    json_t *obj = NULL;
    md_status st = srv_body_object(r, k_none, &obj, err);
    json_decref(obj);
    return st;
}
