/* accounts.c: users, passwords, sessions and API keys (include/medify/accounts.h).
 *
 * Passwords: Argon2id (RFC 9106) through libargon2's encoded form, which carries the
 * salt and parameters, and whose verify compares the tags in constant time. Signing
 * in with an unknown e-mail still verifies a dummy hash made with the same cost, so
 * response time does not say whether an account exists.
 *
 * Tokens: 32 bytes from getrandom(2) (blocking until the pool is initialised, which
 * on any running system it is), written as hex after a 4-byte type prefix. The store
 * sees only SHA-256(token). The CSRF token is SHA-256("medify-csrf\n" || token): only
 * someone who holds the session token (the cookie) can compute it, and a page on
 * another origin cannot read the cookie.
 */
#include <argon2.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/sha256.h"
#include "store/store_ops.h"

static const char *const k_role_names[MD_ROLE_COUNT] = {"patient", "clinician", "admin"};

const char *md_role_name(md_role role) {
    return (unsigned)role < MD_ROLE_COUNT ? k_role_names[role] : "unknown";
}

md_status md_role_parse(const char *name, md_role *out) {
    for (int i = 0; name && i < MD_ROLE_COUNT; i++)
        if (strcmp(name, k_role_names[i]) == 0) {
            *out = (md_role)i;
            return MD_OK;
        }
    return MD_ERR_INVALID_ARG;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool random_bytes(void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += got;
        n -= (size_t)got;
    }
    return true;
}

/* ------------------------------------------------------------- passwords ---- */

md_password_params md_password_default_params(void) {
    return (md_password_params){
        .memory_kib = MD_PASSWORD_DEFAULT_MEMORY_KIB,
        .iterations = MD_PASSWORD_DEFAULT_ITERATIONS,
        .parallelism = MD_PASSWORD_DEFAULT_PARALLELISM,
    };
}

static md_status check_password(const char *password, md_error *err) {
    size_t n = password ? strlen(password) : 0;
    if (n < MD_PASSWORD_MIN_BYTES)
        return md_error_set(err, MD_ERR_INVALID_ARG, "the password must be at least %u bytes",
                            MD_PASSWORD_MIN_BYTES);
    if (n > MD_PASSWORD_MAX_BYTES)
        return md_error_set(err, MD_ERR_INVALID_ARG, "the password must be at most %u bytes", MD_PASSWORD_MAX_BYTES);
    if (!md_utf8_valid(password, n, NULL)) return md_error_set(err, MD_ERR_UTF8, "the password is not valid UTF-8");
    return MD_OK;
}

md_status md_password_hash(const char *password, md_password_params p, char out[MD_PASSWORD_ENCODED_BYTES],
                           md_error *err) {
    md_status st = check_password(password, err);
    if (st) return st;
    if (p.parallelism < 1 || p.iterations < 1 || p.memory_kib < MD_PASSWORD_MIN_MEMORY_KIB * p.parallelism)
        return md_error_set(err, MD_ERR_CONFIG, "invalid Argon2id parameters (m=%u KiB, t=%u, p=%u)", p.memory_kib,
                            p.iterations, p.parallelism);
    if (argon2_encodedlen(p.iterations, p.memory_kib, p.parallelism, MD_PASSWORD_SALT_BYTES, MD_PASSWORD_HASH_BYTES,
                          Argon2_id) > MD_PASSWORD_ENCODED_BYTES)
        return md_error_set(err, MD_ERR_CONFIG, "Argon2id parameters too large for the encoded hash");
    uint8_t salt[MD_PASSWORD_SALT_BYTES];
    if (!random_bytes(salt, sizeof salt)) return md_error_set(err, MD_ERR_IO, "getrandom failed: %s", strerror(errno));
    int rc = argon2id_hash_encoded(p.iterations, p.memory_kib, p.parallelism, password, strlen(password), salt,
                                   sizeof salt, MD_PASSWORD_HASH_BYTES, out, MD_PASSWORD_ENCODED_BYTES);
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) return md_error_set(err, MD_ERR_NOMEM, "out of memory hashing");
    if (rc != ARGON2_OK) return md_error_set(err, MD_ERR_INTERNAL, "argon2: %s", argon2_error_message(rc));
    return MD_OK;
}

md_status md_password_verify(const char *password, const char *encoded, md_error *err) {
    if (!password || !encoded || strncmp(encoded, "$argon2id$", 10) != 0)
        return md_error_set(err, MD_ERR_PARSE, "not an Argon2id encoded hash");
    size_t n = strlen(password);
    if (n > MD_PASSWORD_MAX_BYTES) return md_error_set(err, MD_ERR_UNAUTHORIZED, "wrong password");
    int rc = argon2id_verify(encoded, password, n);
    if (rc == ARGON2_OK) return MD_OK;
    if (rc == ARGON2_VERIFY_MISMATCH) return md_error_set(err, MD_ERR_UNAUTHORIZED, "wrong password");
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) return md_error_set(err, MD_ERR_NOMEM, "out of memory verifying");
    return md_error_set(err, MD_ERR_PARSE, "argon2: %s", argon2_error_message(rc));
}

/* ----------------------------------------------------------------- tokens ---- */

md_status md_token_generate(const char *prefix, char out[MD_TOKEN_BYTES], md_error *err) {
    if (!prefix || strlen(prefix) != 4) return md_error_set(err, MD_ERR_INVALID_ARG, "token prefix must be 4 bytes");
    uint8_t raw[MD_TOKEN_RANDOM_BYTES];
    if (!random_bytes(raw, sizeof raw)) return md_error_set(err, MD_ERR_IO, "getrandom failed: %s", strerror(errno));
    static const char hex[] = "0123456789abcdef";
    memcpy(out, prefix, 4);
    for (size_t i = 0; i < sizeof raw; i++) {
        out[4 + 2 * i] = hex[raw[i] >> 4];
        out[5 + 2 * i] = hex[raw[i] & 15];
    }
    out[4 + 2 * sizeof raw] = '\0';
    memset(raw, 0, sizeof raw);
    return MD_OK;
}

void md_token_hash(const char *token, char out[MD_TOKEN_HASH_BYTES]) { md_sha256_hex(token, strlen(token), out); }

void md_csrf_token(const char *session_token, char out[MD_TOKEN_HASH_BYTES]) {
    static const char k_label[] = "medify-csrf\n";
    md_sha256 c;
    uint8_t d[MD_SHA256_DIGEST_BYTES];
    md_sha256_init(&c);
    md_sha256_update(&c, k_label, sizeof k_label - 1);
    md_sha256_update(&c, session_token, strlen(session_token));
    md_sha256_final(&c, d);
    md_sha256_to_hex(d, out);
}

bool md_consttime_streq(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned diff = (unsigned)(na ^ nb);
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) diff |= (unsigned)((unsigned char)a[i] ^ (unsigned char)b[i]);
    return diff == 0;
}

/* A token must look like prefix + 64 hex digits before we hash and look it up. */
static bool token_shape_ok(const char *t, const char *prefix) {
    if (!t || strncmp(t, prefix, 4) != 0 || strlen(t) != MD_TOKEN_BYTES - 1) return false;
    for (const char *p = t + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

/* ------------------------------------------------------------------ users ---- */

void md_account_set_password_params(md_store *s, md_password_params params) { s->password_params = params; }
md_password_params md_account_password_params(const md_store *s) { return s->password_params; }

/* Lower-cases ASCII into out; checks the shape of an address. */
static md_status normalise_email(const char *email, char out[MD_EMAIL_MAX_BYTES + 1], md_error *err) {
    size_t n = email ? strlen(email) : 0;
    if (n == 0 || n > MD_EMAIL_MAX_BYTES)
        return md_error_set(err, MD_ERR_INVALID_ARG, "the e-mail must be 1 to %u bytes", MD_EMAIL_MAX_BYTES);
    if (!md_utf8_valid(email, n, NULL)) return md_error_set(err, MD_ERR_UTF8, "the e-mail is not valid UTF-8");
    size_t n_at = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == ',')
            return md_error_set(err, MD_ERR_INVALID_ARG, "the e-mail contains a space or a forbidden character");
        if (c == '@') n_at++, at = i;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[n] = '\0';
    if (n_at != 1 || at == 0 || at == n - 1)
        return md_error_set(err, MD_ERR_INVALID_ARG, "the e-mail must look like name@domain");
    return MD_OK;
}

static md_status check_name(const char *name, md_error *err) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > MD_NAME_MAX_BYTES)
        return md_error_set(err, MD_ERR_INVALID_ARG, "the name must be 1 to %u bytes", MD_NAME_MAX_BYTES);
    if (!md_utf8_valid(name, n, NULL)) return md_error_set(err, MD_ERR_UTF8, "the name is not valid UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < ' ') return md_error_set(err, MD_ERR_INVALID_ARG, "the name has control bytes");
    return MD_OK;
}

md_status md_account_create(md_store *s, const char *email, const char *password, const char *name, md_role role,
                            int64_t *id_out, md_error *err) {
    if (!s || !id_out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_account_create: missing argument");
    if ((unsigned)role >= MD_ROLE_COUNT) return md_error_set(err, MD_ERR_INVALID_ARG, "unknown role");
    char e[MD_EMAIL_MAX_BYTES + 1];
    md_status st = normalise_email(email, e, err);
    if (st == MD_OK) st = check_name(name, err);
    if (st) return st;
    char hash[MD_PASSWORD_ENCODED_BYTES];
    if ((st = md_password_hash(password, s->password_params, hash, err))) return st;
    return s->ops->product->user_insert(s, e, name, role, hash, id_out, err);
}

md_status md_account_authenticate(md_store *s, const char *email, const char *password, md_arena *a,
                                  md_user_record *out, md_error *err) {
    if (!s || !a || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_account_authenticate: missing argument");
    static const char k_bad[] = "wrong e-mail or password";
    char e[MD_EMAIL_MAX_BYTES + 1];
    const char *hash = NULL;
    md_status st = normalise_email(email, e, NULL);
    if (st == MD_OK) {
        md_error lerr = {0};
        st = s->ops->product->user_by_email(s, e, a, out, &hash, &lerr);
        if (st != MD_OK && st != MD_ERR_NOT_FOUND) {
            if (err) *err = lerr;
            return st;
        }
    }
    if (st != MD_OK || !hash) {
        /* Same work as a real check: hash a dummy with this store's cost. */
        char dummy[MD_PASSWORD_ENCODED_BYTES];
        if (md_password_hash("not-a-password", s->password_params, dummy, NULL) == MD_OK)
            (void)md_password_verify(password ? password : "", dummy, NULL);
        return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    }
    st = md_password_verify(password ? password : "", hash, NULL);
    if (st == MD_ERR_NOMEM) return md_error_set(err, st, "out of memory");
    if (st != MD_OK || out->disabled) return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    return MD_OK;
}

md_status md_account_get(md_store *s, int64_t id, md_arena *a, md_user_record *out, md_error *err) {
    if (!s || !a || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_account_get: missing argument");
    return s->ops->product->user_get(s, id, a, out, err);
}

md_status md_account_each(md_store *s, int64_t after_id, size_t limit, md_user_fn fn, void *ctx, md_error *err) {
    if (!s || !fn) return md_error_set(err, MD_ERR_INVALID_ARG, "md_account_each: missing argument");
    return s->ops->product->user_each(s, after_id, limit, fn, ctx, err);
}

md_status md_account_update(md_store *s, int64_t id, const md_user_update *u, md_error *err) {
    if (!s || !u) return md_error_set(err, MD_ERR_INVALID_ARG, "md_account_update: missing argument");
    md_status st = MD_OK;
    if (u->set_name && (st = check_name(u->name, err))) return st;
    if (u->set_role && (unsigned)u->role >= MD_ROLE_COUNT) return md_error_set(err, MD_ERR_INVALID_ARG, "unknown role");
    if (u->set_clinician_id && u->clinician_id != 0) {
        md_arena a;
        md_arena_init(&a, 1024);
        md_user_record c;
        st = s->ops->product->user_get(s, u->clinician_id, &a, &c, err);
        if (st == MD_ERR_NOT_FOUND || (st == MD_OK && c.role != MD_ROLE_CLINICIAN))
            st = md_error_set(err, MD_ERR_INVALID_ARG, "clinician_id %lld is not a clinician",
                              (long long)u->clinician_id);
        md_arena_free(&a);
        if (st) return st;
    }
    return s->ops->product->user_update(s, id, u, err);
}

/* --------------------------------------------------------------- sessions ---- */

md_status md_session_create(md_store *s, int64_t user_id, int64_t ttl_ms, char token_out[MD_TOKEN_BYTES],
                            md_error *err) {
    if (!s || ttl_ms <= 0) return md_error_set(err, MD_ERR_INVALID_ARG, "md_session_create: bad argument");
    md_status st = md_token_generate(MD_SESSION_PREFIX, token_out, err);
    if (st) return st;
    char h[MD_TOKEN_HASH_BYTES];
    md_token_hash(token_out, h);
    return s->ops->product->session_put(s, h, user_id, now_ms() + ttl_ms, err);
}

md_status md_session_resolve(md_store *s, const char *token, md_arena *a, md_user_record *out, md_error *err) {
    static const char k_bad[] = "the session is unknown or has expired";
    if (!s || !a || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_session_resolve: missing argument");
    if (!token_shape_ok(token, MD_SESSION_PREFIX)) return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    char h[MD_TOKEN_HASH_BYTES];
    md_token_hash(token, h);
    int64_t user_id = 0, expires = 0;
    md_status st = s->ops->product->session_get(s, h, &user_id, &expires, err);
    if (st == MD_ERR_NOT_FOUND) return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    if (st) return st;
    if (expires <= now_ms()) {
        (void)s->ops->product->session_delete(s, h, NULL);
        return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    }
    st = s->ops->product->user_get(s, user_id, a, out, err);
    if (st == MD_ERR_NOT_FOUND || (st == MD_OK && out->disabled)) return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    return st;
}

md_status md_session_revoke(md_store *s, const char *token, md_error *err) {
    if (!s) return md_error_set(err, MD_ERR_INVALID_ARG, "md_session_revoke: no store");
    if (!token_shape_ok(token, MD_SESSION_PREFIX)) return MD_OK;
    char h[MD_TOKEN_HASH_BYTES];
    md_token_hash(token, h);
    return s->ops->product->session_delete(s, h, err);
}

/* --------------------------------------------------------------- API keys ---- */

md_status md_api_key_create(md_store *s, const char *name, md_role role, int64_t created_by,
                            char key_out[MD_TOKEN_BYTES], int64_t *id_out, md_error *err) {
    if (!s || !id_out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_api_key_create: missing argument");
    if ((unsigned)role >= MD_ROLE_COUNT) return md_error_set(err, MD_ERR_INVALID_ARG, "unknown role");
    md_status st = check_name(name, err);
    if (st) return st;
    if ((st = md_token_generate(MD_API_KEY_PREFIX, key_out, err))) return st;
    char h[MD_TOKEN_HASH_BYTES];
    md_token_hash(key_out, h);
    return s->ops->product->api_key_put(s, name, role, h, created_by, id_out, err);
}

md_status md_api_key_resolve(md_store *s, const char *key, md_arena *a, md_api_key_record *out, md_error *err) {
    static const char k_bad[] = "the API key is unknown or revoked";
    if (!s || !a || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_api_key_resolve: missing argument");
    if (!token_shape_ok(key, MD_API_KEY_PREFIX)) return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    char h[MD_TOKEN_HASH_BYTES];
    md_token_hash(key, h);
    md_status st = s->ops->product->api_key_get(s, h, a, out, err);
    if (st == MD_ERR_NOT_FOUND || (st == MD_OK && out->revoked)) return md_error_set(err, MD_ERR_UNAUTHORIZED, k_bad);
    return st;
}

md_status md_api_key_each(md_store *s, md_api_key_fn fn, void *ctx, md_error *err) {
    if (!s || !fn) return md_error_set(err, MD_ERR_INVALID_ARG, "md_api_key_each: missing argument");
    return s->ops->product->api_key_each(s, fn, ctx, err);
}

md_status md_api_key_revoke(md_store *s, int64_t id, md_error *err) {
    if (!s) return md_error_set(err, MD_ERR_INVALID_ARG, "md_api_key_revoke: no store");
    return s->ops->product->api_key_revoke(s, id, err);
}
