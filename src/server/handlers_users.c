/* handlers_users.c: administration — accounts, API keys and the audit log.
 *
 *   GET    /v1/users?limit=&before=         [user]
 *   POST   /v1/users {email,password,name,role}              201 user
 *   PATCH  /v1/users/{id} {role?, name?, disabled?, clinician_id?}   user
 *   POST   /v1/api-keys {name, role}        201 {id, key, name, role}; the key is shown once
 *   GET    /v1/api-keys                     [{id, name, role, created_by, created_at,
 *                                             last_used_at, revoked}]
 *   DELETE /v1/api-keys/{id}                204
 *   GET    /v1/audit?limit=&before=         [{id, at, user_id, api_key_id, action,
 *                                             record_type, record_id, outcome, status,
 *                                             request_id}]
 *
 * Only admins reach these (authz.c); none of them returns clinical content.
 */
#include <stdlib.h>
#include <string.h>

#include "server/product.h"

#define LIST_DEFAULT_LIMIT 100
#define LIST_MAX_LIMIT 1000

static const char *const k_create_fields[] = {"email", "password", "name", "role", NULL};
static const char *const k_patch_fields[] = {"role", "name", "disabled", "clinician_id", NULL};
static const char *const k_key_fields[] = {"name", "role", NULL};

/* ?limit= (1..LIST_MAX_LIMIT) and ?before= (an id) */
static md_status page_args(srv_request *r, size_t *limit, int64_t *before, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st) return st;
    *limit = LIST_DEFAULT_LIMIT;
    *before = 0;
    const char *l = srv_query_get(r, "limit"), *b = srv_query_get(r, "before");
    if (l) {
        char *end = NULL;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > LIST_MAX_LIMIT)
            return md_error_set(err, MD_ERR_INVALID_ARG, "limit must be from 1 to %d", LIST_MAX_LIMIT);
        *limit = (size_t)v;
    }
    if (b) {
        char *end = NULL;
        long long v = strtoll(b, &end, 10);
        if (!*b || *end || v < 1) return md_error_set(err, MD_ERR_INVALID_ARG, "before must be a positive id");
        *before = v;
    }
    return MD_OK;
}

typedef struct list_ctx {
    md_buf *b;
    size_t n;
} list_ctx;

static bool user_row(const md_user_record *u, void *ctx) {
    list_ctx *lc = ctx;
    if (lc->n++) md_buf_append_char(lc->b, ',');
    srv_user_json(lc->b, u);
    return true;
}

md_status srv_handle_users_list(srv_request *r, md_error *err) {
    size_t limit;
    int64_t before;
    md_status st = page_args(r, &limit, &before, err);
    if (st) return st;
    /* Users are listed in id order; "before" here means "after this id" is not
     * offered: the list starts at the first id above `before`. */
    list_ctx lc = {&r->resp, 0};
    md_buf_append_char(&r->resp, '[');
    if ((st = md_account_each(r->srv->store, before, limit, user_row, &lc, err))) return st;
    md_buf_append_char(&r->resp, ']');
    r->audit_type = "user";
    return srv_resp_ok(r, err);
}

static md_status parse_role(json_t *body, const char *field, md_role *out, bool *present, md_error *err) {
    const char *s = NULL;
    md_status st = srv_field_str(body, field, false, 32, &s, err);
    *present = s != NULL;
    if (st || !s) return st;
    if (md_role_parse(s, out) != MD_OK)
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be patient, clinician or admin", field);
    return MD_OK;
}

md_status srv_handle_users_create(srv_request *r, md_error *err) {
    json_t *body = NULL;
    md_status st = srv_body_object(r, k_create_fields, &body, err);
    const char *email = NULL, *password = NULL, *name = NULL;
    md_role role = MD_ROLE_PATIENT;
    bool has_role = false;
    if (st == MD_OK) st = srv_field_str(body, "email", true, MD_EMAIL_MAX_BYTES, &email, err);
    if (st == MD_OK) st = srv_field_str(body, "password", true, 1024, &password, err);
    if (st == MD_OK) st = srv_field_str(body, "name", true, MD_NAME_MAX_BYTES, &name, err);
    if (st == MD_OK) st = parse_role(body, "role", &role, &has_role, err);
    if (st == MD_OK && !has_role) st = md_error_set(err, MD_ERR_INVALID_ARG, "field 'role' is required");
    int64_t id = 0;
    if (st == MD_OK) st = md_account_create(r->srv->store, email, password, name, role, &id, err);
    json_decref(body);
    if (st) return st;
    md_user_record u;
    if ((st = md_account_get(r->srv->store, id, &r->arena, &u, err))) return st;
    r->audit_type = "user";
    r->audit_id = id;
    r->http_status = 201;
    srv_user_json(&r->resp, &u);
    return srv_resp_ok(r, err);
}

md_status srv_handle_users_patch(srv_request *r, md_error *err) {
    int64_t id = 0;
    md_status st = srv_path_id(r, 2, &id, err);
    if (st) return st;
    r->audit_type = "user";
    r->audit_id = id;
    json_t *body = NULL;
    if ((st = srv_body_object(r, k_patch_fields, &body, err))) return st;
    md_user_update u = {0};
    const char *name = NULL;
    st = parse_role(body, "role", &u.role, &u.set_role, err);
    if (st == MD_OK) st = srv_field_str(body, "name", false, MD_NAME_MAX_BYTES, &name, err);
    if (st == MD_OK) st = srv_field_bool(body, "disabled", &u.disabled, &u.set_disabled, err);
    if (st == MD_OK) st = srv_field_id(body, "clinician_id", &u.clinician_id, &u.set_clinician_id, err);
    u.set_name = name != NULL;
    u.name = name;
    if (st == MD_OK && id == r->who.user_id && ((u.set_disabled && u.disabled) || (u.set_role && u.role != MD_ROLE_ADMIN)))
        st = md_error_set(err, MD_ERR_CONFLICT, "an admin cannot disable or demote their own account");
    if (st == MD_OK) st = md_account_update(r->srv->store, id, &u, err);
    json_decref(body);
    if (st) return st;
    md_user_record out;
    if ((st = md_account_get(r->srv->store, id, &r->arena, &out, err))) return st;
    srv_user_json(&r->resp, &out);
    return srv_resp_ok(r, err);
}

md_status srv_handle_keys_create(srv_request *r, md_error *err) {
    json_t *body = NULL;
    md_status st = srv_body_object(r, k_key_fields, &body, err);
    const char *name = NULL;
    md_role role = MD_ROLE_PATIENT;
    bool has_role = false;
    if (st == MD_OK) st = srv_field_str(body, "name", true, MD_NAME_MAX_BYTES, &name, err);
    if (st == MD_OK) st = parse_role(body, "role", &role, &has_role, err);
    if (st == MD_OK && !has_role) st = md_error_set(err, MD_ERR_INVALID_ARG, "field 'role' is required");
    char key[MD_TOKEN_BYTES];
    int64_t id = 0;
    if (st == MD_OK) st = md_api_key_create(r->srv->store, name, role, r->who.user_id, key, &id, err);
    if (st == MD_OK) {
        md_buf_appendf(&r->resp, "{\"id\":%lld,\"key\":\"%s\",\"name\":", (long long)id, key);
        srv_json_str(&r->resp, name);
        md_buf_appendf(&r->resp, ",\"role\":\"%s\"}", md_role_name(role));
        memset(key, 0, sizeof key);
        r->audit_type = "api_key";
        r->audit_id = id;
        r->http_status = 201;
    }
    json_decref(body);
    return st ? st : srv_resp_ok(r, err);
}

static bool key_row(const md_api_key_record *k, void *ctx) {
    list_ctx *lc = ctx;
    md_buf *b = lc->b;
    if (lc->n++) md_buf_append_char(b, ',');
    md_buf_appendf(b, "{\"id\":%lld,\"name\":", (long long)k->id);
    srv_json_str(b, k->name ? k->name : "");
    md_buf_appendf(b, ",\"role\":\"%s\",\"created_by\":%lld,\"created_at\":", md_role_name(k->role),
                   (long long)k->created_by);
    srv_time_json(b, k->created_at_ms);
    md_buf_append_str(b, ",\"last_used_at\":");
    srv_time_json(b, k->last_used_at_ms);
    md_buf_appendf(b, ",\"revoked\":%s}", k->revoked ? "true" : "false");
    return true;
}

md_status srv_handle_keys_list(srv_request *r, md_error *err) {
    md_status st = srv_query_check(r, err);
    if (st) return st;
    list_ctx lc = {&r->resp, 0};
    md_buf_append_char(&r->resp, '[');
    if ((st = md_api_key_each(r->srv->store, key_row, &lc, err))) return st;
    md_buf_append_char(&r->resp, ']');
    r->audit_type = "api_key";
    return srv_resp_ok(r, err);
}

md_status srv_handle_keys_delete(srv_request *r, md_error *err) {
    int64_t id = 0;
    md_status st = srv_path_id(r, 2, &id, err);
    if (st) return st;
    r->audit_type = "api_key";
    r->audit_id = id;
    if ((st = md_api_key_revoke(r->srv->store, id, err))) return st;
    r->http_status = 204;
    return MD_OK;
}

static bool audit_row(const md_audit_record *a, void *ctx) {
    list_ctx *lc = ctx;
    md_buf *b = lc->b;
    if (lc->n++) md_buf_append_char(b, ',');
    md_buf_appendf(b, "{\"id\":%lld,\"at\":", (long long)a->id);
    srv_time_json(b, a->at_ms);
    md_buf_append_str(b, ",\"user_id\":");
    if (a->user_id) md_buf_appendf(b, "%lld", (long long)a->user_id);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"api_key_id\":");
    if (a->api_key_id) md_buf_appendf(b, "%lld", (long long)a->api_key_id);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"action\":");
    srv_json_str(b, a->action ? a->action : "");
    md_buf_append_str(b, ",\"record_type\":");
    if (a->record_type) srv_json_str(b, a->record_type);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"record_id\":");
    if (a->record_id) md_buf_appendf(b, "%lld", (long long)a->record_id);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"outcome\":");
    srv_json_str(b, a->outcome ? a->outcome : "");
    md_buf_appendf(b, ",\"status\":%d,\"request_id\":", a->http_status);
    srv_json_str(b, a->request_id ? a->request_id : "");
    md_buf_append_char(b, '}');
    return true;
}

md_status srv_handle_audit(srv_request *r, md_error *err) {
    size_t limit;
    int64_t before;
    md_status st = page_args(r, &limit, &before, err);
    if (st) return st;
    list_ctx lc = {&r->resp, 0};
    md_buf_append_char(&r->resp, '[');
    if ((st = md_records_audit_each(r->srv->store, before, limit, audit_row, &lc, err))) return st;
    md_buf_append_char(&r->resp, ']');
    return srv_resp_ok(r, err);
}
