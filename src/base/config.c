/* config.c: options from a table, layered by source.
 *
 * The caller describes its options once, as a table of md_config_option rows (name,
 * type, default, bounds, help). A config holds one value per row: the text as given
 * (so md_config_get_str works for every type), the parsed number or flag, and the
 * source it came from.
 *
 * Precedence is a property of the value, not of call order: each value remembers its
 * source (default < file < environment < flag), and md_config_set replaces it only
 * from the same or a higher source. So a program may apply flags first and load the
 * file they name afterwards, and the flags still win.
 *
 * Every value is validated before it is stored, whatever its source: the type must
 * parse completely (no trailing junk, no NaN or infinity) and numbers must lie within
 * [min, max] when min <= max. A rejected value leaves the old one in place. Errors
 * name the option and the source ("option 'port' from environment variable
 * MEDIFY_PORT: '70000' is above the maximum 65535"); file errors are prefixed with
 * "path:line: ".
 *
 * md_config_load_file first parses and validates every line, then applies them, so a
 * file with an error changes nothing. An invalid default in the table is a programming
 * error; md_config_new reports it by returning NULL, as for OOM.
 */
#include "medify/base.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_FILE_MAX_BYTES (1024u * 1024u) /* a config file is tens of lines */
#define CONFIG_ENV_PREFIX "MEDIFY_"

typedef struct config_value {
    md_config_source source;
    char *text; /* NULL: unset */
    int64_t i;
    double d;
    bool b;
} config_value;

struct md_config {
    const md_config_option *options;
    size_t n_options;
    config_value *values; /* (n_options) */
};

/* ---- parsing one value ----------------------------------------------------------- */

static const struct {
    const char *text;
    bool value;
} config_bool_words[] = {
    {"true", true}, {"false", false}, {"1", true},  {"0", false},
    {"yes", true},  {"no", false},    {"on", true}, {"off", false},
};

static bool parse_bool(const char *text, bool *out) {
    for (size_t k = 0; k < MD_ARRAY_LEN(config_bool_words); k++) {
        if (strcasecmp(text, config_bool_words[k].text) == 0) {
            *out = config_bool_words[k].value;
            return true;
        }
    }
    return false;
}

static bool parse_int(const char *text, int64_t *out) {
    if (!(isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+')) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

static bool parse_double(const char *text, double *out) {
    if (!(isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+' || text[0] == '.')) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno == ERANGE || end == text || *end != '\0' || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

/* Parses text for opt into v (text itself is not copied). On failure writes the
 * reason to why and returns false. */
static bool config_parse(const md_config_option *opt, const char *text, config_value *v,
                         char *why, size_t why_bytes) {
    bool bounded = opt->min <= opt->max;
    switch (opt->type) {
    case MD_CONFIG_TYPE_STRING:
        return true;
    case MD_CONFIG_TYPE_BOOL:
        if (!parse_bool(text, &v->b)) {
            snprintf(why, why_bytes, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
                     text);
            return false;
        }
        return true;
    case MD_CONFIG_TYPE_INT:
        if (!parse_int(text, &v->i)) {
            snprintf(why, why_bytes, "'%s' is not an integer", text);
            return false;
        }
        v->d = (double)v->i;
        break;
    case MD_CONFIG_TYPE_DOUBLE:
        if (!parse_double(text, &v->d)) {
            snprintf(why, why_bytes, "'%s' is not a finite number", text);
            return false;
        }
        break;
    default:
        snprintf(why, why_bytes, "the option has an unknown type %d", (int)opt->type);
        return false;
    }
    if (bounded && v->d < opt->min) {
        snprintf(why, why_bytes, "'%s' is below the minimum %g", text, opt->min);
        return false;
    }
    if (bounded && v->d > opt->max) {
        snprintf(why, why_bytes, "'%s' is above the maximum %g", text, opt->max);
        return false;
    }
    return true;
}

/* "MEDIFY_" + name upper-cased with '-' and '.' as '_', truncated to fit. */
static void config_env_name(const char *name, char *out, size_t out_bytes) {
    size_t n = 0;
    for (const char *p = CONFIG_ENV_PREFIX; *p && n + 1 < out_bytes; p++) {
        out[n++] = *p;
    }
    for (const char *p = name; *p && n + 1 < out_bytes; p++) {
        char c = (*p == '-' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
        out[n++] = c;
    }
    out[n] = '\0';
}

static void config_describe_source(const char *name, md_config_source source, char *out,
                                   size_t out_bytes) {
    switch (source) {
    case MD_CONFIG_SOURCE_DEFAULT: snprintf(out, out_bytes, "the default"); break;
    case MD_CONFIG_SOURCE_FILE: snprintf(out, out_bytes, "the config file"); break;
    case MD_CONFIG_SOURCE_ENV: {
        char env[128];
        config_env_name(name, env, sizeof(env));
        snprintf(out, out_bytes, "environment variable %s", env);
        break;
    }
    case MD_CONFIG_SOURCE_FLAG: snprintf(out, out_bytes, "flag --%.100s", name); break;
    default: snprintf(out, out_bytes, "source %d", (int)source); break;
    }
}

/* ---- lifecycle ------------------------------------------------------------------- */

static const md_config_option *config_find(const md_config *cfg, const char *name, size_t *index) {
    if (!cfg || !name) {
        return NULL;
    }
    for (size_t k = 0; k < cfg->n_options; k++) {
        if (cfg->options[k].name && strcmp(cfg->options[k].name, name) == 0) {
            if (index) {
                *index = k;
            }
            return &cfg->options[k];
        }
    }
    return NULL;
}

md_config *md_config_new(const md_config_option *options, size_t n_options) {
    if (!options && n_options > 0) {
        return NULL;
    }
    md_config *cfg = md_calloc(1, sizeof(*cfg));
    if (!cfg) {
        return NULL;
    }
    cfg->options = options;
    cfg->n_options = n_options;
    cfg->values = md_calloc(n_options, sizeof(*cfg->values));
    if (!cfg->values) {
        md_free(cfg);
        return NULL;
    }
    for (size_t k = 0; k < n_options; k++) {
        config_value *v = &cfg->values[k];
        v->source = MD_CONFIG_SOURCE_DEFAULT;
        const char *text = options[k].default_value;
        if (!text) {
            continue;
        }
        char why[256];
        if (!config_parse(&options[k], text, v, why, sizeof(why))) {
            md_config_free(cfg);
            return NULL;
        }
        v->text = md_strdup(text);
        if (!v->text) {
            md_config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}

void md_config_free(md_config *cfg) {
    if (!cfg) {
        return;
    }
    for (size_t k = 0; k < cfg->n_options && cfg->values; k++) {
        md_free(cfg->values[k].text);
    }
    md_free(cfg->values);
    md_free(cfg);
}

/* ---- setting values -------------------------------------------------------------- */

/* Validates value for name and, when apply is true, stores it (subject to precedence). */
static md_status config_set(md_config *cfg, const char *name, const char *value,
                            md_config_source source, bool apply, md_error *err) {
    if (!cfg || !name || !value) {
        return md_error_set(err, MD_ERR_INVALID_ARG,
                            "md_config_set: missing config, name or value");
    }
    if ((unsigned)source > MD_CONFIG_SOURCE_FLAG) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_config_set: unknown source %d",
                            (int)source);
    }
    size_t k = 0;
    const md_config_option *opt = config_find(cfg, name, &k);
    if (!opt) {
        return md_error_set(err, MD_ERR_NOT_FOUND, "unknown option '%.200s'", name);
    }
    config_value parsed = {.source = source};
    char why[256];
    if (!config_parse(opt, value, &parsed, why, sizeof(why))) {
        char from[160];
        config_describe_source(name, source, from, sizeof(from));
        return md_error_set(err, MD_ERR_CONFIG, "option '%.100s' from %s: %s", name, from, why);
    }
    config_value *v = &cfg->values[k];
    if (!apply || source < v->source) {
        return MD_OK; /* a lower source never replaces a higher one */
    }
    parsed.text = md_strdup(value);
    if (!parsed.text) {
        return md_error_set(err, MD_ERR_NOMEM, "out of memory setting option '%.200s'", name);
    }
    md_free(v->text);
    *v = parsed;
    return MD_OK;
}

md_status md_config_set(md_config *cfg, const char *name, const char *value,
                        md_config_source source, md_error *err) {
    return config_set(cfg, name, value, source, true, err);
}

/* ---- file layer ------------------------------------------------------------------ */

typedef struct config_line {
    const char *name;
    const char *value;
    size_t line_no;
} config_line;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

/* Splits data (modified in place) into name/value lines. */
static md_status config_split_lines(char *data, const char *path, md_vec *lines, md_error *err) {
    size_t line_no = 0;
    char *p = data;
    while (*p) {
        line_no++;
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (eol) {
            *eol = '\0';
        }
        char *line = trim(p);
        p = next;
        if (line[0] == '\0' || line[0] == '#') {
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) {
            return md_error_set(err, MD_ERR_CONFIG, "%s:%zu: expected 'name = value'", path,
                                line_no);
        }
        *eq = '\0';
        char *name = trim(line);
        char *value = trim(eq + 1);
        if (name[0] == '\0') {
            return md_error_set(err, MD_ERR_CONFIG, "%s:%zu: missing option name before '='", path,
                                line_no);
        }
        size_t n_value = strlen(value);
        if (n_value >= 2 && value[0] == '"' && value[n_value - 1] == '"') {
            value[n_value - 1] = '\0'; /* "quoted" keeps leading or trailing spaces */
            value++;
        }
        config_line entry = {.name = name, .value = value, .line_no = line_no};
        if (md_vec_push(lines, &entry) != MD_OK) {
            return md_error_set(err, MD_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    return MD_OK;
}

/* Validates (apply == false) or applies every parsed line, stopping at the first error. */
static md_status config_apply_lines(md_config *cfg, const char *path, const md_vec *lines,
                                    bool apply, md_error *err) {
    for (size_t k = 0; k < lines->n; k++) {
        const config_line *line = md_vec_at(lines, k);
        md_error inner;
        md_error_clear(&inner);
        md_status st =
            config_set(cfg, line->name, line->value, MD_CONFIG_SOURCE_FILE, apply, &inner);
        if (st == MD_ERR_NOT_FOUND) {
            return md_error_set(err, MD_ERR_CONFIG, "%s:%zu: unknown option '%.200s'", path,
                                line->line_no, line->name);
        }
        if (st != MD_OK) {
            return md_error_set(err, st, "%s:%zu: %s", path, line->line_no, inner.message);
        }
    }
    return MD_OK;
}

md_status md_config_load_file(md_config *cfg, const char *path, md_error *err) {
    if (!cfg || !path) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_config_load_file: missing config or path");
    }
    char *data = NULL;
    size_t n_data = 0;
    md_status st = md_read_file(path, CONFIG_FILE_MAX_BYTES, &data, &n_data, err);
    if (st != MD_OK) {
        return st;
    }
    if (memchr(data, '\0', n_data)) {
        md_free(data);
        return md_error_set(err, MD_ERR_CONFIG, "%s: contains NUL bytes; not a config file", path);
    }
    md_vec lines;
    md_vec_init(&lines, sizeof(config_line));
    st = config_split_lines(data, path, &lines, err);
    /* Validate every line, then apply them: a bad file changes nothing. */
    if (st == MD_OK) {
        st = config_apply_lines(cfg, path, &lines, false, err);
    }
    if (st == MD_OK) {
        st = config_apply_lines(cfg, path, &lines, true, err);
    }
    md_vec_free(&lines);
    md_free(data);
    return st;
}

/* ---- environment layer ----------------------------------------------------------- */

md_status md_config_load_env(md_config *cfg, md_error *err) {
    if (!cfg) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_config_load_env: missing config");
    }
    for (size_t k = 0; k < cfg->n_options; k++) {
        const char *name = cfg->options[k].name;
        if (!name) {
            continue;
        }
        size_t n_env = strlen(CONFIG_ENV_PREFIX) + strlen(name) + 1;
        char *env = md_malloc(n_env);
        if (!env) {
            return md_error_set(err, MD_ERR_NOMEM, "out of memory reading the environment");
        }
        config_env_name(name, env, n_env);
        const char *value = getenv(env);
        md_free(env);
        if (!value) {
            continue;
        }
        md_status st = config_set(cfg, name, value, MD_CONFIG_SOURCE_ENV, true, err);
        if (st != MD_OK) {
            return st;
        }
    }
    return MD_OK;
}

/* ---- getters --------------------------------------------------------------------- */

static const config_value *config_value_of(const md_config *cfg, const char *name,
                                           const md_config_option **opt) {
    size_t k = 0;
    const md_config_option *found = config_find(cfg, name, &k);
    if (!found) {
        return NULL;
    }
    if (opt) {
        *opt = found;
    }
    return &cfg->values[k];
}

const char *md_config_get_str(const md_config *cfg, const char *name) {
    const config_value *v = config_value_of(cfg, name, NULL);
    return v ? v->text : NULL;
}

/* Numeric getters convert between INT and DOUBLE options; any other type, an unknown
 * name or an unset value gives 0. */
int64_t md_config_get_int(const md_config *cfg, const char *name) {
    const md_config_option *opt = NULL;
    const config_value *v = config_value_of(cfg, name, &opt);
    if (!v || !v->text) {
        return 0;
    }
    if (opt->type == MD_CONFIG_TYPE_INT) {
        return v->i;
    }
    if (opt->type == MD_CONFIG_TYPE_DOUBLE && v->d >= -9.2e18 && v->d <= 9.2e18) {
        return (int64_t)v->d;
    }
    return 0;
}

double md_config_get_double(const md_config *cfg, const char *name) {
    const md_config_option *opt = NULL;
    const config_value *v = config_value_of(cfg, name, &opt);
    if (!v || !v->text) {
        return 0.0;
    }
    if (opt->type == MD_CONFIG_TYPE_INT || opt->type == MD_CONFIG_TYPE_DOUBLE) {
        return v->d;
    }
    return 0.0;
}

bool md_config_get_bool(const md_config *cfg, const char *name) {
    const md_config_option *opt = NULL;
    const config_value *v = config_value_of(cfg, name, &opt);
    if (!v || !v->text || opt->type != MD_CONFIG_TYPE_BOOL) {
        return false;
    }
    return v->b;
}

md_config_source md_config_get_source(const md_config *cfg, const char *name) {
    const config_value *v = config_value_of(cfg, name, NULL);
    return v ? v->source : MD_CONFIG_SOURCE_DEFAULT;
}
