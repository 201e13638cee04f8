/* medify accounts: users, passwords, sessions and API keys, kept in the store.
 *
 * Users have an e-mail (unique, compared case-insensitively: stored lower-cased), a
 * display name, a role (patient, clinician, admin), an optional assigned clinician
 * (for patients) and a disabled flag. Passwords are kept only as Argon2id encoded
 * hash strings ("$argon2id$v=19$m=...,t=...,p=...$salt$hash", RFC 9106), so the
 * parameters travel with each hash and can be raised later without a migration.
 *
 * Session tokens ("mds_" + 64 hex digits) and API keys ("mdk_" + 64 hex digits) carry
 * 256 bits from getrandom(2). The store keeps only the SHA-256 (hex) of a token, so a
 * copy of the database does not let anyone sign in. Lookups compare the hashes in
 * constant time. The CSRF token of a session is derived from the session token
 * (SHA-256 of a fixed label and the token), so it needs no storage and dies with the
 * session.
 *
 * Every function takes the store handle; nothing here keeps process state. Functions
 * that write several rows do so in one transaction.
 */
#ifndef MEDIFY_ACCOUNTS_H
#define MEDIFY_ACCOUNTS_H

#include "medify/base.h"
#include "medify/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_role {
    MD_ROLE_PATIENT = 0,
    MD_ROLE_CLINICIAN = 1,
    MD_ROLE_ADMIN = 2,
    MD_ROLE_COUNT
} md_role;

/* "patient", "clinician", "admin"; "unknown" out of range. */
const char *md_role_name(md_role role);
/* Parses a role name (exact, lower-case). MD_ERR_INVALID_ARG for anything else. */
md_status md_role_parse(const char *name, md_role *out);

/* ------------------------------------------------------------- passwords ---- */

/* Argon2id cost. The defaults follow the OWASP Password Storage Cheat Sheet's first
 * Argon2id row (m = 19 MiB, t = 2, p = 1): about 20-40 ms per hash on one core, which
 * bounds a login flood by CPU and memory while keeping offline guessing expensive.
 * Tests lower m and t through md_account_set_password_params (the server's
 * `password_memory_kib` / `password_iterations` settings). */
#define MD_PASSWORD_DEFAULT_MEMORY_KIB (19u * 1024u)
#define MD_PASSWORD_DEFAULT_ITERATIONS 2u
#define MD_PASSWORD_DEFAULT_PARALLELISM 1u
#define MD_PASSWORD_MIN_MEMORY_KIB 8u     /* Argon2's own floor is 8 * parallelism KiB */
#define MD_PASSWORD_SALT_BYTES 16u        /* RFC 9106 sec. 3.1: 128-bit salt */
#define MD_PASSWORD_HASH_BYTES 32u
#define MD_PASSWORD_ENCODED_BYTES 128u    /* room for the encoded string with the above */
#define MD_PASSWORD_MIN_BYTES 8u          /* NIST SP 800-63B sec. 5.1.1.2 */
#define MD_PASSWORD_MAX_BYTES 256u        /* bounds the hashing work per request */

typedef struct md_password_params {
    uint32_t memory_kib;
    uint32_t iterations;
    uint32_t parallelism;
} md_password_params;

md_password_params md_password_default_params(void);

/* Hashes password into an Argon2id encoded string in out (NUL-terminated). A fresh
 * random salt each call. MD_ERR_INVALID_ARG for a password outside
 * [MD_PASSWORD_MIN_BYTES, MD_PASSWORD_MAX_BYTES] or invalid UTF-8. */
md_status md_password_hash(const char *password, md_password_params params,
                           char out[MD_PASSWORD_ENCODED_BYTES], md_error *err);
/* Verifies password against an encoded hash (libargon2 compares in constant time).
 * MD_OK when it matches, MD_ERR_UNAUTHORIZED when it does not, MD_ERR_PARSE when the
 * encoded string is malformed. */
md_status md_password_verify(const char *password, const char *encoded, md_error *err);

/* ----------------------------------------------------------------- tokens ---- */

#define MD_TOKEN_RANDOM_BYTES 32u                  /* 256 bits */
#define MD_TOKEN_BYTES (4u + 2u * MD_TOKEN_RANDOM_BYTES + 1u) /* "mds_" + hex + NUL */
#define MD_TOKEN_HASH_BYTES 65u                    /* SHA-256 hex + NUL */
#define MD_SESSION_PREFIX "mds_"
#define MD_API_KEY_PREFIX "mdk_"

/* Fills out with prefix + 64 hex digits of getrandom(2) output. prefix is 4 bytes. */
md_status md_token_generate(const char *prefix, char out[MD_TOKEN_BYTES], md_error *err);
/* SHA-256 hex of the token: what the store keeps. */
void md_token_hash(const char *token, char out[MD_TOKEN_HASH_BYTES]);
/* The CSRF token of a session token (64 hex digits). */
void md_csrf_token(const char *session_token, char out[MD_TOKEN_HASH_BYTES]);
/* Constant-time equality of two NUL-terminated strings (time depends on lengths only). */
bool md_consttime_streq(const char *a, const char *b);

/* ------------------------------------------------------------------ users ---- */

typedef struct md_user_record {
    int64_t id;
    const char *email;        /* lower-case */
    const char *name;
    md_role role;
    int64_t clinician_id;     /* patients: assigned clinician's user id, 0 = none */
    bool disabled;
    int64_t created_at_ms;
} md_user_record;

#define MD_EMAIL_MAX_BYTES 254u /* RFC 5321 sec. 4.5.3.1.3 path limit */
#define MD_NAME_MAX_BYTES 200u

/* Sets the Argon2id cost md_account_create uses on this store handle (default
 * md_password_default_params()). Not thread-safe against concurrent creates. */
void md_account_set_password_params(md_store *s, md_password_params params);
md_password_params md_account_password_params(const md_store *s);

/* Creates a user: validates e-mail (one '@', no spaces, <= MD_EMAIL_MAX_BYTES), name
 * (non-empty UTF-8, <= MD_NAME_MAX_BYTES) and password, hashes the password, inserts.
 * MD_ERR_CONFLICT when the e-mail is taken, MD_ERR_INVALID_ARG for bad fields. */
md_status md_account_create(md_store *s, const char *email, const char *password,
                            const char *name, md_role role, int64_t *id_out, md_error *err);

/* Checks e-mail and password. MD_ERR_UNAUTHORIZED (one message) for an unknown e-mail,
 * a wrong password or a disabled account; for an unknown e-mail a dummy hash is still
 * verified so the timing does not reveal which e-mails exist. Strings in arena a. */
md_status md_account_authenticate(md_store *s, const char *email, const char *password,
                                  md_arena *a, md_user_record *out, md_error *err);

/* Reads a user; strings in arena a. MD_ERR_NOT_FOUND if absent. */
md_status md_account_get(md_store *s, int64_t id, md_arena *a, md_user_record *out, md_error *err);

/* Lists users with id > after_id in id order, at most limit (0 = all); fn returns false
 * to stop. Strings are valid during the call only. */
typedef bool (*md_user_fn)(const md_user_record *u, void *ctx);
md_status md_account_each(md_store *s, int64_t after_id, size_t limit, md_user_fn fn, void *ctx, md_error *err);

/* Partial update: only fields whose set_* flag is true change. Disabling a user also
 * ends all their sessions (one transaction). clinician_id must name a clinician or be
 * 0. MD_ERR_NOT_FOUND for an unknown id. */
typedef struct md_user_update {
    bool set_name, set_role, set_disabled, set_clinician_id;
    const char *name;
    md_role role;
    bool disabled;
    int64_t clinician_id;
} md_user_update;
md_status md_account_update(md_store *s, int64_t id, const md_user_update *u, md_error *err);

/* --------------------------------------------------------------- sessions ---- */

#define MD_SESSION_DEFAULT_TTL_MS (12LL * 3600 * 1000) /* a clinic shift */

/* Creates a session for user_id lasting ttl_ms; writes the token (shown once) to
 * token_out. Only its hash is stored. */
md_status md_session_create(md_store *s, int64_t user_id, int64_t ttl_ms,
                            char token_out[MD_TOKEN_BYTES], md_error *err);
/* Resolves a session token to its (enabled) user. MD_ERR_UNAUTHORIZED when unknown,
 * expired (expired rows are deleted) or the user is disabled. Strings in arena a. */
md_status md_session_resolve(md_store *s, const char *token, md_arena *a, md_user_record *out, md_error *err);
/* Ends the session (logout). MD_OK also when it did not exist. */
md_status md_session_revoke(md_store *s, const char *token, md_error *err);

/* --------------------------------------------------------------- API keys ---- */

typedef struct md_api_key_record {
    int64_t id;
    const char *name;
    md_role role;
    int64_t created_by;      /* user id of the admin who made it */
    int64_t created_at_ms;
    int64_t last_used_at_ms; /* 0 = never */
    bool revoked;
} md_api_key_record;

/* Creates an API key acting with `role`; writes the key (shown once) to key_out. */
md_status md_api_key_create(md_store *s, const char *name, md_role role, int64_t created_by,
                            char key_out[MD_TOKEN_BYTES], int64_t *id_out, md_error *err);
/* Resolves a key to its record. MD_ERR_UNAUTHORIZED when unknown or revoked. */
md_status md_api_key_resolve(md_store *s, const char *key, md_arena *a, md_api_key_record *out, md_error *err);
typedef bool (*md_api_key_fn)(const md_api_key_record *k, void *ctx);
md_status md_api_key_each(md_store *s, md_api_key_fn fn, void *ctx, md_error *err);
/* Revokes a key. MD_ERR_NOT_FOUND when absent or already revoked. */
md_status md_api_key_revoke(md_store *s, int64_t id, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_ACCOUNTS_H */
