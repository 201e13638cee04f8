/* medify base: the small foundation every other module stands on.
 *
 *   status    one table of error codes: negative code, stable name, message, CLI exit
 *             code and HTTP status, so the API, the CLI and the logs agree.
 *   alloc     every allocation goes through md_malloc & co.; tests install a hook that
 *             fails the Nth allocation to prove each entry point survives OOM.
 *   arena     bump allocation with a mark/reset point (per request, per row, per turn).
 *   buf, vec  growable byte buffer and growable array of fixed-size elements.
 *   map       string-keyed hash map (open addressing, keys copied into the map).
 *   utf8      validation, decoding, and folding to lower-case ASCII for matching.
 *   log       JSON-lines logging, one object per line on a FILE (stderr by default).
 *   config    options from a table; layers: defaults < file < MEDIFY_* env < flags.
 *   io        bounded whole-stream reads that refuse oversized input.
 *   clock     monotonic nanoseconds and wall-clock timestamps.
 *
 * Conventions: functions that can fail return md_status (MD_OK == 0, errors < 0) and
 * may fill an optional md_error with a human-readable message. Nothing here calls
 * exit() or abort(). Ownership is stated on each constructor.
 */
#ifndef MEDIFY_BASE_H
#define MEDIFY_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MD_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define MD_NODISCARD __attribute__((warn_unused_result))
#else
#define MD_PRINTF(fmt_idx, arg_idx)
#define MD_NODISCARD
#endif

#define MD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- status ---- */

/* X(enum suffix, code, name, exit code, http status, message) */
#define MD_STATUS_TABLE(X)                                                                   \
    X(OK, 0, "ok", 0, 200, "success")                                                       \
    X(ERR_NOMEM, -1, "out_of_memory", 70, 503, "out of memory")                            \
    X(ERR_INVALID_ARG, -2, "invalid_argument", 64, 400, "invalid argument")                \
    X(ERR_IO, -3, "io_error", 74, 500, "input/output error")                               \
    X(ERR_PARSE, -4, "parse_error", 65, 400, "malformed input")                            \
    X(ERR_UTF8, -5, "invalid_utf8", 65, 400, "input is not valid UTF-8")                   \
    X(ERR_TOO_LARGE, -6, "too_large", 65, 413, "input is too large")                       \
    X(ERR_NOT_FOUND, -7, "not_found", 66, 404, "not found")                                \
    X(ERR_EMPTY, -8, "empty_input", 65, 400, "input is empty")                             \
    X(ERR_BINARY, -9, "binary_input", 65, 400, "input looks like binary data, not text")   \
    X(ERR_KB, -10, "knowledge_base_error", 78, 500, "knowledge base is invalid")           \
    X(ERR_CONFIG, -11, "config_error", 78, 500, "invalid configuration")                   \
    X(ERR_UNSUPPORTED, -12, "unsupported", 69, 501, "not supported")                       \
    X(ERR_CONFLICT, -13, "conflict", 75, 409, "conflicting state")                         \
    X(ERR_UNAUTHORIZED, -14, "unauthorized", 77, 401, "authentication required")           \
    X(ERR_FORBIDDEN, -15, "forbidden", 77, 403, "not allowed")                             \
    X(ERR_LIMIT, -16, "limit_exceeded", 75, 429, "limit exceeded")                         \
    X(ERR_TIMEOUT, -17, "timeout", 75, 504, "timed out")                                   \
    X(ERR_INTERNAL, -18, "internal_error", 70, 500, "internal error")                      \
    X(ERR_METHOD_NOT_ALLOWED, -19, "method_not_allowed", 64, 405, "method not allowed")    \
    X(ERR_UNSUPPORTED_MEDIA, -20, "unsupported_media_type", 65, 415, "unsupported media type") \
    X(ERR_UNAVAILABLE, -21, "unavailable", 69, 503, "service unavailable")

typedef enum md_status {
#define MD_STATUS_ENUM(suffix, code, name, exit_code, http, message) MD_##suffix = code,
    MD_STATUS_TABLE(MD_STATUS_ENUM)
#undef MD_STATUS_ENUM
} md_status;

#define MD_STATUS_COUNT 22

const char *md_status_name(md_status s);    /* stable snake_case name, "unknown" if none */
const char *md_status_message(md_status s); /* short English message */
int md_status_exit_code(md_status s);       /* sysexits-style process exit code */
int md_status_http(md_status s);            /* HTTP status code */

/* An error value with context. Functions take `md_error *err` that may be NULL. */
#define MD_ERROR_MSG_BYTES 512
typedef struct md_error {
    md_status status;
    char message[MD_ERROR_MSG_BYTES]; /* "file.kb:12: unknown key 'foo'"; "" when none */
} md_error;

/* Sets err (if non-NULL) and returns status, so callers can `return md_error_set(...)`. */
md_status md_error_set(md_error *err, md_status status, const char *fmt, ...) MD_PRINTF(3, 4);
void md_error_clear(md_error *err);

/* ----------------------------------------------------------------- alloc ---- */

/* All medify allocations go through these. They never abort; NULL means failure.
 * md_free(NULL) is a no-op. */
void *md_malloc(size_t n_bytes);
void *md_calloc(size_t n_items, size_t item_bytes); /* checks n_items * item_bytes overflow */
void *md_realloc(void *ptr, size_t n_bytes);
void md_free(void *ptr);
char *md_strdup(const char *s);
char *md_strndup(const char *s, size_t n_bytes);

/* Fault injection for tests: the Nth allocation from now (1-based) and, when
 * `repeat` is true, every one after it fails. n == 0 disables. The counter is
 * process-wide (the one deliberate global in medify: allocation is process-wide). */
void md_alloc_fail_after(uint64_t n, bool repeat);
uint64_t md_alloc_count(void); /* allocations attempted since start (for test loops) */
bool md_alloc_failed(void);    /* true once an injected failure has happened */

/* ----------------------------------------------------------------- arena ---- */

/* A bump allocator over a chain of blocks. Allocations are 16-byte aligned and live
 * until md_arena_reset/md_arena_reset_to/md_arena_free. */
typedef struct md_arena_block md_arena_block;
typedef struct md_arena {
    md_arena_block *head;   /* current block */
    size_t block_bytes;     /* default size of new blocks */
    size_t n_bytes_used;    /* total bytes handed out (statistics) */
} md_arena;

typedef struct md_arena_mark {
    md_arena_block *block;
    size_t used;
    size_t n_bytes_used;
} md_arena_mark;

void md_arena_init(md_arena *a, size_t block_bytes); /* 0 → 64 KiB; allocates lazily */
void *md_arena_alloc(md_arena *a, size_t n_bytes);      /* NULL on OOM or overflow */
void *md_arena_calloc(md_arena *a, size_t n_items, size_t item_bytes);
char *md_arena_strdup(md_arena *a, const char *s);
char *md_arena_strndup(md_arena *a, const char *s, size_t n_bytes);
char *md_arena_sprintf(md_arena *a, const char *fmt, ...) MD_PRINTF(2, 3);
md_arena_mark md_arena_get_mark(const md_arena *a);
void md_arena_reset_to(md_arena *a, md_arena_mark mark); /* frees blocks after the mark */
void md_arena_reset(md_arena *a);                         /* keeps the first block */
void md_arena_free(md_arena *a);                          /* releases everything */

/* ------------------------------------------------------------------- buf ---- */

/* A growable NUL-terminated byte buffer. Zero-initialise or md_buf_init; free with
 * md_buf_free. After an allocation failure the buffer is marked failed: later appends
 * are no-ops and md_buf_ok returns false, so a long sequence of appends can be checked
 * once at the end. */
typedef struct md_buf {
    char *data;      /* NUL-terminated when len > 0 or after any append; may be NULL */
    size_t len;
    size_t cap;
    bool failed;
} md_buf;

void md_buf_init(md_buf *b);
void md_buf_free(md_buf *b);
void md_buf_clear(md_buf *b); /* len = 0, keeps memory, clears failed */
bool md_buf_reserve(md_buf *b, size_t n_extra_bytes);
void md_buf_append(md_buf *b, const void *bytes, size_t n_bytes);
void md_buf_append_str(md_buf *b, const char *s);
void md_buf_append_char(md_buf *b, char c);
void md_buf_appendf(md_buf *b, const char *fmt, ...) MD_PRINTF(2, 3);
void md_buf_vappendf(md_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259 says. */
void md_buf_append_json_str(md_buf *b, const char *s, size_t n_bytes);
bool md_buf_ok(const md_buf *b);
/* Hands the data to the caller (free with md_free) and resets the buffer. Returns NULL
 * if the buffer failed; returns "" (allocated) for an empty buffer. */
char *md_buf_steal(md_buf *b);

/* ------------------------------------------------------------------- vec ---- */

/* A growable array of elements of `item_bytes` each. */
typedef struct md_vec {
    void *data;
    size_t n;
    size_t cap;
    size_t item_bytes;
} md_vec;

void md_vec_init(md_vec *v, size_t item_bytes);
void md_vec_free(md_vec *v);
MD_NODISCARD md_status md_vec_push(md_vec *v, const void *item); /* copies item */
MD_NODISCARD md_status md_vec_reserve(md_vec *v, size_t n_total);
void *md_vec_at(const md_vec *v, size_t i); /* no bounds check beyond an assert-free NULL on i >= n */
void md_vec_clear(md_vec *v);

/* ------------------------------------------------------------------- map ---- */

/* String-keyed hash map from byte strings to uint64_t values (store indexes or
 * pointers cast to uintptr_t). Keys are copied. FNV-1a hashing, linear probing,
 * load factor <= 0.7. */
typedef struct md_map {
    struct md_map_slot *slots;
    size_t n_slots; /* power of two or 0 */
    size_t n_items;
    md_arena keys; /* key storage */
} md_map;

void md_map_init(md_map *m);
void md_map_free(md_map *m);
/* Inserts or replaces. */
MD_NODISCARD md_status md_map_put(md_map *m, const char *key, size_t key_len, uint64_t value);
/* Returns true and sets *value when found. value may be NULL. */
bool md_map_get(const md_map *m, const char *key, size_t key_len, uint64_t *value);
/* Iteration: i from 0 while md_map_next(m, &i, &key, &key_len, &value) is true. */
bool md_map_next(const md_map *m, size_t *i, const char **key, size_t *key_len, uint64_t *value);
uint64_t md_hash_bytes(const void *bytes, size_t n_bytes); /* FNV-1a 64 */

/* ------------------------------------------------------------------ utf8 ---- */

/* Returns true when bytes[0..n) is valid UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF). On failure *bad_offset (if non-NULL) is the offset of
 * the first invalid byte. */
bool md_utf8_valid(const char *bytes, size_t n_bytes, size_t *bad_offset);

/* Decodes one code point at *p (p < end). Advances *p past it. Returns the code point,
 * or U+FFFD for an invalid sequence (advancing one byte). */
uint32_t md_utf8_decode(const char **p, const char *end);

/* Encodes cp into out (at least 4 bytes). Returns the number of bytes, 0 if invalid. */
size_t md_utf8_encode(uint32_t cp, char out[4]);

/* Folds a code point for text matching: ASCII letters lower-cased; Latin-1 and Latin
 * Extended-A letters to their unaccented lower-case ASCII base (é → e, ß → ss, æ → ae);
 * typographic apostrophes and quotes to ASCII ' and "; dashes to '-'; non-breaking and
 * other Unicode spaces to ' '. Writes up to 2 ASCII bytes to out and returns the count;
 * returns 0 when the code point has no ASCII folding (caller keeps it or treats it as
 * a word break). */
size_t md_utf8_fold(uint32_t cp, char out[2]);

/* Heuristic for "this is not text": NUL bytes or a high share of control bytes. */
bool md_bytes_look_binary(const char *bytes, size_t n_bytes);

/* ------------------------------------------------------------------- log ---- */

typedef enum md_log_level {
    MD_LOG_LEVEL_DEBUG = 0,
    MD_LOG_LEVEL_INFO = 1,
    MD_LOG_LEVEL_WARN = 2,
    MD_LOG_LEVEL_ERROR = 3,
    MD_LOG_LEVEL_OFF = 4,
} md_log_level;

typedef enum md_log_value_type {
    MD_LOG_VALUE_STR,
    MD_LOG_VALUE_INT,
    MD_LOG_VALUE_DOUBLE,
    MD_LOG_VALUE_BOOL,
} md_log_value_type;

typedef struct md_log_field {
    const char *key;
    md_log_value_type type;
    const char *s;
    int64_t i;
    double d;
} md_log_field;

#define MD_LOG_STR(k, v) ((md_log_field){.key = (k), .type = MD_LOG_VALUE_STR, .s = (v)})
#define MD_LOG_INT(k, v) ((md_log_field){.key = (k), .type = MD_LOG_VALUE_INT, .i = (int64_t)(v)})
#define MD_LOG_DOUBLE(k, v) ((md_log_field){.key = (k), .type = MD_LOG_VALUE_DOUBLE, .d = (double)(v)})
#define MD_LOG_BOOL(k, v) ((md_log_field){.key = (k), .type = MD_LOG_VALUE_BOOL, .i = (v) ? 1 : 0})

/* A logger writes one JSON object per line: {"ts":"2026-11-28T17:57:32.123Z",
 * "level":"info","msg":"...","component":"...", fields...}. Each line is written
 * with one fwrite so concurrent writers do not interleave within a line. Never log
 * patient free text: log ids, counts and codes. */
typedef struct md_logger {
    FILE *out;               /* default stderr */
    md_log_level min_level;  /* default INFO */
    const char *component;   /* e.g. "cli", "server"; may be NULL */
} md_logger;

md_logger md_logger_default(void);
bool md_log_level_parse(const char *name, md_log_level *out); /* "debug", "info", ... */
const char *md_log_level_name(md_log_level level);
void md_log_write(const md_logger *lg, md_log_level level, const char *msg,
                  const md_log_field *fields, size_t n_fields);
#define md_log(lg, level, msg, ...)                                                              \
    md_log_write((lg), (level), (msg), (md_log_field[]){__VA_ARGS__},                         \
                 sizeof((md_log_field[]){__VA_ARGS__}) / sizeof(md_log_field))
#define md_log0(lg, level, msg) md_log_write((lg), (level), (msg), NULL, 0)

/* ---------------------------------------------------------------- config ---- */

typedef enum md_config_type {
    MD_CONFIG_TYPE_STRING,
    MD_CONFIG_TYPE_INT,
    MD_CONFIG_TYPE_DOUBLE,
    MD_CONFIG_TYPE_BOOL,
} md_config_type;

typedef enum md_config_source {
    MD_CONFIG_SOURCE_DEFAULT = 0,
    MD_CONFIG_SOURCE_FILE = 1,
    MD_CONFIG_SOURCE_ENV = 2,
    MD_CONFIG_SOURCE_FLAG = 3,
} md_config_source;

/* One row of an option table. The environment variable is MEDIFY_ + the name in upper
 * case with '-' and '.' turned into '_' ("data-dir" → MEDIFY_DATA_DIR). */
typedef struct md_config_option {
    const char *name;
    md_config_type type;
    const char *default_value; /* NULL: unset string */
    double min, max;           /* bounds for INT/DOUBLE; ignored when min > max */
    const char *help;
} md_config_option;

typedef struct md_config md_config;

/* Returns a config over the table (which must outlive it) with defaults applied, or
 * NULL on OOM. Free with md_config_free. */
md_config *md_config_new(const md_config_option *options, size_t n_options);
void md_config_free(md_config *cfg);

/* Sets a value from a given source. A value from a lower-precedence source never
 * replaces one from a higher source, whatever the call order. Validates type and
 * bounds: MD_ERR_CONFIG with a message naming the option and the source otherwise.
 * MD_ERR_NOT_FOUND for an unknown name. */
md_status md_config_set(md_config *cfg, const char *name, const char *value,
                        md_config_source source, md_error *err);
/* Reads `name = value` lines ('#' comments, blank lines allowed). Unknown names and
 * malformed lines are errors with file:line. */
md_status md_config_load_file(md_config *cfg, const char *path, md_error *err);
/* Applies every MEDIFY_* variable that names an option (others are ignored). */
md_status md_config_load_env(md_config *cfg, md_error *err);

const char *md_config_get_str(const md_config *cfg, const char *name); /* NULL if unset */
int64_t md_config_get_int(const md_config *cfg, const char *name);
double md_config_get_double(const md_config *cfg, const char *name);
bool md_config_get_bool(const md_config *cfg, const char *name); /* true/false/1/0/yes/no/on/off */
md_config_source md_config_get_source(const md_config *cfg, const char *name);

/* -------------------------------------------------------------------- io ---- */

/* Reads all of f into a new NUL-terminated buffer (free with md_free). Fails with
 * MD_ERR_TOO_LARGE, without reading unboundedly, when more than max_bytes arrive. */
md_status md_read_stream(FILE *f, size_t max_bytes, char **out, size_t *n_out, md_error *err);
md_status md_read_file(const char *path, size_t max_bytes, char **out, size_t *n_out, md_error *err);

/* ----------------------------------------------------------------- clock ---- */

uint64_t md_clock_monotonic_ns(void);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) for the current UTC time. */
void md_clock_wall_iso8601(char out[32]);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_BASE_H */
