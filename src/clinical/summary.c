/* The structured clinical summary and the JSON of an assessment.
 *
 * The summary follows the shape of a clinician's history: chief complaint; history of
 * present illness (onset, duration, severity, pattern, character and location,
 * laterality, aggravating and relieving factors, associated symptoms); pertinent
 * negatives; context (risk factors, past and family history, medicines tried,
 * previous episodes, impact on daily life); red flags; triage; top conditions.
 * Structured parts come from the case; aggravating/relieving factors, medicines and
 * impact are phrases lifted from the patient's own words by small lexicons below.
 * Output goes into an md_buf; JSON strings are escaped by md_buf_append_json_str.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "clinical/internal.h"

/* ---- tiny JSON helpers ------------------------------------------------------------ */

static void js(md_buf *b, const char *s) {
    if (!s) md_buf_append_str(b, "null");
    else md_buf_append_json_str(b, s, strlen(s));
}
static void jkey(md_buf *b, const char *k) {
    js(b, k);
    md_buf_append_char(b, ':');
}
/* Unsigned integer without printf (the JSON writer is on the hot path). */
static void juint(md_buf *b, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char out[24];
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    md_buf_append(b, out, n);
}

/* A probability in [0, 1] with four decimals ("0.0123"), without printf. */
static void jprob(md_buf *b, double p) {
    if (!(p >= 0)) p = 0;
    if (p > 1) p = 1;
    uint64_t q = (uint64_t)(p * 10000.0 + 0.5);
    char out[8] = {(char)('0' + q / 10000), '.', (char)('0' + q / 1000 % 10), (char)('0' + q / 100 % 10),
                   (char)('0' + q / 10 % 10), (char)('0' + q % 10)};
    md_buf_append(b, out, 6);
}

static void jnum(md_buf *b, double v) {
    if (v != v) md_buf_append_str(b, "null");
    else if (v >= 0 && v < 1e15 && v == (double)(long long)v) juint(b, (uint64_t)v);
    else if (v > -1e15 && v < 1e15 && v == (double)(long long)v) md_buf_appendf(b, "%lld", (long long)v);
    else md_buf_appendf(b, "%.6g", v);
}
static void jnum_or_null(md_buf *b, double v) {
    if (v < 0) md_buf_append_str(b, "null");
    else jnum(b, v);
}
static void jbool(md_buf *b, bool v) { md_buf_append_str(b, v ? "true" : "false"); }

/* ---- phrases from the patient's words ---------------------------------------------- */

typedef struct phrase_list {
    char items[8][96];
    size_t n;
} phrase_list;

static void add_phrase(phrase_list *l, const char *s, size_t n) {
    if (l->n == 8 || n == 0) return;
    if (n >= sizeof l->items[0]) n = sizeof l->items[0] - 1;
    char tmp[96];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], tmp) == 0) return;
    memcpy(l->items[l->n++], tmp, n + 1);
}

/* Lower-cased ASCII copy of all turn texts, one per line (folding via md_utf8_fold). */
static char *case_text_lower(const md_case *c) {
    md_buf b;
    md_buf_init(&b);
    for (uint32_t t = 1; t <= c->n_turns; t++) {
        const char *s = c->turn_texts[t - 1], *end = s + strlen(s);
        while (s < end) {
            unsigned char b0 = (unsigned char)*s;
            if (b0 < 0x80) { /* ASCII fast path */
                if (b0 != '\'') md_buf_append_char(&b, (char)tolower(b0));
                s++;
                continue;
            }
            uint32_t cp = md_utf8_decode(&s, end);
            char f[2];
            size_t k = md_utf8_fold(cp, f);
            for (size_t i = 0; i < k; i++) {
                char ch = (char)tolower((unsigned char)f[i]);
                if (ch == '\'') continue;
                md_buf_append_char(&b, ch);
            }
            if (k == 0) md_buf_append_char(&b, ' ');
        }
        md_buf_append_char(&b, '\n');
    }
    return md_buf_steal(&b);
}

/* After each trigger, the words up to the end of the clause (at most 8 words). */
static void lift_after(const char *text, const char *const *triggers, size_t n_triggers, phrase_list *out) {
    for (size_t t = 0; t < n_triggers; t++) {
        size_t tl = strlen(triggers[t]);
        for (const char *p = strstr(text, triggers[t]); p; p = strstr(p + 1, triggers[t])) {
            if (p != text && isalnum((unsigned char)p[-1])) continue;
            const char *s = p + tl;
            while (*s == ' ') s++;
            const char *e = s;
            int words = 0;
            while (*e && !strchr(".,;!?\n", *e)) {
                if (*e == ' ' && ++words >= 8) break;
                if (strncmp(e, " but ", 5) == 0 || strncmp(e, " and ", 5) == 0) break;
                e++;
            }
            while (e > s && e[-1] == ' ') e--;
            add_phrase(out, s, (size_t)(e - s));
        }
    }
}

static const char *const k_worse[] = {"worse when", "worse with", "worse after", "worse if", "worse on",
                                      "worse at", "worse during", "hurts when", "hurts to", "brought on by",
                                      "triggered by", "comes on when", "comes on with", "painful to",
                                      "aggravated by", "worsened by", "pain when", "pain on"};
static const char *const k_better[] = {"better when", "better with", "better after", "better if", "better on",
                                       "relieved by", "eased by", "eases with", "eases when", "helps",
                                       "helped by", "settles with", "settles when", "goes away when",
                                       "improves with", "improves when"};
static const char *const k_medicines[] = {
    "paracetamol", "acetaminophen", "tylenol", "ibuprofen", "advil", "nurofen", "motrin", "aspirin",
    "naproxen", "codeine", "co-codamol", "cocodamol", "antacid", "gaviscon", "rennie", "tums", "omeprazole",
    "lansoprazole", "antihistamine", "cetirizine", "loratadine", "piriton", "benadryl", "inhaler",
    "salbutamol", "albuterol", "ventolin", "antibiotic", "amoxicillin", "calpol", "lemsip", "sudafed",
    "decongestant", "imodium", "loperamide", "laxative", "lactulose", "senna", "dioralyte", "rehydration",
    "hydrocortisone", "steroid", "eye drops", "sumatriptan", "triptan", "gtn", "nitroglycerin", "epipen",
    "adrenaline", "epinephrine", "insulin", "diazepam", "sertraline", "fluoxetine", "metformin",
    "prednisolone", "strepsils", "throat lozenges", "cough syrup", "cough medicine", "painkiller",
    "pain killer", "morphine", "tramadol", "buscopan", "peppermint oil", "clotrimazole", "canesten",
};
static const char *const k_previous_yes[] = {"had this before", "happened before", "same as before", "again",
                                             "recurring", "another episode", "keeps coming back", "every time",
                                             "like last time", "history of this", "it's back", "its back"};
static const char *const k_previous_no[] = {"first time", "never had this", "never had anything like",
                                            "never happened before", "never experienced"};
static const char *const k_impact[] = {
    "cant work", "off work", "cant sleep", "keeping me up", "keeps me awake", "cant walk", "cant eat",
    "stuck in bed", "bed bound", "missed school", "cant concentrate", "cant drive", "cant go to work",
    "cant look after", "cant function", "struggling to cope", "cant get out of bed", "unable to work",
    "cant do anything", "affecting my work", "affecting my sleep", "cant play",
};

static bool contains_word(const char *text, const char *w) {
    size_t n = strlen(w);
    /* cheap rejection: the first two letters must occur together somewhere */
    if (n >= 2) {
        const char *q = text;
        bool pair = false;
        while ((q = strchr(q, w[0])) != NULL) {
            if (q[1] == w[1]) {
                pair = true;
                break;
            }
            q++;
        }
        if (!pair) return false;
    }
    for (const char *p = strstr(text, w); p; p = strstr(p + 1, w)) {
        bool left = p == text || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[n]) || p[n] == 's';
        if (left && right) return true;
    }
    return false;
}

typedef struct facets {
    phrase_list worse, better, medicines, impact;
    int previous; /* -1 unknown, 0 no, 1 yes */
} facets;

static void extract_facets(const md_case *c, facets *f) {
    memset(f, 0, sizeof *f);
    f->previous = -1;
    char *text = case_text_lower(c);
    if (!text) return;
    lift_after(text, k_worse, MD_ARRAY_LEN(k_worse), &f->worse);
    lift_after(text, k_better, MD_ARRAY_LEN(k_better), &f->better);
    for (size_t i = 0; i < MD_ARRAY_LEN(k_medicines); i++)
        if (contains_word(text, k_medicines[i])) add_phrase(&f->medicines, k_medicines[i], strlen(k_medicines[i]));
    for (size_t i = 0; i < MD_ARRAY_LEN(k_impact); i++)
        if (contains_word(text, k_impact[i])) add_phrase(&f->impact, k_impact[i], strlen(k_impact[i]));
    for (size_t i = 0; i < MD_ARRAY_LEN(k_previous_no); i++)
        if (strstr(text, k_previous_no[i])) f->previous = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_previous_yes) && f->previous < 0; i++)
        if (contains_word(text, k_previous_yes[i])) f->previous = 1;
    md_free(text);
}

/* ---- which observations play which role -------------------------------------------- */

typedef struct roles {
    int32_t chief;           /* chief complaint observation, -1 if none */
    uint32_t *order;         /* known observations in mention order */
    size_t n_order;
    bool *family_target;     /* observation is some observation's `family` mapping */
} roles;

/* Mention order: turn, then position in the turn; answers (turn 0) last. */
static bool mentioned_before(const md_case *c, uint32_t a, uint32_t b) {
    const md_case_entry *x = &c->entries[a], *y = &c->entries[b];
    uint32_t tx = x->turn ? x->turn : UINT32_MAX, ty = y->turn ? y->turn : UINT32_MAX;
    if (tx != ty) return tx < ty;
    if (x->span_begin != y->span_begin) return x->span_begin < y->span_begin;
    if (x->implied != y->implied) return !x->implied;
    return a < b;
}

static bool roles_init(const md_case *c, roles *r) {
    const md_kb *kb = c->kb;
    memset(r, 0, sizeof *r);
    r->chief = -1;
    r->order = md_calloc(kb->n_obs + 1, sizeof *r->order);
    r->family_target = md_calloc(kb->n_obs + 1, sizeof *r->family_target);
    if (!r->order || !r->family_target) {
        md_free(r->order);
        md_free(r->family_target);
        return false;
    }
    for (size_t o = 0; o < kb->n_obs; o++)
        if (kb->obs[o].family_of >= 0) r->family_target[kb->obs[o].family_of] = true;
    for (size_t o = 0; o < kb->n_obs; o++)
        if (c->entries[o].status != MD_OBS_STATUS_UNKNOWN) r->order[r->n_order++] = (uint32_t)o;
    for (size_t i = 1; i < r->n_order; i++) { /* insertion sort: a handful of findings */
        uint32_t v = r->order[i];
        size_t j = i;
        while (j > 0 && mentioned_before(c, v, r->order[j - 1])) {
            r->order[j] = r->order[j - 1];
            j--;
        }
        r->order[j] = v;
    }
    for (size_t i = 0; i < r->n_order; i++) {
        uint32_t o = r->order[i];
        const md_case_entry *e = &c->entries[o];
        md_obs_kind k = kb->obs[o].kind;
        if (entry_present_now(e) && !e->implied && (k == MD_OBS_KIND_SYMPTOM || k == MD_OBS_KIND_SIGN)) {
            /* Prefer the general complaint a specific finding implies ("chest pain"
             * over "crushing chest pressure"). */
            r->chief = (int32_t)o;
            for (size_t k2 = 0; k2 < kb->obs[o].n_implies; k2++)
                if (entry_present_now(&c->entries[kb->obs[o].implies[k2]])) {
                    r->chief = (int32_t)kb->obs[o].implies[k2];
                    break;
                }
            break;
        }
    }
    return true;
}

static void roles_free(roles *r) {
    md_free(r->order);
    md_free(r->family_target);
}

/* A specific form of the chief complaint: implies it, or shares its id as a prefix. */
static bool describes_chief(const md_kb *kb, uint32_t o, int32_t chief) {
    if (chief < 0 || (int32_t)o == chief) return false;
    const md_kb_observation *ob = &kb->obs[o];
    for (size_t k = 0; k < ob->n_implies; k++)
        if ((int32_t)ob->implies[k] == chief) return true;
    size_t n = strlen(kb->obs[chief].id);
    return strncmp(ob->id, kb->obs[chief].id, n) == 0 && ob->id[n] == '_';
}

static const char *onset_name(md_onset o) {
    return o == MD_ONSET_SUDDEN ? "sudden" : o == MD_ONSET_GRADUAL ? "gradual" : NULL;
}
static const char *laterality_name(md_laterality l) {
    return l == MD_LATERALITY_LEFT ? "left" : l == MD_LATERALITY_RIGHT ? "right" : l == MD_LATERALITY_BOTH ? "both" : NULL;
}
static const char *frequency_name(md_frequency f) {
    return f == MD_FREQUENCY_CONSTANT ? "constant" : f == MD_FREQUENCY_INTERMITTENT ? "intermittent" : NULL;
}

static void j_phrases(md_buf *b, const phrase_list *l) {
    md_buf_append_char(b, '[');
    for (size_t i = 0; i < l->n; i++) {
        if (i) md_buf_append_char(b, ',');
        js(b, l->items[i]);
    }
    md_buf_append_char(b, ']');
}

typedef bool (*obs_pred)(const md_case *c, const roles *r, uint32_t o);

static void j_obs_names(md_buf *b, const md_case *c, const roles *r, obs_pred pred) {
    md_buf_append_char(b, '[');
    bool first = true;
    for (size_t i = 0; i < r->n_order; i++) {
        uint32_t o = r->order[i];
        if (!pred(c, r, o)) continue;
        if (!first) md_buf_append_char(b, ',');
        first = false;
        js(b, c->kb->obs[o].name);
    }
    md_buf_append_char(b, ']');
}

static bool is_character(const md_case *c, const roles *r, uint32_t o) {
    return entry_present_now(&c->entries[o]) && describes_chief(c->kb, o, r->chief);
}
static bool is_associated(const md_case *c, const roles *r, uint32_t o) {
    md_obs_kind k = c->kb->obs[o].kind;
    return entry_present_now(&c->entries[o]) && (int32_t)o != r->chief && !describes_chief(c->kb, o, r->chief) &&
           (k == MD_OBS_KIND_SYMPTOM || k == MD_OBS_KIND_SIGN) && !c->entries[o].implied;
}
static bool is_negative(const md_case *c, const roles *r, uint32_t o) {
    (void)r;
    return c->entries[o].status == MD_OBS_STATUS_ABSENT && c->entries[o].context == MD_OBS_CONTEXT_CURRENT;
}
static bool is_risk(const md_case *c, const roles *r, uint32_t o) {
    return entry_present_now(&c->entries[o]) && c->kb->obs[o].kind == MD_OBS_KIND_RISK_FACTOR && !r->family_target[o];
}
static bool is_past(const md_case *c, const roles *r, uint32_t o) {
    return entry_present_now(&c->entries[o]) && c->kb->obs[o].kind == MD_OBS_KIND_HISTORY && !r->family_target[o];
}
static bool is_family(const md_case *c, const roles *r, uint32_t o) {
    const md_case_entry *e = &c->entries[o];
    return e->status == MD_OBS_STATUS_PRESENT &&
           (r->family_target[o] || e->context == MD_OBS_CONTEXT_FAMILY);
}

static void summary_json(md_buf *b, const md_case *c, const md_assessment *a, const roles *r, const facets *f) {
    const md_kb *kb = c->kb;
    md_buf_append_char(b, '{');
    jkey(b, "chief_complaint");
    if (r->chief >= 0) {
        md_buf_append_char(b, '{');
        jkey(b, "id");
        js(b, kb->obs[r->chief].id);
        md_buf_append_char(b, ',');
        jkey(b, "name");
        js(b, kb->obs[r->chief].name);
        md_buf_append_char(b, '}');
    } else {
        md_buf_append_str(b, "null");
    }
    const md_case_entry *ce = r->chief >= 0 ? &c->entries[r->chief] : NULL;
    md_attrs none;
    md_attrs_init(&none);
    const md_attrs *at = ce ? &ce->attrs : &none;
    md_buf_append_str(b, ",\"history_of_present_illness\":{");
    jkey(b, "onset");
    js(b, onset_name(at->onset));
    md_buf_append_char(b, ',');
    jkey(b, "duration_hours");
    jnum_or_null(b, at->duration_hours);
    md_buf_append_char(b, ',');
    jkey(b, "severity");
    jnum_or_null(b, at->severity);
    md_buf_append_char(b, ',');
    jkey(b, "pattern");
    js(b, frequency_name(at->frequency));
    md_buf_append_char(b, ',');
    jkey(b, "laterality");
    js(b, laterality_name(at->laterality));
    md_buf_append_char(b, ',');
    jkey(b, "character_and_location");
    j_obs_names(b, c, r, is_character);
    md_buf_append_char(b, ',');
    jkey(b, "aggravating_factors");
    j_phrases(b, &f->worse);
    md_buf_append_char(b, ',');
    jkey(b, "relieving_factors");
    j_phrases(b, &f->better);
    md_buf_append_char(b, ',');
    jkey(b, "associated_symptoms");
    j_obs_names(b, c, r, is_associated);
    md_buf_append_str(b, "},");
    jkey(b, "pertinent_negatives");
    j_obs_names(b, c, r, is_negative);
    md_buf_append_str(b, ",\"context\":{");
    jkey(b, "risk_factors");
    j_obs_names(b, c, r, is_risk);
    md_buf_append_char(b, ',');
    jkey(b, "past_history");
    j_obs_names(b, c, r, is_past);
    md_buf_append_char(b, ',');
    jkey(b, "family_history");
    j_obs_names(b, c, r, is_family);
    md_buf_append_char(b, ',');
    jkey(b, "medicines_tried");
    j_phrases(b, &f->medicines);
    md_buf_append_char(b, ',');
    jkey(b, "previous_episodes");
    md_buf_append_str(b, f->previous < 0 ? "null" : f->previous ? "true" : "false");
    md_buf_append_char(b, ',');
    jkey(b, "impact");
    j_phrases(b, &f->impact);
    md_buf_append_str(b, "},");
    jkey(b, "red_flags");
    md_buf_append_char(b, '[');
    for (size_t i = 0; i < a->n_redflags; i++) {
        if (i) md_buf_append_char(b, ',');
        js(b, kb->redflags[a->redflags[i].redflag].name);
    }
    md_buf_append_str(b, "],");
    jkey(b, "triage");
    js(b, md_triage_level_name(a->level));
    md_buf_append_char(b, ',');
    jkey(b, "top_conditions");
    md_buf_append_char(b, '[');
    for (size_t i = 0; i < a->n_conditions && i < 5; i++) {
        if (i) md_buf_append_char(b, ',');
        const md_kb_condition *cond = &kb->cond[a->conditions[i].condition];
        md_buf_append_str(b, "{\"id\":");
        js(b, cond->id);
        md_buf_append_str(b, ",\"name\":");
        js(b, cond->name);
        md_buf_append_str(b, ",\"probability\":");
        jprob(b, a->conditions[i].probability);
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "]}");
}

md_status md_summary_to_json(const md_case *c, const md_assessment *a, md_buf *out) {
    roles r;
    if (!roles_init(c, &r)) return MD_ERR_NOMEM;
    facets f;
    extract_facets(c, &f);
    summary_json(out, c, a, &r, &f);
    roles_free(&r);
    return md_buf_ok(out) ? MD_OK : MD_ERR_NOMEM;
}

/* ---- the whole assessment ----------------------------------------------------------- */

static void j_span(md_buf *b, size_t begin, size_t end) {
    md_buf_append_char(b, '[');
    juint(b, begin);
    md_buf_append_char(b, ',');
    juint(b, end);
    md_buf_append_char(b, ']');
}

static void j_question(md_buf *b, const md_assessment *a) {
    if (!a->has_question) {
        md_buf_append_str(b, "null");
        return;
    }
    const md_next_question *q = &a->question;
    md_buf_append_str(b, "{\"id\":");
    js(b, q->id);
    md_buf_append_str(b, ",\"text\":");
    js(b, q->text);
    md_buf_append_str(b, ",\"type\":");
    js(b, md_question_type_name(q->type));
    md_buf_append_str(b, ",\"choices\":[");
    if (q->type == MD_QUESTION_TYPE_YESNO) {
        md_buf_append_str(b, "\"Yes\",\"No\",\"Not sure\"");
    } else {
        for (size_t i = 0; i < q->n_choices && q->choices; i++) {
            if (i) md_buf_append_char(b, ',');
            js(b, q->choices[i]);
        }
    }
    md_buf_append_char(b, ']');
    if (q->type == MD_QUESTION_TYPE_NUMBER) {
        md_buf_append_str(b, ",\"min\":");
        jnum(b, q->min);
        md_buf_append_str(b, ",\"max\":");
        jnum(b, q->max);
        md_buf_append_str(b, ",\"unit\":");
        js(b, q->unit);
    }
    md_buf_append_char(b, '}');
}

static void j_attrs(md_buf *b, const md_attrs *at) {
    md_buf_append_char(b, '{');
    bool first = true;
#define SEP() do { if (!first) md_buf_append_char(b, ','); first = false; } while (0)
    if (at->onset != MD_ONSET_UNKNOWN) { SEP(); jkey(b, "onset"); js(b, onset_name(at->onset)); }
    if (at->severity >= 0) { SEP(); jkey(b, "severity"); jnum(b, at->severity); }
    if (at->duration_hours >= 0) { SEP(); jkey(b, "duration_hours"); jnum(b, at->duration_hours); }
    if (at->laterality != MD_LATERALITY_NONE) { SEP(); jkey(b, "laterality"); js(b, laterality_name(at->laterality)); }
    if (at->frequency != MD_FREQUENCY_UNKNOWN) { SEP(); jkey(b, "frequency"); js(b, frequency_name(at->frequency)); }
    if (at->temperature_c >= 0) { SEP(); jkey(b, "temperature_c"); md_buf_appendf(b, "%.1f", at->temperature_c); }
#undef SEP
    md_buf_append_char(b, '}');
}

md_status md_assessment_to_json(const md_case *c, const md_assessment *a, md_buf *b) {
    const md_kb *kb = c->kb;
    roles r;
    if (!roles_init(c, &r)) return MD_ERR_NOMEM;
    facets f;
    extract_facets(c, &f);

    md_buf_append_str(b, "{\"triage\":{\"level\":");
    js(b, md_triage_level_name(a->level));
    md_buf_append_str(b, ",\"advice\":");
    js(b, md_triage_level_advice(a->level));
    md_buf_append_str(b, ",\"reasons\":[");
    for (size_t i = 0; i < a->n_reasons && i < 8; i++) {
        if (i) md_buf_append_char(b, ',');
        js(b, a->reasons[i]);
    }
    md_buf_append_str(b, "]},\"emergency\":");
    jbool(b, a->emergency);

    md_buf_append_str(b, ",\"red_flags\":[");
    for (size_t i = 0; i < a->n_redflags; i++) {
        const md_redflag_hit *h = &a->redflags[i];
        const md_kb_redflag *rf = &kb->redflags[h->redflag];
        if (i) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        js(b, rf->id);
        md_buf_append_str(b, ",\"name\":");
        js(b, rf->name);
        md_buf_append_str(b, ",\"level\":");
        js(b, md_triage_level_name(rf->level));
        md_buf_append_str(b, ",\"observation\":");
        js(b, kb->obs[h->obs].id);
        md_buf_append_str(b, ",\"text\":");
        const char *turn = md_case_turn_text(c, h->turn);
        if (turn && h->span_end <= strlen(turn) && h->span_begin < h->span_end)
            md_buf_append_json_str(b, turn + h->span_begin, h->span_end - h->span_begin);
        else
            js(b, kb->obs[h->obs].name);
        md_buf_append_str(b, ",\"span\":");
        if (turn) j_span(b, h->span_begin, h->span_end);
        else md_buf_append_str(b, "null");
        md_buf_append_str(b, ",\"turn\":");
        jnum(b, h->turn);
        md_buf_append_str(b, ",\"guidance\":");
        js(b, rf->guidance);
        md_buf_append_str(b, ",\"crisis\":");
        jbool(b, rf->crisis);
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "],\"observations\":[");
    for (size_t i = 0; i < r.n_order; i++) {
        uint32_t o = r.order[i];
        const md_case_entry *e = &c->entries[o];
        if (i) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        js(b, kb->obs[o].id);
        md_buf_append_str(b, ",\"name\":");
        js(b, kb->obs[o].name);
        md_buf_append_str(b, ",\"status\":");
        js(b, md_obs_status_name(e->status));
        md_buf_append_str(b, ",\"context\":");
        js(b, md_obs_context_name(e->context));
        md_buf_append_str(b, ",\"source\":");
        js(b, e->implied ? "implied" : e->from_text ? "text" : "answer");
        md_buf_append_str(b, ",\"span\":");
        if (e->from_text && e->turn) j_span(b, e->span_begin, e->span_end);
        else md_buf_append_str(b, "null");
        md_buf_append_str(b, ",\"turn\":");
        jnum(b, e->turn);
        md_buf_append_str(b, ",\"attributes\":");
        j_attrs(b, &e->attrs);
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "],\"conditions\":[");
    for (size_t i = 0; i < a->n_conditions; i++) {
        const md_kb_condition *cond = &kb->cond[a->conditions[i].condition];
        if (i) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        js(b, cond->id);
        md_buf_append_str(b, ",\"name\":");
        js(b, cond->name);
        md_buf_append_str(b, ",\"icd10\":[");
        for (size_t k = 0; k < cond->n_icd10; k++) {
            if (k) md_buf_append_char(b, ',');
            js(b, cond->icd10[k]);
        }
        md_buf_append_str(b, "],\"probability\":");
        jprob(b, a->conditions[i].probability);
        md_buf_append_str(b, ",\"severity\":");
        js(b, md_severity_name(cond->severity));
        md_buf_append_str(b, ",\"triage\":");
        js(b, md_triage_level_name(cond->triage));
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "],\"next_question\":");
    j_question(b, a);
    md_buf_append_str(b, ",\"should_stop\":");
    jbool(b, a->should_stop);
    md_buf_append_str(b, ",\"patient\":{\"age\":");
    if (a->patient.age_years >= 0) md_buf_appendf(b, "%.4g", a->patient.age_years);
    else md_buf_append_str(b, "null");
    md_buf_append_str(b, ",\"sex\":");
    js(b, md_sex_name(a->patient.sex));
    md_buf_append_str(b, "},\"summary\":");
    summary_json(b, c, a, &r, &f);
    md_buf_append_str(b, ",\"notice\":");
    js(b, MD_CLINICAL_NOTICE);
    md_buf_append_char(b, '}');
    roles_free(&r);
    return md_buf_ok(b) ? MD_OK : MD_ERR_NOMEM;
}

/* ---- text rendering ------------------------------------------------------------------ */

static void t_list(md_buf *b, const char *label, const md_case *c, const roles *r, obs_pred pred) {
    bool first = true;
    for (size_t i = 0; i < r->n_order; i++) {
        uint32_t o = r->order[i];
        if (!pred(c, r, o)) continue;
        if (first) md_buf_appendf(b, "  %s: %s", label, c->kb->obs[o].name);
        else md_buf_appendf(b, ", %s", c->kb->obs[o].name);
        first = false;
    }
    if (!first) md_buf_append_char(b, '\n');
}

static void t_phrases(md_buf *b, const char *label, const phrase_list *l) {
    if (l->n == 0) return;
    md_buf_appendf(b, "  %s: ", label);
    for (size_t i = 0; i < l->n; i++) md_buf_appendf(b, "%s%s", i ? "; " : "", l->items[i]);
    md_buf_append_char(b, '\n');
}

md_status md_summary_to_text(const md_case *c, const md_assessment *a, md_buf *b) {
    const md_kb *kb = c->kb;
    roles r;
    if (!roles_init(c, &r)) return MD_ERR_NOMEM;
    facets f;
    extract_facets(c, &f);
    md_buf_append_str(b, "CLINICAL SUMMARY (generated by medify; for review by a clinician)\n");
    md_buf_append_str(b, "Patient: ");
    if (a->patient.age_years >= 2) md_buf_appendf(b, "%.0f-year-old", a->patient.age_years);
    else if (a->patient.age_years >= 0) md_buf_appendf(b, "%.0f-month-old", a->patient.age_years * 12);
    else md_buf_append_str(b, "age not given");
    md_buf_appendf(b, ", %s\n", a->patient.sex == MD_SEX_UNKNOWN ? "sex not given" : md_sex_name(a->patient.sex));
    md_buf_appendf(b, "Chief complaint: %s\n", r.chief >= 0 ? kb->obs[r.chief].name : "not identified");
    if (r.chief >= 0) {
        const md_attrs *at = &c->entries[r.chief].attrs;
        md_buf_append_str(b, "History of present illness:\n");
        if (at->onset != MD_ONSET_UNKNOWN) md_buf_appendf(b, "  Onset: %s\n", onset_name(at->onset));
        if (at->duration_hours >= 0) {
            double h = at->duration_hours;
            if (h >= 48) md_buf_appendf(b, "  Duration: %.0f days\n", h / 24);
            else md_buf_appendf(b, "  Duration: %.1f hours\n", h);
        }
        if (at->severity >= 0) md_buf_appendf(b, "  Severity: %.0f/10\n", at->severity);
        if (at->frequency != MD_FREQUENCY_UNKNOWN) md_buf_appendf(b, "  Pattern: %s\n", frequency_name(at->frequency));
        if (at->laterality != MD_LATERALITY_NONE) md_buf_appendf(b, "  Side: %s\n", laterality_name(at->laterality));
        t_list(b, "Character and location", c, &r, is_character);
        t_phrases(b, "Worse with", &f.worse);
        t_phrases(b, "Better with", &f.better);
        t_list(b, "Associated symptoms", c, &r, is_associated);
    }
    md_buf_append_str(b, "Pertinent negatives:\n");
    t_list(b, "Denies", c, &r, is_negative);
    md_buf_append_str(b, "Context:\n");
    t_list(b, "Risk factors", c, &r, is_risk);
    t_list(b, "Past history", c, &r, is_past);
    t_list(b, "Family history", c, &r, is_family);
    t_phrases(b, "Medicines tried", &f.medicines);
    t_phrases(b, "Impact", &f.impact);
    if (f.previous >= 0) md_buf_appendf(b, "  Previous episodes: %s\n", f.previous ? "yes" : "no (first episode)");
    if (a->n_redflags) {
        md_buf_append_str(b, "RED FLAGS:\n");
        for (size_t i = 0; i < a->n_redflags; i++)
            md_buf_appendf(b, "  ! %s\n", kb->redflags[a->redflags[i].redflag].name);
    }
    md_buf_appendf(b, "Triage: %s — %s\n", md_triage_level_name(a->level), md_triage_level_advice(a->level));
    for (size_t i = 0; i < a->n_reasons && i < 5; i++) md_buf_appendf(b, "  - %s\n", a->reasons[i]);
    md_buf_append_str(b, "Most likely conditions:\n");
    for (size_t i = 0; i < a->n_conditions && i < 5; i++) {
        const md_kb_condition *cond = &kb->cond[a->conditions[i].condition];
        md_buf_appendf(b, "  %zu. %s (%s) %.0f%%\n", i + 1, cond->name, cond->n_icd10 ? cond->icd10[0] : "",
                       a->conditions[i].probability * 100);
    }
    md_buf_appendf(b, "Notice: %s\n", MD_CLINICAL_NOTICE);
    roles_free(&r);
    return md_buf_ok(b) ? MD_OK : MD_ERR_NOMEM;
}
