/* Loading and validating the knowledge base (format: docs/kb-format.md).
 *
 * Three passes over all files together, so every problem in every file is reported
 * in one run (`medify kb check`):
 *   1. split each file into stanzas (`type id` header + indented `key: value` lines);
 *   2. register ids per kind, reporting duplicates with both locations;
 *   3. build each object, resolving references, checking types and ranges, and
 *      compiling synonyms into the matcher.
 * Any diagnostic makes loading fail with MD_ERR_KB; the first one goes into md_error.
 * All KB memory lives in one arena freed by md_kb_free.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinical/internal.h"

typedef struct md_embedded_file {
    const char *path;
    const char *data;
    size_t n_bytes;
} md_embedded_file;
extern const md_embedded_file md_kb_embedded[];
extern const size_t md_kb_embedded_count;

#define KB_MAX_FILE_BYTES (8u * 1024 * 1024)

typedef struct kv {
    const char *key;
    char *value;
    int line;
} kv;

typedef enum stanza_type { ST_OBSERVATION, ST_CONDITION, ST_QUESTION, ST_REDFLAG, ST_COUNT } stanza_type;
static const char *const k_stanza_names[ST_COUNT] = {"observation", "condition", "question", "redflag"};

typedef struct stanza {
    stanza_type type;
    const char *id;
    const char *file;
    int line;
    md_vec kvs; /* kv */
} stanza;

typedef struct loader {
    md_kb *kb;
    md_arena *a;
    md_vec stanzas; /* stanza */
    md_vec diags;   /* md_kb_diag */
    bool oom;
} loader;

static void diag(loader *ld, const char *file, int line, const char *fmt, ...) MD_PRINTF(4, 5);
static void diag(loader *ld, const char *file, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    md_kb_diag d = {file, line, md_arena_strdup(ld->a, msg)};
    if (!d.message || md_vec_push(&ld->diags, &d) != MD_OK) ld->oom = true;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static bool valid_id(const char *s) {
    if (!(*s >= 'a' && *s <= 'z')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
    return true;
}

/* ---- pass 1: stanzas ------------------------------------------------------------ */

static void split_file(loader *ld, const char *path, const char *text, size_t n_bytes) {
    size_t bad;
    if (!md_utf8_valid(text, n_bytes, &bad)) {
        diag(ld, path, 0, "file is not valid UTF-8 (byte offset %zu)", bad);
        return;
    }
    char *copy = md_arena_strndup(ld->a, text, n_bytes);
    if (!copy) {
        ld->oom = true;
        return;
    }
    if ((unsigned char)copy[0] == 0xEF && (unsigned char)copy[1] == 0xBB && (unsigned char)copy[2] == 0xBF)
        copy += 3; /* tolerate a UTF-8 byte-order mark */
    stanza *cur = NULL;
    int line_no = 0;
    char *save = NULL;
    for (char *line = copy; line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = '\0';
        line_no++;
        char *body = trim(line);
        if (*body == '\0' || *body == '#') continue;
        if (line[0] != ' ' && line[0] != '\t') {
            char *type = body, *id = body;
            while (*id && *id != ' ' && *id != '\t') id++;
            if (*id) *id++ = '\0';
            id = trim(id);
            int t = -1;
            for (int k = 0; k < ST_COUNT; k++)
                if (strcmp(type, k_stanza_names[k]) == 0) t = k;
            cur = NULL;
            if (t < 0) {
                diag(ld, path, line_no, "unknown stanza type '%s' (expected observation, condition, question or redflag)", type);
                continue;
            }
            if (!valid_id(id) || strchr(id, ' ')) {
                diag(ld, path, line_no, "invalid %s id '%s' (lower-case letters, digits and _; starting with a letter)",
                     type, id);
                continue;
            }
            stanza s = {(stanza_type)t, id, path, line_no, {0}};
            md_vec_init(&s.kvs, sizeof(kv));
            if (md_vec_push(&ld->stanzas, &s) != MD_OK) {
                md_vec_free(&s.kvs);
                ld->oom = true;
                return;
            }
            cur = md_vec_at(&ld->stanzas, ld->stanzas.n - 1);
            continue;
        }
        if (!cur) {
            diag(ld, path, line_no, "indented line outside of any stanza");
            continue;
        }
        char *colon = strchr(body, ':');
        if (!colon) {
            diag(ld, path, line_no, "expected 'key: value'");
            continue;
        }
        *colon = '\0';
        char *key = trim(body), *value = trim(colon + 1);
        if (!valid_id(key)) {
            diag(ld, path, line_no, "invalid key '%s'", key);
            continue;
        }
        if (*value == '\0') {
            diag(ld, path, line_no, "empty value for '%s'", key);
            continue;
        }
        kv item = {key, value, line_no};
        if (md_vec_push(&cur->kvs, &item) != MD_OK) ld->oom = true;
    }
}

/* ---- helpers for pass 3 ------------------------------------------------------------ */

/* Splits a ';'-separated list in place into trimmed, non-empty items (arena array). */
static size_t split_list(loader *ld, char *value, char ***out) {
    size_t n = 1;
    for (char *p = value; *p; p++)
        if (*p == ';') n++;
    char **items = md_arena_calloc(ld->a, n, sizeof *items);
    if (!items) {
        ld->oom = true;
        *out = NULL;
        return 0;
    }
    size_t k = 0;
    char *p = value;
    while (p) {
        char *semi = strchr(p, ';');
        if (semi) *semi = '\0';
        char *item = trim(p);
        if (*item) items[k++] = item;
        p = semi ? semi + 1 : NULL;
    }
    *out = items;
    return k;
}

/* Appends list items to a growing arena array of strings. */
static void append_strings(loader *ld, const char ***arr, size_t *n, char **items, size_t n_items) {
    const char **grown = md_arena_calloc(ld->a, *n + n_items + 1, sizeof *grown);
    if (!grown) {
        ld->oom = true;
        return;
    }
    if (*n) memcpy(grown, *arr, *n * sizeof *grown);
    for (size_t i = 0; i < n_items; i++) grown[*n + i] = items[i];
    *arr = grown;
    *n += n_items;
}

static bool parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v)) return false;
    *out = v;
    return true;
}

static int32_t find_id(const md_map *m, const char *id) {
    uint64_t v;
    return md_map_get(m, id, strlen(id), &v) ? (int32_t)v : -1;
}

static int32_t ref_obs(loader *ld, const stanza *s, const kv *item, const char *id) {
    int32_t i = find_id(&ld->kb->obs_ids, id);
    if (i < 0) diag(ld, s->file, item->line, "%s '%s': unknown observation '%s' in '%s'",
                    k_stanza_names[s->type], s->id, id, item->key);
    return i;
}

static uint32_t *obs_list(loader *ld, const stanza *s, kv *item, size_t *n_out, uint32_t *prev,
                          size_t n_prev) {
    char **items;
    size_t n = split_list(ld, item->value, &items);
    uint32_t *arr = md_arena_calloc(ld->a, n_prev + n + 1, sizeof *arr);
    if (!arr) {
        ld->oom = true;
        *n_out = n_prev;
        return prev;
    }
    if (n_prev) memcpy(arr, prev, n_prev * sizeof *arr);
    size_t k = n_prev;
    for (size_t i = 0; i < n; i++) {
        int32_t o = ref_obs(ld, s, item, items[i]);
        if (o >= 0) arr[k++] = (uint32_t)o;
    }
    *n_out = k;
    return arr;
}

static bool valid_icd10(const char *c) {
    /* ICD-10-CM: letter, digit, alphanumeric, then optionally '.' and 1-4 alphanumerics. */
    size_t n = strlen(c);
    if (n < 3 || n > 8) return false;
    if (!(c[0] >= 'A' && c[0] <= 'Z') || !(c[1] >= '0' && c[1] <= '9')) return false;
    if (!((c[2] >= '0' && c[2] <= '9') || (c[2] >= 'A' && c[2] <= 'Z'))) return false;
    if (n == 3) return true;
    if (c[3] != '.' || n == 4) return false;
    for (size_t i = 4; i < n; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'A' && c[i] <= 'Z'))) return false;
    return true;
}

static const char *const k_systems[] = {
    "cardiovascular", "respiratory",     "neurological", "gastrointestinal", "genitourinary",
    "sexual_health",  "pregnancy",       "gynaecological", "skin",           "allergy",
    "musculoskeletal", "endocrine",      "haematological", "infectious",     "eye",
    "ent",            "mental_health",   "paediatric",   "poisoning",        "environmental",
    "general",
};

static const char *const k_bands[MD_AGE_BAND_COUNT] = {"infant", "child", "adolescent", "adult", "older"};

/* Keys that take one value: giving one twice is an error (the second would silently
 * win otherwise). List keys (synonyms, evidence, ...) may repeat. */
static void check_single_keys(loader *ld, const stanza *s, const char *const *keys, size_t n_keys) {
    for (size_t i = 0; i < s->kvs.n; i++) {
        const kv *a = md_vec_at(&s->kvs, i);
        bool single = false;
        for (size_t k = 0; k < n_keys; k++)
            if (strcmp(a->key, keys[k]) == 0) single = true;
        if (!single) continue;
        for (size_t j = 0; j < i; j++) {
            const kv *b = md_vec_at(&s->kvs, j);
            if (strcmp(a->key, b->key) == 0) {
                diag(ld, s->file, a->line, "%s '%s': '%s' is given twice (first at line %d)", k_stanza_names[s->type],
                     s->id, a->key, b->line);
                break;
            }
        }
    }
}

/* ---- observations ------------------------------------------------------------------ */

static void build_observation(loader *ld, const stanza *s, md_kb_observation *o) {
    static const char *const single[] = {"name", "kind", "question", "base_rate", "history", "family"};
    check_single_keys(ld, s, single, MD_ARRAY_LEN(single));
    o->id = s->id;
    o->file = s->file;
    o->line = s->line;
    o->base_rate = 0.01;
    o->history_of = -1;
    o->family_of = -1;
    bool have_kind = false;
    for (size_t i = 0; i < s->kvs.n; i++) {
        kv *item = md_vec_at(&s->kvs, i);
        if (strcmp(item->key, "name") == 0) {
            o->name = item->value;
        } else if (strcmp(item->key, "kind") == 0) {
            static const char *const kinds[] = {"symptom", "sign", "risk_factor", "history"};
            have_kind = false;
            for (size_t k = 0; k < 4; k++)
                if (strcmp(item->value, kinds[k]) == 0) {
                    o->kind = (md_obs_kind)k;
                    have_kind = true;
                }
            if (!have_kind)
                diag(ld, s->file, item->line, "observation '%s': kind '%s' is not symptom, sign, risk_factor or history",
                     s->id, item->value);
            have_kind = true;
        } else if (strcmp(item->key, "synonyms") == 0) {
            char **items;
            size_t n = split_list(ld, item->value, &items);
            append_strings(ld, &o->synonyms, &o->n_synonyms, items, n);
        } else if (strcmp(item->key, "question") == 0) {
            o->question = item->value;
        } else if (strcmp(item->key, "base_rate") == 0) {
            double v;
            if (!parse_double(item->value, &v) || v <= 0 || v >= 1)
                diag(ld, s->file, item->line, "observation '%s': base_rate must be a number in (0, 1), got '%s'",
                     s->id, item->value);
            else
                o->base_rate = v;
        } else if (strcmp(item->key, "screen") == 0) {
            o->screen = obs_list(ld, s, item, &o->n_screen, o->screen, o->n_screen);
        } else if (strcmp(item->key, "implies") == 0) {
            o->implies = obs_list(ld, s, item, &o->n_implies, o->implies, o->n_implies);
        } else if (strcmp(item->key, "attributes") == 0) {
            char **items;
            size_t n = split_list(ld, item->value, &items);
            for (size_t k = 0; k < n; k++) {
                if (strcmp(items[k], "onset") == 0) o->attributes |= MD_ATTR_ONSET;
                else if (strcmp(items[k], "severity") == 0) o->attributes |= MD_ATTR_SEVERITY;
                else if (strcmp(items[k], "duration") == 0) o->attributes |= MD_ATTR_DURATION;
                else if (strcmp(items[k], "temperature") == 0) o->attributes |= MD_ATTR_TEMPERATURE;
                else
                    diag(ld, s->file, item->line,
                         "observation '%s': unknown attribute '%s' (onset, severity, duration, temperature)",
                         s->id, items[k]);
            }
        } else if (strcmp(item->key, "history") == 0) {
            o->history_of = ref_obs(ld, s, item, item->value);
        } else if (strcmp(item->key, "family") == 0) {
            o->family_of = ref_obs(ld, s, item, item->value);
        } else {
            diag(ld, s->file, item->line, "observation '%s': unknown key '%s'", s->id, item->key);
        }
    }
    if (!o->name) diag(ld, s->file, s->line, "observation '%s': missing 'name'", s->id);
    if (!have_kind) diag(ld, s->file, s->line, "observation '%s': missing 'kind'", s->id);
    if (!o->question) diag(ld, s->file, s->line, "observation '%s': missing 'question'", s->id);
    if (o->n_synonyms == 0) diag(ld, s->file, s->line, "observation '%s': missing 'synonyms'", s->id);
    for (size_t k = 0; k < o->n_implies; k++)
        if (o->implies[k] == (uint32_t)(o - ld->kb->obs))
            diag(ld, s->file, s->line, "observation '%s' implies itself", s->id);
}

/* ---- conditions -------------------------------------------------------------------- */

static void parse_prior(loader *ld, const stanza *s, kv *item, md_kb_condition *c, bool *have) {
    bool seen[MD_AGE_BAND_COUNT] = {false};
    char *save = NULL;
    for (char *word = strtok_r(item->value, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(word, '=');
        int band = -1;
        if (eq) {
            *eq = '\0';
            for (int b = 0; b < MD_AGE_BAND_COUNT; b++)
                if (strcmp(word, k_bands[b]) == 0) band = b;
        }
        double v;
        if (band < 0 || !parse_double(eq + 1, &v) || v < 0) {
            diag(ld, s->file, item->line,
                 "condition '%s': prior entries are band=number with band one of infant, child, adolescent, adult, older and number >= 0",
                 s->id);
            return;
        }
        c->prior[band] = v;
        seen[band] = true;
    }
    for (int b = 0; b < MD_AGE_BAND_COUNT; b++)
        if (!seen[b]) {
            diag(ld, s->file, item->line, "condition '%s': prior is missing band '%s'", s->id, k_bands[b]);
            return;
        }
    *have = true;
}

static void parse_sex(loader *ld, const stanza *s, kv *item, md_kb_condition *c) {
    char *save = NULL;
    for (char *word = strtok_r(item->value, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(word, '=');
        double v;
        int which = -1;
        if (eq) {
            *eq = '\0';
            if (strcmp(word, "female") == 0) which = MD_SEX_FEMALE;
            if (strcmp(word, "male") == 0) which = MD_SEX_MALE;
        }
        if (which < 0 || !parse_double(eq + 1, &v) || v < 0) {
            diag(ld, s->file, item->line, "condition '%s': sex entries are female=number or male=number (>= 0)", s->id);
            return;
        }
        c->sex_multiplier[which] = v;
    }
}

static void parse_evidence(loader *ld, const stanza *s, kv *item, md_kb_condition *c) {
    char **items;
    size_t n = split_list(ld, item->value, &items);
    md_kb_evidence *ev = md_arena_calloc(ld->a, c->n_evidence + n + 1, sizeof *ev);
    if (!ev) {
        ld->oom = true;
        return;
    }
    if (c->n_evidence) memcpy(ev, c->evidence, c->n_evidence * sizeof *ev);
    size_t k = c->n_evidence;
    for (size_t i = 0; i < n; i++) {
        char *sp = items[i];
        while (*sp && *sp != ' ' && *sp != '\t') sp++;
        double p;
        if (!*sp) {
            diag(ld, s->file, item->line, "condition '%s': evidence '%s' needs 'observation probability'", s->id, items[i]);
            continue;
        }
        *sp = '\0';
        char *num = trim(sp + 1);
        if (!parse_double(num, &p) || p <= 0 || p >= 1) {
            diag(ld, s->file, item->line, "condition '%s': probability for '%s' must be in (0, 1), got '%s'",
                 s->id, items[i], num);
            continue;
        }
        int32_t o = ref_obs(ld, s, item, items[i]);
        if (o < 0) continue;
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            if (ev[j].obs == (uint32_t)o) dup = true;
        if (dup) {
            diag(ld, s->file, item->line, "condition '%s': observation '%s' is listed twice in evidence", s->id, items[i]);
            continue;
        }
        ev[k++] = (md_kb_evidence){(uint32_t)o, p, 0, 0};
    }
    c->evidence = ev;
    c->n_evidence = k;
}

static void build_condition(loader *ld, const stanza *s, md_kb_condition *c) {
    static const char *const single[] = {"name", "system", "severity", "triage", "prior", "sex"};
    check_single_keys(ld, s, single, MD_ARRAY_LEN(single));
    c->id = s->id;
    c->file = s->file;
    c->line = s->line;
    c->sex_multiplier[MD_SEX_FEMALE] = 1.0;
    c->sex_multiplier[MD_SEX_MALE] = 1.0;
    bool have_prior = false, have_severity = false, have_triage = false;
    for (size_t i = 0; i < s->kvs.n; i++) {
        kv *item = md_vec_at(&s->kvs, i);
        char **items;
        size_t n;
        if (strcmp(item->key, "name") == 0) {
            c->name = item->value;
        } else if (strcmp(item->key, "lay") == 0) {
            n = split_list(ld, item->value, &items);
            append_strings(ld, &c->lay_names, &c->n_lay_names, items, n);
        } else if (strcmp(item->key, "icd10") == 0) {
            n = split_list(ld, item->value, &items);
            for (size_t k = 0; k < n; k++)
                if (!valid_icd10(items[k]))
                    diag(ld, s->file, item->line, "condition '%s': '%s' is not an ICD-10-CM code", s->id, items[k]);
            append_strings(ld, &c->icd10, &c->n_icd10, items, n);
        } else if (strcmp(item->key, "system") == 0) {
            bool ok = false;
            for (size_t k = 0; k < MD_ARRAY_LEN(k_systems); k++)
                if (strcmp(item->value, k_systems[k]) == 0) ok = true;
            if (!ok) diag(ld, s->file, item->line, "condition '%s': unknown system '%s'", s->id, item->value);
            c->system = item->value;
        } else if (strcmp(item->key, "severity") == 0) {
            static const char *const sev[] = {"mild", "moderate", "severe", "critical"};
            for (int k = 0; k < 4; k++)
                if (strcmp(item->value, sev[k]) == 0) {
                    c->severity = (md_severity)k;
                    have_severity = true;
                }
            if (!have_severity)
                diag(ld, s->file, item->line, "condition '%s': severity '%s' is not mild, moderate, severe or critical",
                     s->id, item->value);
            have_severity = true;
        } else if (strcmp(item->key, "triage") == 0) {
            if (!md_triage_level_parse(item->value, &c->triage))
                diag(ld, s->file, item->line, "condition '%s': unknown triage level '%s'", s->id, item->value);
            have_triage = true;
        } else if (strcmp(item->key, "prior") == 0) {
            parse_prior(ld, s, item, c, &have_prior);
        } else if (strcmp(item->key, "sex") == 0) {
            parse_sex(ld, s, item, c);
        } else if (strcmp(item->key, "evidence") == 0) {
            parse_evidence(ld, s, item, c);
        } else if (strcmp(item->key, "next_steps") == 0) {
            n = split_list(ld, item->value, &items);
            append_strings(ld, &c->next_steps, &c->n_next_steps, items, n);
        } else if (strcmp(item->key, "guidelines") == 0) {
            n = split_list(ld, item->value, &items);
            append_strings(ld, &c->guidelines, &c->n_guidelines, items, n);
        } else {
            diag(ld, s->file, item->line, "condition '%s': unknown key '%s'", s->id, item->key);
        }
    }
    c->sex_multiplier[MD_SEX_UNKNOWN] = 0.5 * (c->sex_multiplier[MD_SEX_FEMALE] + c->sex_multiplier[MD_SEX_MALE]);
    static const char *const required[] = {"name", "icd10", "system", "severity", "triage", "prior",
                                           "evidence", "next_steps", "guidelines"};
    bool have[MD_ARRAY_LEN(required)] = {c->name != NULL, c->n_icd10 > 0, c->system != NULL,
                                         have_severity, have_triage, have_prior, c->n_evidence > 0,
                                         c->n_next_steps > 0, c->n_guidelines > 0};
    for (size_t k = 0; k < MD_ARRAY_LEN(required); k++)
        if (!have[k]) diag(ld, s->file, s->line, "condition '%s': missing '%s'", s->id, required[k]);
}

/* ---- questions --------------------------------------------------------------------- */

static void build_question(loader *ld, const stanza *s, md_kb_question *q) {
    static const char *const single[] = {"text"};
    check_single_keys(ld, s, single, MD_ARRAY_LEN(single));
    q->id = s->id;
    q->file = s->file;
    q->line = s->line;
    for (size_t i = 0; i < s->kvs.n; i++) {
        kv *item = md_vec_at(&s->kvs, i);
        if (strcmp(item->key, "text") == 0) {
            q->text = item->value;
        } else if (strcmp(item->key, "when") == 0) {
            q->when = obs_list(ld, s, item, &q->n_when, q->when, q->n_when);
        } else if (strcmp(item->key, "choice") == 0) {
            md_kb_choice *ch = md_arena_calloc(ld->a, q->n_choices + 1, sizeof *ch);
            if (!ch) {
                ld->oom = true;
                return;
            }
            if (q->n_choices) memcpy(ch, q->choices, q->n_choices * sizeof *ch);
            char *eq = strrchr(item->value, '=');
            md_kb_choice c = {item->value, -1};
            if (eq) {
                *eq = '\0';
                c.label = trim(item->value);
                char *id = trim(eq + 1);
                c.obs = ref_obs(ld, s, item, id);
                if (c.obs < 0) continue;
            }
            if (*c.label == '\0') {
                diag(ld, s->file, item->line, "question '%s': empty choice label", s->id);
                continue;
            }
            ch[q->n_choices++] = c;
            q->choices = ch;
        } else {
            diag(ld, s->file, item->line, "question '%s': unknown key '%s'", s->id, item->key);
        }
    }
    if (!q->text) diag(ld, s->file, s->line, "question '%s': missing 'text'", s->id);
    if (q->n_when == 0) diag(ld, s->file, s->line, "question '%s': missing 'when'", s->id);
    if (q->n_choices < 2) diag(ld, s->file, s->line, "question '%s': needs at least two 'choice' lines", s->id);
}

/* ---- red flags --------------------------------------------------------------------- */

static bool parse_term(loader *ld, const stanza *s, const kv *item, char *t, md_rf_term *out) {
    memset(out, 0, sizeof *out);
    out->min_severity = -1;
    double v;
    if (strncmp(t, "age<", 4) == 0 && strncmp(t, "age<=", 5) != 0) {
        out->type = MD_RF_TERM_AGE_LT;
        if (!parse_double(t + 4, &v) || v < 0) goto bad;
        out->age_years = v;
        return true;
    }
    if (strncmp(t, "age>=", 5) == 0) {
        out->type = MD_RF_TERM_AGE_GE;
        if (!parse_double(t + 5, &v) || v < 0) goto bad;
        out->age_years = v;
        return true;
    }
    if (strncmp(t, "sex=", 4) == 0) {
        out->type = MD_RF_TERM_SEX;
        if (!md_sex_parse(t + 4, &out->sex) || out->sex == MD_SEX_UNKNOWN) goto bad;
        return true;
    }
    out->type = MD_RF_TERM_OBS;
    if (*t == '!') {
        out->negated = true;
        t = trim(t + 1);
    }
    char *br = strchr(t, '[');
    if (br) {
        size_t n = strlen(br);
        if (n < 2 || br[n - 1] != ']') goto bad;
        br[n - 1] = '\0';
        *br = '\0';
        char *save = NULL;
        for (char *cond = strtok_r(br + 1, ",", &save); cond; cond = strtok_r(NULL, ",", &save)) {
            cond = trim(cond);
            if (strcmp(cond, "onset=sudden") == 0) out->onset = MD_ONSET_SUDDEN;
            else if (strcmp(cond, "onset=gradual") == 0) out->onset = MD_ONSET_GRADUAL;
            else if (strncmp(cond, "severity>=", 10) == 0 && parse_double(cond + 10, &v) && v >= 0 && v <= 10)
                out->min_severity = v;
            else {
                diag(ld, s->file, item->line, "redflag '%s': unknown attribute condition '%s' (onset=sudden|gradual, severity>=N)",
                     s->id, cond);
                return false;
            }
        }
    }
    t = trim(t);
    int32_t o = ref_obs(ld, s, item, t);
    if (o < 0) return false;
    out->obs = (uint32_t)o;
    return true;
bad:
    diag(ld, s->file, item->line, "redflag '%s': bad trigger term '%s'", s->id, t);
    return false;
}

static void build_redflag(loader *ld, const stanza *s, md_kb_redflag *r) {
    static const char *const single[] = {"name", "level", "guidance", "crisis"};
    check_single_keys(ld, s, single, MD_ARRAY_LEN(single));
    r->id = s->id;
    r->file = s->file;
    r->line = s->line;
    bool have_level = false;
    for (size_t i = 0; i < s->kvs.n; i++) {
        kv *item = md_vec_at(&s->kvs, i);
        if (strcmp(item->key, "name") == 0) {
            r->name = item->value;
        } else if (strcmp(item->key, "guidance") == 0) {
            r->guidance = item->value;
        } else if (strcmp(item->key, "level") == 0) {
            if (!md_triage_level_parse(item->value, &r->level))
                diag(ld, s->file, item->line, "redflag '%s': unknown level '%s'", s->id, item->value);
            have_level = true;
        } else if (strcmp(item->key, "crisis") == 0) {
            if (strcmp(item->value, "yes") == 0) r->crisis = true;
            else if (strcmp(item->value, "no") == 0) r->crisis = false;
            else diag(ld, s->file, item->line, "redflag '%s': crisis must be yes or no", s->id);
        } else if (strcmp(item->key, "trigger") == 0) {
            size_t n_terms = 1;
            for (char *p = item->value; *p; p++)
                if (*p == '+') n_terms++;
            md_rf_term *terms = md_arena_calloc(ld->a, n_terms, sizeof *terms);
            md_rf_trigger *trig = md_arena_calloc(ld->a, r->n_triggers + 1, sizeof *trig);
            if (!terms || !trig) {
                ld->oom = true;
                return;
            }
            size_t k = 0;
            bool ok = true, has_obs = false;
            char *save = NULL;
            for (char *t = strtok_r(item->value, "+", &save); t; t = strtok_r(NULL, "+", &save)) {
                t = trim(t);
                if (!parse_term(ld, s, item, t, &terms[k])) ok = false;
                else if (terms[k].type == MD_RF_TERM_OBS && !terms[k].negated) has_obs = true;
                k++;
            }
            if (ok && !has_obs) {
                diag(ld, s->file, item->line, "redflag '%s': a trigger needs at least one observation that must be present", s->id);
                ok = false;
            }
            if (!ok) continue;
            if (r->n_triggers) memcpy(trig, r->triggers, r->n_triggers * sizeof *trig);
            trig[r->n_triggers++] = (md_rf_trigger){terms, k};
            r->triggers = trig;
        } else {
            diag(ld, s->file, item->line, "redflag '%s': unknown key '%s'", s->id, item->key);
        }
    }
    if (!r->name) diag(ld, s->file, s->line, "redflag '%s': missing 'name'", s->id);
    if (!r->guidance) diag(ld, s->file, s->line, "redflag '%s': missing 'guidance'", s->id);
    if (!have_level) diag(ld, s->file, s->line, "redflag '%s': missing 'level'", s->id);
    if (r->n_triggers == 0) diag(ld, s->file, s->line, "redflag '%s': needs at least one 'trigger'", s->id);
}

/* ---- synonyms → matcher ------------------------------------------------------------ */

static void compile_phrase(loader *ld, const md_kb_observation *o, uint32_t obs_index, const char *phrase,
                           bool explicit_synonym) {
    md_arena scratch;
    md_arena_init(&scratch, 4096);
    tok_list toks = {0};
    if (text_tokenize(phrase, strlen(phrase), &scratch, &toks) != MD_OK) {
        ld->oom = true;
        goto done;
    }
    int32_t words[64];
    size_t n = 0;
    for (size_t i = 0; i < toks.n && n < MD_ARRAY_LEN(words); i++) {
        if (toks.items[i].kind == TOK_PUNCT) continue;
        int32_t id = matcher_intern(ld->kb->matcher, toks.items[i].stem);
        if (id < 0) {
            ld->oom = true;
            goto done;
        }
        words[n++] = id;
    }
    if (n == 0) {
        if (explicit_synonym)
            diag(ld, o->file, o->line, "observation '%s': synonym '%s' has no words", o->id, phrase);
        goto done;
    }
    uint32_t other = 0;
    md_status st = matcher_add(ld->kb->matcher, words, n, obs_index, &other);
    if (st == MD_ERR_CONFLICT && explicit_synonym) {
        const md_kb_observation *b = &ld->kb->obs[other];
        diag(ld, o->file, o->line, "observation '%s': synonym '%s' already means '%s' (%s:%d)", o->id, phrase,
             b->id, b->file, b->line);
    } else if (st == MD_ERR_NOMEM) {
        ld->oom = true;
    }
    if (explicit_synonym) ld->kb->n_synonyms++;
done:
    tok_list_free(&toks);
    md_arena_free(&scratch);
}

/* ---- CSR indexes ------------------------------------------------------------------- */

static void build_indexes(loader *ld) {
    md_kb *kb = ld->kb;
    kb->obs_cond_offsets = md_arena_calloc(ld->a, kb->n_obs + 1, sizeof(uint32_t));
    kb->obs_question_offsets = md_arena_calloc(ld->a, kb->n_obs + 1, sizeof(uint32_t));
    if (!kb->obs_cond_offsets || !kb->obs_question_offsets) {
        ld->oom = true;
        return;
    }
    size_t n_links = 0, n_qlinks = 0;
    for (size_t c = 0; c < kb->n_cond; c++)
        for (size_t e = 0; e < kb->cond[c].n_evidence; e++) {
            kb->obs_cond_offsets[kb->cond[c].evidence[e].obs + 1]++;
            n_links++;
        }
    for (size_t q = 0; q < kb->n_questions; q++)
        for (size_t w = 0; w < kb->questions[q].n_when; w++) {
            kb->obs_question_offsets[kb->questions[q].when[w] + 1]++;
            n_qlinks++;
        }
    for (size_t o = 0; o < kb->n_obs; o++) {
        kb->obs_cond_offsets[o + 1] += kb->obs_cond_offsets[o];
        kb->obs_question_offsets[o + 1] += kb->obs_question_offsets[o];
    }
    kb->obs_cond = md_arena_calloc(ld->a, n_links + 1, sizeof(uint32_t));
    kb->obs_cond_ev = md_arena_calloc(ld->a, n_links + 1, sizeof *kb->obs_cond_ev);
    if (!kb->obs_cond_ev) ld->oom = true;
    kb->obs_question = md_arena_calloc(ld->a, n_qlinks + 1, sizeof(uint32_t));
    uint32_t *fill = md_calloc(kb->n_obs + 1, sizeof(uint32_t));
    uint32_t *qfill = md_calloc(kb->n_obs + 1, sizeof(uint32_t));
    if (!kb->obs_cond || !kb->obs_question || !fill || !qfill) {
        md_free(fill);
        md_free(qfill);
        ld->oom = true;
        return;
    }
    for (size_t c = 0; c < kb->n_cond; c++)
        for (size_t e = 0; e < kb->cond[c].n_evidence; e++) {
            uint32_t o = kb->cond[c].evidence[e].obs;
            if (kb->obs_cond_ev) kb->obs_cond_ev[kb->obs_cond_offsets[o] + fill[o]] = &kb->cond[c].evidence[e];
            kb->obs_cond[kb->obs_cond_offsets[o] + fill[o]++] = (uint32_t)c;
        }
    for (size_t q = 0; q < kb->n_questions; q++)
        for (size_t w = 0; w < kb->questions[q].n_when; w++) {
            uint32_t o = kb->questions[q].when[w];
            kb->obs_question[kb->obs_question_offsets[o] + qfill[o]++] = (uint32_t)q;
        }
    md_free(fill);
    md_free(qfill);
}

/* ---- the whole load ---------------------------------------------------------------- */

static void free_stanzas(loader *ld) {
    for (size_t i = 0; i < ld->stanzas.n; i++) {
        stanza *s = md_vec_at(&ld->stanzas, i);
        md_vec_free(&s->kvs);
    }
    md_vec_free(&ld->stanzas);
}

static void build_all(loader *ld) {
    md_kb *kb = ld->kb;
    size_t counts[ST_COUNT] = {0};
    md_map *maps[ST_COUNT] = {&kb->obs_ids, &kb->cond_ids, &kb->question_ids, &kb->redflag_ids};
    for (size_t i = 0; i < ld->stanzas.n; i++) {
        stanza *s = md_vec_at(&ld->stanzas, i);
        uint64_t prev;
        if (md_map_get(maps[s->type], s->id, strlen(s->id), &prev)) {
            /* find the first definition for the message */
            for (size_t j = 0; j < i; j++) {
                stanza *f = md_vec_at(&ld->stanzas, j);
                if (f->id && f->type == s->type && strcmp(f->id, s->id) == 0) {
                    diag(ld, s->file, s->line, "duplicate %s id '%s' (first defined at %s:%d)",
                         k_stanza_names[s->type], s->id, f->file, f->line);
                    break;
                }
            }
            s->id = NULL; /* skipped from now on */
            continue;
        }
        if (md_map_put(maps[s->type], s->id, strlen(s->id), counts[s->type]++) != MD_OK) ld->oom = true;
    }
    kb->obs = md_arena_calloc(ld->a, counts[ST_OBSERVATION] + 1, sizeof *kb->obs);
    kb->cond = md_arena_calloc(ld->a, counts[ST_CONDITION] + 1, sizeof *kb->cond);
    kb->questions = md_arena_calloc(ld->a, counts[ST_QUESTION] + 1, sizeof *kb->questions);
    kb->redflags = md_arena_calloc(ld->a, counts[ST_REDFLAG] + 1, sizeof *kb->redflags);
    if (!kb->obs || !kb->cond || !kb->questions || !kb->redflags || ld->oom) {
        ld->oom = true;
        return;
    }
    kb->n_obs = counts[ST_OBSERVATION];
    kb->n_cond = counts[ST_CONDITION];
    kb->n_questions = counts[ST_QUESTION];
    kb->n_redflags = counts[ST_REDFLAG];
    size_t idx[ST_COUNT] = {0};
    for (size_t i = 0; i < ld->stanzas.n; i++) {
        stanza *s = md_vec_at(&ld->stanzas, i);
        if (!s->id) continue;
        size_t k = idx[s->type]++;
        switch (s->type) {
        case ST_OBSERVATION: build_observation(ld, s, &kb->obs[k]); break;
        case ST_CONDITION: build_condition(ld, s, &kb->cond[k]); break;
        case ST_QUESTION: build_question(ld, s, &kb->questions[k]); break;
        case ST_REDFLAG: build_redflag(ld, s, &kb->redflags[k]); break;
        default: break;
        }
    }
    kb->matcher = matcher_new();
    if (!kb->matcher) {
        ld->oom = true;
        return;
    }
    for (size_t o = 0; o < kb->n_obs; o++)
        for (size_t k = 0; k < kb->obs[o].n_synonyms; k++)
            compile_phrase(ld, &kb->obs[o], (uint32_t)o, kb->obs[o].synonyms[k], true);
    /* Names act as synonyms too, unless another observation already claims them. */
    for (size_t o = 0; o < kb->n_obs; o++)
        if (kb->obs[o].name) compile_phrase(ld, &kb->obs[o], (uint32_t)o, kb->obs[o].name, false);
    if (matcher_finish(kb->matcher) != MD_OK) ld->oom = true;
    if (context_lexicon(&kb->lexicon) != MD_OK || attributes_lexicon(&kb->lexicon) != MD_OK ||
        matcher_lexicon(&kb->lexicon) != MD_OK)
        ld->oom = true;
    build_indexes(ld);
    if (!infer_precompute(kb)) ld->oom = true;
    /* Log likelihood ratios of every evidence link, so inference adds numbers. */
    for (size_t c = 0; c < kb->n_cond; c++)
        for (size_t e = 0; e < kb->cond[c].n_evidence; e++) {
            md_kb_evidence *ev = &kb->cond[c].evidence[e];
            ev->log_lr_present = infer_log_lr(kb, ev, MD_OBS_STATUS_PRESENT);
            ev->log_lr_absent = infer_log_lr(kb, ev, MD_OBS_STATUS_ABSENT);
        }
}

static md_status load_common(size_t n_files, const char *const *paths, const char *const *texts,
                             const size_t *lens, md_kb **out, md_arena *diag_arena,
                             md_kb_diag **diags_out, size_t *n_diags_out, md_error *err) {
    *out = NULL;
    md_kb *kb = md_calloc(1, sizeof *kb);
    if (!kb) return md_error_set(err, MD_ERR_NOMEM, "out of memory loading the knowledge base");
    md_arena_init(&kb->arena, 1 << 20);
    md_map_init(&kb->obs_ids);
    md_map_init(&kb->cond_ids);
    md_map_init(&kb->question_ids);
    md_map_init(&kb->redflag_ids);
    md_map_init(&kb->lexicon);
    loader ld = {kb, &kb->arena, {0}, {0}, false};
    md_vec_init(&ld.stanzas, sizeof(stanza));
    md_vec_init(&ld.diags, sizeof(md_kb_diag));
    for (size_t i = 0; i < n_files && !ld.oom; i++) {
        const char *p = md_arena_strdup(ld.a, paths[i]);
        if (!p) ld.oom = true;
        else split_file(&ld, p, texts[i], lens ? lens[i] : strlen(texts[i]));
    }
    if (!ld.oom) build_all(&ld);
    if (!ld.oom && kb->n_cond == 0) diag(&ld, n_files ? paths[0] : "(none)", 0, "knowledge base defines no conditions");
    if (!ld.oom && kb->n_obs == 0) diag(&ld, n_files ? paths[0] : "(none)", 0, "knowledge base defines no observations");
    free_stanzas(&ld);
    md_status st = MD_OK;
    if (ld.oom) {
        st = md_error_set(err, MD_ERR_NOMEM, "out of memory loading the knowledge base");
    } else if (ld.diags.n > 0) {
        md_kb_diag *d0 = md_vec_at(&ld.diags, 0);
        st = md_error_set(err, MD_ERR_KB, "%s:%d: %s (%zu problem%s in the knowledge base)", d0->file, d0->line,
                          d0->message, ld.diags.n, ld.diags.n == 1 ? "" : "s");
    }
    if (diags_out && diag_arena && !ld.oom) {
        md_kb_diag *copy = md_arena_calloc(diag_arena, ld.diags.n + 1, sizeof *copy);
        if (!copy) {
            st = md_error_set(err, MD_ERR_NOMEM, "out of memory reporting diagnostics");
        } else {
            for (size_t i = 0; i < ld.diags.n; i++) {
                md_kb_diag *d = md_vec_at(&ld.diags, i);
                copy[i].file = md_arena_strdup(diag_arena, d->file);
                copy[i].line = d->line;
                copy[i].message = md_arena_strdup(diag_arena, d->message);
            }
            *diags_out = copy;
            *n_diags_out = ld.diags.n;
        }
    }
    md_vec_free(&ld.diags);
    if (st != MD_OK) {
        md_kb_free(kb);
        return st;
    }
    *out = kb;
    return MD_OK;
}

md_status md_kb_load_files(size_t n_files, const char *const *paths, const char *const *texts, md_kb **out,
                           md_error *err) {
    return load_common(n_files, paths, texts, NULL, out, NULL, NULL, NULL, err);
}

/* ---- files on disk ----------------------------------------------------------------- */

typedef struct path_list {
    char **paths;
    size_t n, cap;
} path_list;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static md_status collect_kb_files(const char *dir, path_list *pl, int depth, md_error *err) {
    if (depth > 8) return MD_OK;
    DIR *d = opendir(dir);
    if (!d) return md_error_set(err, MD_ERR_IO, "cannot open knowledge-base directory '%s': %s", dir, strerror(errno));
    struct dirent *e;
    md_status st = MD_OK;
    while ((e = readdir(d)) && st == MD_OK) {
        if (e->d_name[0] == '.') continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *path = md_malloc(n);
        if (!path) {
            st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(path, n, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            md_free(path);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            st = collect_kb_files(path, pl, depth + 1, err);
            md_free(path);
        } else if (S_ISREG(sb.st_mode) && strlen(e->d_name) > 3 &&
                   strcmp(e->d_name + strlen(e->d_name) - 3, ".kb") == 0) {
            if (pl->n == pl->cap) {
                size_t cap = pl->cap ? pl->cap * 2 : 32;
                char **grown = md_realloc(pl->paths, cap * sizeof *grown);
                if (!grown) {
                    md_free(path);
                    st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
                    break;
                }
                pl->paths = grown;
                pl->cap = cap;
            }
            pl->paths[pl->n++] = path;
        } else {
            md_free(path);
        }
    }
    closedir(d);
    return st;
}

static md_status load_dir_common(const char *dir, md_kb **out, md_arena *diag_arena, md_kb_diag **diags,
                                 size_t *n_diags, md_error *err) {
    *out = NULL;
    path_list pl = {0};
    md_status st = collect_kb_files(dir, &pl, 0, err);
    char **texts = NULL;
    size_t *lens = NULL;
    if (st == MD_OK && pl.n == 0)
        st = md_error_set(err, MD_ERR_KB, "no .kb files under '%s'", dir);
    if (st == MD_OK) {
        qsort(pl.paths, pl.n, sizeof *pl.paths, cmp_str);
        texts = md_calloc(pl.n, sizeof *texts);
        lens = md_calloc(pl.n, sizeof *lens);
        if (!texts || !lens) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == MD_OK && i < pl.n; i++)
        st = md_read_file(pl.paths[i], KB_MAX_FILE_BYTES, &texts[i], &lens[i], err);
    if (st == MD_OK) {
        /* Report paths relative to the KB directory, as the embedded copy does. */
        const char **rel = md_calloc(pl.n, sizeof *rel);
        if (!rel) {
            st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < pl.n; i++) rel[i] = pl.paths[i];
            st = load_common(pl.n, rel, (const char *const *)texts, lens, out, diag_arena, diags, n_diags, err);
            md_free(rel);
        }
    }
    for (size_t i = 0; i < pl.n; i++) {
        md_free(pl.paths[i]);
        if (texts) md_free(texts[i]);
    }
    md_free(pl.paths);
    md_free(texts);
    md_free(lens);
    return st;
}

md_status md_kb_load_dir(const char *dir, md_kb **out, md_error *err) {
    return load_dir_common(dir, out, NULL, NULL, NULL, err);
}

static md_status load_embedded_common(md_kb **out, md_arena *diag_arena, md_kb_diag **diags, size_t *n_diags,
                                      md_error *err) {
    size_t n = md_kb_embedded_count;
    const char **paths = md_calloc(n + 1, sizeof *paths);
    const char **texts = md_calloc(n + 1, sizeof *texts);
    size_t *lens = md_calloc(n + 1, sizeof *lens);
    md_status st;
    if (!paths || !texts || !lens) {
        st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            paths[i] = md_kb_embedded[i].path;
            texts[i] = md_kb_embedded[i].data;
            lens[i] = md_kb_embedded[i].n_bytes;
        }
        st = load_common(n, paths, texts, lens, out, diag_arena, diags, n_diags, err);
    }
    md_free(paths);
    md_free(texts);
    md_free(lens);
    return st;
}

md_status md_kb_load_embedded(md_kb **out, md_error *err) {
    return load_embedded_common(out, NULL, NULL, NULL, err);
}

md_status md_kb_load_default(const char *dir, md_kb **out, md_error *err) {
    if (dir && *dir) return md_kb_load_dir(dir, out, err);
    const char *env = getenv("MEDIFY_KB");
    if (env && *env) return md_kb_load_dir(env, out, err);
    return md_kb_load_embedded(out, err);
}

md_status md_kb_check_dir(const char *dir, md_arena *a, md_kb_diag **diags, size_t *n_diags, md_error *err) {
    md_kb *kb = NULL;
    *diags = NULL;
    *n_diags = 0;
    md_status st = load_dir_common(dir, &kb, a, diags, n_diags, err);
    md_kb_free(kb);
    return st;
}

md_status md_kb_check_embedded(md_arena *a, md_kb_diag **diags, size_t *n_diags, md_error *err) {
    md_kb *kb = NULL;
    *diags = NULL;
    *n_diags = 0;
    md_status st = load_embedded_common(&kb, a, diags, n_diags, err);
    md_kb_free(kb);
    return st;
}

void md_kb_free(md_kb *kb) {
    if (!kb) return;
    matcher_free(kb->matcher);
    md_map_free(&kb->obs_ids);
    md_map_free(&kb->cond_ids);
    md_map_free(&kb->question_ids);
    md_map_free(&kb->redflag_ids);
    md_map_free(&kb->lexicon);
    md_arena_free(&kb->arena);
    md_free(kb);
}

/* ---- accessors --------------------------------------------------------------------- */

size_t md_kb_n_observations(const md_kb *kb) { return kb->n_obs; }
size_t md_kb_n_conditions(const md_kb *kb) { return kb->n_cond; }
size_t md_kb_n_questions(const md_kb *kb) { return kb->n_questions; }
size_t md_kb_n_redflags(const md_kb *kb) { return kb->n_redflags; }
size_t md_kb_n_synonyms(const md_kb *kb) { return kb->n_synonyms; }
const md_kb_observation *md_kb_observation_at(const md_kb *kb, size_t i) { return i < kb->n_obs ? &kb->obs[i] : NULL; }
const md_kb_condition *md_kb_condition_at(const md_kb *kb, size_t i) { return i < kb->n_cond ? &kb->cond[i] : NULL; }
const md_kb_question *md_kb_question_at(const md_kb *kb, size_t i) {
    return i < kb->n_questions ? &kb->questions[i] : NULL;
}
const md_kb_redflag *md_kb_redflag_at(const md_kb *kb, size_t i) {
    return i < kb->n_redflags ? &kb->redflags[i] : NULL;
}
int32_t md_kb_observation_find(const md_kb *kb, const char *id) { return find_id(&kb->obs_ids, id); }
int32_t md_kb_condition_find(const md_kb *kb, const char *id) { return find_id(&kb->cond_ids, id); }
int32_t md_kb_question_find(const md_kb *kb, const char *id) { return find_id(&kb->question_ids, id); }
int32_t md_kb_redflag_find(const md_kb *kb, const char *id) { return find_id(&kb->redflag_ids, id); }
