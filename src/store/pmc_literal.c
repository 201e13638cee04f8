/* pmc_literal.c: a small recursive-descent parser for the subset of Python literal
 * syntax (https://docs.python.org/3/reference/lexical_analysis.html#literals) that
 * PMC-Patients (Zhao et al. 2023, Scientific Data 10:?) writes with repr(): lists,
 * dicts, quoted strings with backslash escapes, and numbers.
 *
 * Numbers are scanned by hand ([-+]?digits[.digits][e[-+]digits]) before strtod sees
 * them, so 'nan', 'inf', hex floats and locale decimal commas are all rejected.
 * Strings are decoded into a scratch buffer (escapes \\ \' \" \n \t \r) and must be
 * valid UTF-8. Nesting depth is fixed by the grammar (no recursion on input).
 */
#include "store/pmc_literal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct lit {
    const char *p, *end;
    const char *what; /* "age", "dict": prefix of error messages */
    md_error *err;
} lit;

static md_status fail(lit *l, const char *fmt, const char *arg) {
    char msg[200];
    /* fmt is one of this file's literals, with one %s or none. */
    // cppcheck-suppress wrongPrintfScanfArgNum
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    return md_error_set(l->err, MD_ERR_PARSE, "%s: %s", l->what, msg);
}

static void skip_ws(lit *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')) l->p++;
}

static bool eat(lit *l, char c) {
    skip_ws(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return true;
    }
    return false;
}

/* Scans a number literal; sets [*start, *stop). */
static md_status scan_number(lit *l, const char **start, const char **stop) {
    skip_ws(l);
    const char *q = l->p;
    if (q < l->end && (*q == '-' || *q == '+')) q++;
    const char *digits = q;
    while (q < l->end && *q >= '0' && *q <= '9') q++;
    bool int_digits = q > digits;
    bool frac_digits = false;
    if (q < l->end && *q == '.') {
        q++;
        const char *f = q;
        while (q < l->end && *q >= '0' && *q <= '9') q++;
        frac_digits = q > f;
    }
    if (!int_digits && !frac_digits) return fail(l, "expected a number", NULL);
    if (q < l->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < l->end && (*q == '-' || *q == '+')) q++;
        const char *e = q;
        while (q < l->end && *q >= '0' && *q <= '9') q++;
        if (q == e) return fail(l, "malformed exponent", NULL);
    }
    *start = l->p;
    *stop = q;
    l->p = q;
    return MD_OK;
}

static md_status parse_number(lit *l, double *out) {
    const char *a, *b;
    md_status st = scan_number(l, &a, &b);
    if (st) return st;
    char tmp[64];
    size_t n = (size_t)(b - a);
    if (n >= sizeof tmp) return fail(l, "number too long", NULL);
    memcpy(tmp, a, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    if (!isfinite(*out)) return fail(l, "number out of range: %s", tmp);
    return MD_OK;
}

/* Parses a quoted string into out (NUL-terminated). */
static md_status parse_string(lit *l, md_buf *out) {
    skip_ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return fail(l, "expected a quoted string", NULL);
    char q = *l->p++;
    md_buf_clear(out);
    for (;;) {
        if (l->p >= l->end) return fail(l, "unterminated string", NULL);
        char c = *l->p++;
        if (c == q) break;
        if (c == '\n') return fail(l, "line break inside a string", NULL);
        if (c == '\0') return fail(l, "NUL byte inside a string", NULL);
        if (c == '\\') {
            if (l->p >= l->end) return fail(l, "unterminated string", NULL);
            char e = *l->p++;
            switch (e) {
            case '\\': c = '\\'; break;
            case '\'': c = '\''; break;
            case '"': c = '"'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            default: {
                char esc[3] = {'\\', e, '\0'};
                return fail(l, "unsupported escape %s", esc);
            }
            }
        }
        md_buf_append_char(out, c);
    }
    md_buf_append(out, "", 0); /* NUL-terminate even when empty */
    if (!md_buf_ok(out)) return md_error_set(l->err, MD_ERR_NOMEM, "%s: out of memory", l->what);
    if (!md_utf8_valid(out->data, out->len, NULL)) return fail(l, "string is not valid UTF-8", NULL);
    return MD_OK;
}

typedef struct unit_def {
    const char *name;
    double years;
} unit_def;

/* Calendar conversions: a Julian year of 365.25 days. */
static const unit_def k_units[] = {
    {"year", 1.0},
    {"month", 1.0 / 12.0},
    {"week", 7.0 / 365.25},
    {"day", 1.0 / 365.25},
    {"hour", 1.0 / (365.25 * 24.0)},
};

static bool unit_years(const char *name, size_t n, double *years) {
    if (n > 1 && name[n - 1] == 's') n--; /* 'years', 'months' */
    for (size_t i = 0; i < MD_ARRAY_LEN(k_units); i++) {
        if (strlen(k_units[i].name) == n && memcmp(k_units[i].name, name, n) == 0) {
            *years = k_units[i].years;
            return true;
        }
    }
    return false;
}

md_status md_pmc_age_parse(const char *s, size_t n_bytes, double *age_years, md_error *err) {
    lit l = {s, s + n_bytes, "age", err};
    md_buf unit;
    md_buf_init(&unit);
    md_status st = MD_OK;
    double total = 0;
    size_t n_pairs = 0;
    *age_years = -1;
    if (!eat(&l, '[')) {
        st = fail(&l, "expected a list like [[1.0, 'year']]", NULL);
        goto done;
    }
    if (!eat(&l, ']')) {
        for (;;) {
            double v = 0, years = 0;
            if (!eat(&l, '[')) {
                st = fail(&l, "expected a [value, unit] pair", NULL);
                goto done;
            }
            if ((st = parse_number(&l, &v))) goto done;
            if (!eat(&l, ',')) {
                st = fail(&l, "expected ',' between value and unit", NULL);
                goto done;
            }
            if ((st = parse_string(&l, &unit))) goto done;
            if (!unit_years(unit.data, unit.len, &years)) {
                st = fail(&l, "unknown unit '%s'", unit.data);
                goto done;
            }
            if (v < 0) {
                st = fail(&l, "negative value", NULL);
                goto done;
            }
            if (!eat(&l, ']')) {
                st = fail(&l, "expected ']' after a pair", NULL);
                goto done;
            }
            total += v * years;
            if (++n_pairs > MD_PMC_MAX_LITERAL_ITEMS) {
                st = fail(&l, "too many pairs", NULL);
                goto done;
            }
            if (eat(&l, ',')) {
                if (eat(&l, ']')) break; /* trailing comma, as Python allows */
                continue;
            }
            if (eat(&l, ']')) break;
            st = fail(&l, "expected ',' or ']'", NULL);
            goto done;
        }
    }
    skip_ws(&l);
    if (l.p != l.end) {
        st = fail(&l, "unexpected text after the list", NULL);
        goto done;
    }
    if (n_pairs > 0) {
        if (!isfinite(total) || total > MD_PMC_MAX_AGE_YEARS) {
            char num[32];
            snprintf(num, sizeof num, "%.1f", total);
            st = fail(&l, "implausible age of %s years", num);
            goto done;
        }
        *age_years = total;
    }
done:
    md_buf_free(&unit);
    return st;
}

/* Duplicate-key detection: a linear scan over the keys seen while there are few (the
 * common case: PMC dicts hold a handful of entries), a hash map beyond that. */
#define DICT_LINEAR_KEYS 32

typedef struct key_set {
    md_buf keys; /* NUL-separated */
    size_t n;
    bool use_map;
    md_map map;
} key_set;

static bool key_set_has(const key_set *ks, const char *key, size_t n) {
    if (ks->use_map) return md_map_get(&ks->map, key, n, NULL);
    for (size_t pos = 0; pos < ks->keys.len;) {
        size_t len = strlen(ks->keys.data + pos);
        if (len == n && memcmp(ks->keys.data + pos, key, n) == 0) return true;
        pos += len + 1;
    }
    return false;
}

static md_status key_set_add(key_set *ks, const char *key, size_t n) {
    if (!ks->use_map && ks->n == DICT_LINEAR_KEYS) {
        md_map_init(&ks->map);
        ks->use_map = true;
        for (size_t pos = 0; pos < ks->keys.len;) {
            size_t len = strlen(ks->keys.data + pos);
            if (md_map_put(&ks->map, ks->keys.data + pos, len, 1) != MD_OK) return MD_ERR_NOMEM;
            pos += len + 1;
        }
    }
    ks->n++;
    if (ks->use_map) return md_map_put(&ks->map, key, n, 1);
    md_buf_append(&ks->keys, key, n);
    md_buf_append_char(&ks->keys, '\0');
    return md_buf_ok(&ks->keys) ? MD_OK : MD_ERR_NOMEM;
}

md_status md_pmc_dict_to_json(const char *s, size_t n_bytes, md_buf *out, md_error *err) {
    lit l = {s, s + n_bytes, "dict", err};
    md_buf key;
    md_buf_init(&key);
    key_set seen;
    memset(&seen, 0, sizeof seen);
    md_buf_init(&seen.keys);
    size_t out_len0 = out->len;
    size_t n_items = 0;
    md_status st = MD_OK;
    if (!eat(&l, '{')) {
        st = fail(&l, "expected a dict like {'123': 1}", NULL);
        goto done;
    }
    md_buf_append_char(out, '{');
    if (!eat(&l, '}')) {
        for (;;) {
            if ((st = parse_string(&l, &key))) goto done;
            size_t key_len = key.len;
            if (key_set_has(&seen, key.data, key_len)) {
                st = fail(&l, "duplicate key '%s'", key.data);
                goto done;
            }
            if ((st = key_set_add(&seen, key.data, key_len))) {
                st = md_error_set(err, MD_ERR_NOMEM, "dict: out of memory");
                goto done;
            }
            if (!eat(&l, ':')) {
                st = fail(&l, "expected ':' after key '%s'", key.data);
                goto done;
            }
            if (n_items > 0) md_buf_append_char(out, ',');
            md_buf_append_json_str(out, key.data, key_len);
            md_buf_append_char(out, ':');
            skip_ws(&l);
            size_t rest = (size_t)(l.end - l.p);
            if (rest >= 4 && memcmp(l.p, "True", 4) == 0) {
                md_buf_append_str(out, "true");
                l.p += 4;
            } else if (rest >= 5 && memcmp(l.p, "False", 5) == 0) {
                md_buf_append_str(out, "false");
                l.p += 5;
            } else {
                const char *a, *b;
                if ((st = scan_number(&l, &a, &b))) goto done;
                double v;
                lit sub = {a, b, "dict", err};
                if ((st = parse_number(&sub, &v))) goto done;
                /* Integers are copied; anything else is rewritten with the fewest
                 * digits that round-trip, since Python spellings like '5.', '.5' or
                 * '+1' are not JSON numbers. */
                bool is_int = true;
                for (const char *q = *a == '-' ? a + 1 : a; q < b; q++) is_int = is_int && *q >= '0' && *q <= '9';
                const char *first = *a == '-' ? a + 1 : a;
                if (is_int && b - a < 19 && !(*first == '0' && b - first > 1)) {
                    md_buf_append(out, a, (size_t)(b - a));
                } else {
                    char num[40];
                    for (int prec = 1; prec <= 17; prec++) {
                        snprintf(num, sizeof num, "%.*g", prec, v);
                        if (strtod(num, NULL) == v) break;
                    }
                    md_buf_append_str(out, num);
                }
            }
            if (++n_items > MD_PMC_MAX_LITERAL_ITEMS) {
                st = fail(&l, "too many entries", NULL);
                goto done;
            }
            if (eat(&l, ',')) {
                if (eat(&l, '}')) break;
                continue;
            }
            if (eat(&l, '}')) break;
            st = fail(&l, "expected ',' or '}'", NULL);
            goto done;
        }
    }
    md_buf_append_char(out, '}');
    skip_ws(&l);
    if (l.p != l.end) {
        st = fail(&l, "unexpected text after the dict", NULL);
        goto done;
    }
    if (!md_buf_ok(out)) st = md_error_set(err, MD_ERR_NOMEM, "dict: out of memory");
done:
    if (st != MD_OK && md_buf_ok(out)) {
        out->len = out_len0;
        if (out->data) out->data[out_len0] = '\0';
    }
    md_buf_free(&key);
    md_buf_free(&seen.keys);
    if (seen.use_map) md_map_free(&seen.map);
    return st;
}
