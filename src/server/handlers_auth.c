/* handlers_auth.c: sign-up, sign-in, sign-out and "who am I".
 *
 *   POST /v1/auth/signup {email,password,name}  201 {user, csrf_token, token}; role patient
 *   POST /v1/auth/login  {email,password}       200 {user, csrf_token, token}; 401 with one
 *                                               message for any wrong e-mail or password;
 *                                               429 + Retry-After after repeated failures
 *   POST /v1/auth/logout                        204; the session ends, the cookie is cleared
 *   GET  /v1/auth/me                            {user, csrf_token}
 *
 * A new session sets the cookie (HttpOnly, SameSite=Strict, Secure unless the server
 * runs with insecure cookies) and also returns the token for bearer use by programs.
 * Passwords never reach a log; the e-mail is not logged either.
 */
#include <string.h>

#include "server/product.h"

static const char *const k_signup_fields[] = {"email", "password", "name", NULL};
static const char *const k_login_fields[] = {"email", "password", NULL};

#define PASSWORD_FIELD_MAX_BYTES 1024 /* beyond MD_PASSWORD_MAX_BYTES: the account code says why */

/* {user, csrf_token, token} for a new session, with the cookie. */
static md_status answer_session(srv_request *r, const md_user_record *u, md_error *err) {
    char token[MD_TOKEN_BYTES];
    md_status st = md_session_create(r->srv->store, u->id, r->srv->params.session_ttl_ms, token, err);
    if (st) return st;
    char csrf[MD_TOKEN_HASH_BYTES];
    md_csrf_token(token, csrf);
    srv_cookie_set(r, token);
    md_buf_append_str(&r->resp, "{\"user\":");
    srv_user_json(&r->resp, u);
    md_buf_appendf(&r->resp, ",\"csrf_token\":\"%s\",\"token\":\"%s\"}", csrf, token);
    memset(token, 0, sizeof token);
    return srv_resp_ok(r, err);
}

md_status srv_handle_signup(srv_request *r, md_error *err) {
    json_t *body = NULL;
    md_status st = srv_body_object(r, k_signup_fields, &body, err);
    const char *email = NULL, *password = NULL, *name = NULL;
    if (st == MD_OK) st = srv_field_str(body, "email", true, MD_EMAIL_MAX_BYTES, &email, err);
    if (st == MD_OK) st = srv_field_str(body, "password", true, PASSWORD_FIELD_MAX_BYTES, &password, err);
    if (st == MD_OK) st = srv_field_str(body, "name", true, MD_NAME_MAX_BYTES, &name, err);
    int64_t id = 0;
    if (st == MD_OK) st = md_account_create(r->srv->store, email, password, name, MD_ROLE_PATIENT, &id, err);
    json_decref(body);
    if (st) return st;
    md_user_record u;
    if ((st = md_account_get(r->srv->store, id, &r->arena, &u, err))) return st;
    r->audit_type = "user";
    r->audit_id = id;
    r->http_status = 201;
    return answer_session(r, &u, err);
}

md_status srv_handle_login(srv_request *r, md_error *err) {
    json_t *body = NULL;
    md_status st = srv_body_object(r, k_login_fields, &body, err);
    const char *email = NULL, *password = NULL;
    if (st == MD_OK) st = srv_field_str(body, "email", true, MD_EMAIL_MAX_BYTES, &email, err);
    if (st == MD_OK) st = srv_field_str(body, "password", true, PASSWORD_FIELD_MAX_BYTES, &password, err);
    if (st) {
        json_decref(body);
        return st;
    }
    /* Throttle keys use the lower-cased e-mail so case variants share one count. */
    char key[MD_EMAIL_MAX_BYTES + 1];
    size_t n = strlen(email);
    for (size_t i = 0; i <= n; i++) key[i] = (char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] + 32 : email[i]);
    if (!srv_login_allowed(r->srv->limits, key, r->client_ip, &r->retry_after_s)) {
        json_decref(body);
        return md_error_set(err, MD_ERR_LIMIT, "too many failed sign-ins; retry in %d s", r->retry_after_s);
    }
    md_user_record u;
    st = md_account_authenticate(r->srv->store, email, password, &r->arena, &u, err);
    json_decref(body);
    if (st == MD_ERR_UNAUTHORIZED) srv_login_failed(r->srv->limits, key, r->client_ip);
    if (st) return st;
    srv_login_succeeded(r->srv->limits, key);
    r->audit_type = "user";
    r->audit_id = u.id;
    return answer_session(r, &u, err);
}

md_status srv_handle_logout(srv_request *r, md_error *err) {
    md_status st = srv_body_none(r, err);
    if (st) return st;
    if (r->who.token[0] && (st = md_session_revoke(r->srv->store, r->who.token, err))) return st;
    r->audit_type = "user";
    r->audit_id = r->who.user_id;
    srv_cookie_set(r, NULL);
    r->http_status = 204;
    return MD_OK;
}

md_status srv_handle_me(srv_request *r, md_error *err) {
    md_user_record u = r->who.user;
    if (r->who.api_key_id) {
        md_status st = md_account_get(r->srv->store, r->who.user_id, &r->arena, &u, err);
        if (st) return st;
        u.role = r->who.role; /* the key's role, not its creator's */
    }
    md_buf_append_str(&r->resp, "{\"user\":");
    srv_user_json(&r->resp, &u);
    md_buf_append_str(&r->resp, ",\"csrf_token\":");
    if (r->who.token[0]) {
        char csrf[MD_TOKEN_HASH_BYTES];
        md_csrf_token(r->who.token, csrf);
        md_buf_appendf(&r->resp, "\"%s\"", csrf);
    } else {
        md_buf_append_str(&r->resp, "null");
    }
    if (r->who.api_key_id) md_buf_appendf(&r->resp, ",\"api_key_id\":%lld", (long long)r->who.api_key_id);
    md_buf_append_char(&r->resp, '}');
    return srv_resp_ok(r, err);
}
