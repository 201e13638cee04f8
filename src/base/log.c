/* log.c: JSON-lines logging.
 *
 * Each record is one JSON object on one line:
 *     {"ts":"2026-11-28T17:57:32.123Z","level":"info","msg":"...","component":"cli",...}
 * built in memory and written with a single fwrite, so lines from concurrent threads
 * never interleave (stdio locks the FILE per call). The line is flushed right away:
 * a log that sits in a buffer when the process dies is no log.
 *
 * Strings go through md_buf_append_json_str, so control characters and invalid UTF-8
 * in a message cannot break the line structure. Doubles that JSON cannot represent
 * (NaN, infinities) are written as null.
 *
 * Logging must work when memory is short: if building the line fails, a fixed line
 * saying so is written instead, from a stack buffer.
 */
#include "medify/base.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <strings.h>

static const char *const log_level_names[] = {
    [MD_LOG_LEVEL_DEBUG] = "debug",
    [MD_LOG_LEVEL_INFO] = "info",
    [MD_LOG_LEVEL_WARN] = "warn",
    [MD_LOG_LEVEL_ERROR] = "error",
    [MD_LOG_LEVEL_OFF] = "off",
};

md_logger md_logger_default(void) {
    md_logger lg = {.out = stderr, .min_level = MD_LOG_LEVEL_INFO, .component = NULL};
    return lg;
}

bool md_log_level_parse(const char *name, md_log_level *out) {
    if (!name) {
        return false;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(log_level_names); i++) {
        if (strcasecmp(name, log_level_names[i]) == 0) {
            if (out) {
                *out = (md_log_level)i;
            }
            return true;
        }
    }
    if (strcasecmp(name, "warning") == 0) { /* the spelling syslog and Python use */
        if (out) {
            *out = MD_LOG_LEVEL_WARN;
        }
        return true;
    }
    return false;
}

const char *md_log_level_name(md_log_level level) {
    if ((unsigned)level >= MD_ARRAY_LEN(log_level_names)) {
        return "unknown";
    }
    return log_level_names[level];
}

static void log_append_key(md_buf *b, const char *key) {
    md_buf_append_char(b, ',');
    const char *k = key ? key : "";
    md_buf_append_json_str(b, k, strlen(k));
    md_buf_append_char(b, ':');
}

static void log_append_field(md_buf *b, const md_log_field *f) {
    log_append_key(b, f->key);
    switch (f->type) {
    case MD_LOG_VALUE_STR:
        if (f->s) {
            md_buf_append_json_str(b, f->s, strlen(f->s));
        } else {
            md_buf_append_str(b, "null");
        }
        break;
    case MD_LOG_VALUE_INT:
        md_buf_appendf(b, "%" PRId64, f->i);
        break;
    case MD_LOG_VALUE_DOUBLE:
        if (isfinite(f->d)) {
            md_buf_appendf(b, "%.17g", f->d);
        } else {
            md_buf_append_str(b, "null");
        }
        break;
    case MD_LOG_VALUE_BOOL:
        md_buf_append_str(b, f->i ? "true" : "false");
        break;
    default:
        md_buf_append_str(b, "null");
        break;
    }
}

void md_log_write(const md_logger *lg, md_log_level level, const char *msg,
                  const md_log_field *fields, size_t n_fields) {
    md_logger fallback = md_logger_default();
    if (!lg) {
        lg = &fallback;
    }
    if (level < lg->min_level || level >= MD_LOG_LEVEL_OFF) {
        return;
    }
    FILE *out = lg->out ? lg->out : stderr;
    char ts[32];
    md_clock_wall_iso8601(ts);
    const char *text = msg ? msg : "";

    md_buf b;
    md_buf_init(&b);
    md_buf_appendf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, md_log_level_name(level));
    md_buf_append_json_str(&b, text, strlen(text));
    if (lg->component) {
        log_append_key(&b, "component");
        md_buf_append_json_str(&b, lg->component, strlen(lg->component));
    }
    for (size_t i = 0; i < n_fields && fields; i++) {
        log_append_field(&b, &fields[i]);
    }
    md_buf_append(&b, "}\n", 2);

    if (md_buf_ok(&b)) {
        fwrite(b.data, 1, b.len, out);
    } else {
        char line[128];
        int n = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"level\":\"%s\","
                         "\"msg\":\"log record dropped: out of memory\"}\n",
                         ts, md_log_level_name(level));
        if (n > 0 && (size_t)n < sizeof(line)) {
            fwrite(line, 1, (size_t)n, out);
        }
    }
    fflush(out);
    md_buf_free(&b);
}
