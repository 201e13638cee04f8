/* auth.c: who is asking.
 *
 * Two credentials, checked in this order:
 *   Authorization: Bearer <token>   a session token ("mds_...", as returned by login)
 *                                   or an API key ("mdk_..."). A bearer that does not
 *                                   resolve is 401: the caller meant to authenticate.
 *   Cookie: medify_session=<token>  the browser's session. A cookie that does not
 *                                   resolve (expired, logged out) leaves the caller
 *                                   anonymous, so the sign-in page still loads.
 *
 * CSRF: a cookie is sent by the browser whatever page made the request, so every
 * state-changing request (anything but GET, HEAD, OPTIONS) authenticated by the
 * cookie must also carry X-CSRF-Token, the value returned by signup/login/me, derived
 * from the session token (accounts.h) and compared in constant time. A page on
 * another origin can neither read the cookie nor that value. Bearer requests need no
 * CSRF token: browsers never attach them on their own. SameSite=Strict on the cookie
 * is the second line of defence.
 */
#include <microhttpd.h>
#include <string.h>
#include <strings.h>

#include "server/server_internal.h"

static bool method_is_safe(const char *m) {
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

static md_status from_session(srv_request *r, const char *token, md_error *err) {
    md_status st = md_session_resolve(r->srv->store, token, &r->arena, &r->who.user, err);
    if (st != MD_OK) return st;
    r->who.authenticated = true;
    r->who.role = r->who.user.role;
    r->who.user_id = r->who.user.id;
    snprintf(r->who.token, sizeof r->who.token, "%s", token);
    return MD_OK;
}

md_status srv_authenticate(srv_request *r, md_error *err) {
    memset(&r->who, 0, sizeof r->who);
    md_store *s = r->srv->store;
    const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return md_error_set(err, MD_ERR_UNAUTHORIZED, "the Authorization header must be 'Bearer <token>'");
        const char *token = authz + 7;
        while (*token == ' ') token++;
        if (strncmp(token, MD_API_KEY_PREFIX, 4) == 0) {
            md_api_key_record k;
            md_status st = md_api_key_resolve(s, token, &r->arena, &k, err);
            if (st != MD_OK) return st;
            r->who.authenticated = true;
            r->who.role = k.role;
            r->who.user_id = k.created_by;
            r->who.api_key_id = k.id;
            r->who.user.id = k.created_by;
            r->who.user.role = k.role;
            return MD_OK;
        }
        return from_session(r, token, err);
    }
    const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SRV_SESSION_COOKIE);
    if (!cookie || !*cookie) return MD_OK;
    md_error ignored = {0};
    md_status st = from_session(r, cookie, &ignored);
    if (st == MD_ERR_UNAUTHORIZED) {
        memset(&r->who, 0, sizeof r->who);
        return MD_OK;
    }
    if (st != MD_OK) return md_error_set(err, st, "%s", ignored.message);
    r->who.via_cookie = true;
    if (!method_is_safe(r->method)) {
        const char *sent = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
        char want[MD_TOKEN_HASH_BYTES];
        md_csrf_token(r->who.token, want);
        if (!sent || !md_consttime_streq(sent, want))
            return md_error_set(err, MD_ERR_FORBIDDEN, "missing or wrong X-CSRF-Token header");
    }
    return MD_OK;
}

void srv_cookie_set(srv_request *r, const char *token) {
    bool secure = !r->srv->params.insecure_cookies;
    if (token) {
        long long max_age = r->srv->params.session_ttl_ms / 1000;
        snprintf(r->set_cookie, sizeof r->set_cookie, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                 SRV_SESSION_COOKIE, token, max_age, secure ? "; Secure" : "");
    } else {
        snprintf(r->set_cookie, sizeof r->set_cookie, "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
                 SRV_SESSION_COOKIE, secure ? "; Secure" : "");
    }
}
