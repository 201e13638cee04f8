/* synth.c: synthetic PMC-Patients-style case reports from the knowledge base.
 *
 * Per case i: a PRNG seeded from (seed, i) picks an age band (population weights of
 * people seeking care), an age within it and a sex, then a condition with probability
 * proportional to prior[band] * sex_multiplier[sex] (a condition impossible for that
 * band and sex is never drawn). Each evidence link of the condition is present with
 * its likelihood p_present; at least two findings are kept present. Findings are
 * worded from the observation's name or one of its clinical-sounding synonyms, and the
 * narrative parts come from template tables with {x} placeholders (see expand()).
 *
 * Memory: one arena reset per case; a ring of the last MD_SYNTH_LINKS_PER_CASE
 * case uids per condition for similar_patients. Nothing grows with the case count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "medify/synth.h"

/* ------------------------------------------------------------------- PRNG ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) { /* xoshiro256** */
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static uint32_t rng_below(rng *r, uint32_t n) { return n ? (uint32_t)(rng_unit(r) * n) % n : 0; }
static double rng_range(rng *r, double lo, double hi) { return lo + (hi - lo) * rng_unit(r); }
#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)MD_ARRAY_LEN(arr))])

/* --------------------------------------------------------------- templates ---- */

/* Placeholders: {a} age ("34-year-old"), {n} noun ("woman"), {s}/{S} she/She,
 * {o} her/him, {p}/{P} her/his, {c} presenting complaints, {d} duration ("3-day"),
 * {e} the same as words ("3 days"), {i}/{I} and {j}: the article ("a"/"an") before the
 * age and before the duration,
 * {w} setting, {x} a list (history, negatives, signs), {y} a second value, {D} the
 * diagnosis, {g} a guideline, {t} a test, {k} a number of days. */
static const char *const k_openings[] = {
    "{I} {a} {n} presented to {w} with {j} {d} history of {c}.",
    "{I} {a} {n} was admitted via {w} with {c} for {e}.",
    "We report the case of {i} {a} {n} who presented with {c} of {e} duration.",
    "The patient, {i} {a} {n}, attended {w} complaining of {c} for the previous {e}.",
    "A previously well {a} {n} was seen in {w} because of {c} that had begun {e} earlier.",
    "{I} {a} {n} was referred to {w} with {j} {d} history of {c}.",
};
static const char *const k_settings[] = {
    "the emergency department", "our hospital", "the outpatient clinic", "primary care",
    "the acute medical unit", "a general practitioner", "an urgent care centre",
};
static const char *const k_also[] = {
    "{S} also reported {x}.", "Further history revealed {x}.", "{S} additionally described {x}.",
    "There was associated {x}.",
};
static const char *const k_negatives[] = {
    "{S} denied {x}.", "There was no {x}.", "{S} reported no {x}.", "Pertinent negatives included the absence of {x}.",
};
static const char *const k_history[] = {
    "{P} past medical history was notable for {x}.", "{S} had a history of {x}.",
    "Relevant background included {x}.",
};
static const char *const k_no_history[] = {
    "{S} had no significant past medical history.", "{P} past medical history was unremarkable.",
    "There was no relevant medical history.",
};
static const char *const k_exam[] = {
    "On examination, {s} had a temperature of {y}, heart rate of {k} beats per minute and {x}.",
    "Physical examination showed a temperature of {y}, a pulse of {k} per minute and {x}.",
    "Examination revealed {x}; temperature was {y} and heart rate {k} per minute.",
};
static const char *const k_tests[] = {
    "{t} {y}.", "Investigations included {t}, which {y}.", "{t} was performed and {y}.",
};
static const char *const k_test_results[] = {
    "was consistent with the clinical picture", "supported the diagnosis", "showed findings in keeping with the diagnosis",
    "excluded important alternative diagnoses",
};
static const char *const k_diagnosis[] = {
    "A diagnosis of {D} was made.", "{S} was diagnosed with {D}.", "The findings were consistent with {D}.",
    "The final diagnosis was {D}.",
};
static const char *const k_treatment[] = {
    "{S} was managed according to {g}.", "Treatment followed {g}.", "Management was guided by {g}.",
};
static const char *const k_outcome_good[] = {
    "{S} made a full recovery and was discharged after {k} days.",
    "At follow-up {k} days later, {p} symptoms had resolved.",
    "{P} symptoms improved steadily and {s} was well at review after {k} days.",
};
static const char *const k_outcome_severe[] = {
    "{S} required close monitoring but recovered and was discharged on day {k}.",
    "After a complicated course {s} was discharged home on day {k}.",
    "{S} was admitted for {k} days and recovered.",
};
static const char *const k_titles[] = {
    "{D} in {i} {a} {n}: a case report", "A case of {D} presenting with {c}", "{D}: case report and review of the literature",
    "An unusual presentation of {D} in {i} {a} {n}",
};

typedef struct system_tests {
    const char *system;
    const char *tests[3];
} system_tests;

static const system_tests k_tests_by_system[] = {
    {"cardiovascular", {"an electrocardiogram", "serial troponin measurement", "echocardiography"}},
    {"respiratory", {"a chest radiograph", "pulse oximetry", "spirometry"}},
    {"gastrointestinal", {"abdominal ultrasound", "liver function testing", "abdominal computed tomography"}},
    {"neurological", {"computed tomography of the head", "magnetic resonance imaging of the brain", "neurological assessment"}},
    {"infectious", {"blood cultures", "a full blood count with C-reactive protein", "microbiological testing"}},
    {"genitourinary", {"urinalysis", "renal ultrasound", "urine culture"}},
    {"musculoskeletal", {"plain radiography", "musculoskeletal ultrasound", "inflammatory markers"}},
    {"endocrine", {"blood glucose measurement", "thyroid function testing", "serum electrolytes"}},
    {"skin", {"dermatological assessment", "a skin swab", "skin biopsy"}},
    {"eye", {"slit-lamp examination", "visual acuity testing", "fundoscopy"}},
    {"ent", {"otoscopy", "nasendoscopy", "a throat swab"}},
    {"haematological", {"a full blood count and film", "coagulation studies", "iron studies"}},
    {"mental_health", {"a structured mental state examination", "screening blood tests", "a risk assessment"}},
    {"pregnancy", {"pelvic ultrasound", "a serum beta-hCG level", "obstetric assessment"}},
    {"gynaecological", {"pelvic ultrasound", "a pregnancy test", "speculum examination"}},
    {"sexual_health", {"nucleic acid amplification testing", "serology", "genital swabs"}},
    {"paediatric", {"a full blood count", "urinalysis", "pulse oximetry"}},
    {"poisoning", {"a toxicology screen", "serum paracetamol and salicylate levels", "arterial blood gas analysis"}},
    {"environmental", {"core temperature measurement", "serum electrolytes", "an electrocardiogram"}},
    {"allergy", {"serum tryptase", "allergy testing", "skin prick testing"}},
};
static const char *const k_generic_tests[] = {"routine blood tests", "a full blood count", "basic metabolic panel"};

/* Band weights: share of care-seeking people (NHS Digital age profile, rounded). */
static const double k_band_weight[MD_AGE_BAND_COUNT] = {0.04, 0.14, 0.07, 0.55, 0.20};
static const double k_band_lo[MD_AGE_BAND_COUNT] = {0.0, 1.0, 13.0, 18.0, 65.0};
static const double k_band_hi[MD_AGE_BAND_COUNT] = {1.0, 13.0, 18.0, 65.0, 96.0};

/* ---------------------------------------------------------------- state ---- */

typedef struct link_ring {
    char uid[MD_SYNTH_LINKS_PER_CASE][32];
    char pmid[MD_SYNTH_LINKS_PER_CASE][24];
    uint32_t n, next;
} link_ring;

struct md_synth {
    const md_kb *kb;
    md_synth_params params;
    uint64_t next;
    md_arena arena; /* reset per case */
    link_ring *rings; /* one per condition */
    double *weights;  /* scratch: n_conditions */
    md_buf text, title;
    md_map vocab;     /* lower-case words of the KB's clinician-facing names */
};

md_synth_params md_synth_default_params(void) { return (md_synth_params){.seed = 1, .first_pmid = MD_SYNTH_DEFAULT_FIRST_PMID}; }

/* Adds the lower-case words of a name ("Shortness of breath (dyspnoea)") to the set. */
static bool add_words(md_map *vocab, const char *name) {
    char w[64];
    size_t n = 0;
    for (const char *p = name;; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            if (n + 1 < sizeof w) w[n++] = (char)(c | 0x20);
        } else {
            if (n > 0 && md_map_put(vocab, w, n, 1) != MD_OK) return false;
            n = 0;
            if (!c) break;
        }
    }
    return true;
}

md_status md_synth_new(const md_kb *kb, md_synth_params params, md_synth **out, md_error *err) {
    *out = NULL;
    if (!kb || md_kb_n_conditions(kb) == 0) return md_error_set(err, MD_ERR_INVALID_ARG, "synth: empty knowledge base");
    md_synth *s = md_calloc(1, sizeof *s);
    if (!s) return md_error_set(err, MD_ERR_NOMEM, "synth: out of memory");
    s->kb = kb;
    s->params = params;
    md_arena_init(&s->arena, 16 * 1024);
    md_buf_init(&s->text);
    md_buf_init(&s->title);
    md_map_init(&s->vocab);
    s->rings = md_calloc(md_kb_n_conditions(kb), sizeof *s->rings);
    s->weights = md_calloc(md_kb_n_conditions(kb), sizeof *s->weights);
    bool vocab_ok = true;
    for (size_t i = 0; i < md_kb_n_observations(kb) && vocab_ok; i++)
        vocab_ok = add_words(&s->vocab, md_kb_observation_at(kb, i)->name);
    for (size_t i = 0; i < md_kb_n_conditions(kb) && vocab_ok; i++)
        vocab_ok = add_words(&s->vocab, md_kb_condition_at(kb, i)->name);
    if (!s->rings || !s->weights || !vocab_ok) {
        md_synth_free(s);
        return md_error_set(err, MD_ERR_NOMEM, "synth: out of memory");
    }
    *out = s;
    return MD_OK;
}

void md_synth_free(md_synth *s) {
    if (!s) return;
    md_arena_free(&s->arena);
    md_buf_free(&s->text);
    md_buf_free(&s->title);
    md_free(s->rings);
    md_free(s->weights);
    md_map_free(&s->vocab);
    md_free(s);
}

/* ---------------------------------------------------------------- wording ---- */

/* Lower-cases a leading capital unless the word is an acronym, drops "(...)". */
static char *clinical_phrase(md_arena *a, const char *name) {
    const char *paren = strstr(name, " (");
    size_t n = paren ? (size_t)(paren - name) : strlen(name);
    char *p = md_arena_strndup(a, name, n);
    if (p && p[0] >= 'A' && p[0] <= 'Z' && !(p[1] >= 'A' && p[1] <= 'Z')) p[0] = (char)(p[0] - 'A' + 'a');
    return p;
}

/* Synonyms written from the patient's side ("i cant breathe") read badly in a case
 * report; keep the ones that sound clinical. */
static bool clinical_synonym(const md_map *vocab, const char *s) {
    static const char *const bad[] = {"i ", " i ", "my ", "cant", "dont", "feel", "im ", "got ", "ive ", "hurts", "me ", " me", "keep"};
    if (strlen(s) < 4) return false;
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        if (strstr(s, bad[i]) == s || (bad[i][0] == ' ' && strstr(s, bad[i]))) return false;
    for (const char *p = s; *p; p++)
        if (*p >= '0' && *p <= '9') return false;
    /* Synonyms carry patients' misspellings ("sneazing") on purpose, for matching;
     * a case report should not. Keep a synonym only when every word of it occurs in
     * some clinician-facing name of the knowledge base. */
    const char *w = s;
    while (*w) {
        while (*w && !((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z'))) w++;
        const char *e = w;
        while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z')) e++;
        if (e > w) {
            char lw[64];
            size_t n = (size_t)(e - w) < sizeof lw ? (size_t)(e - w) : sizeof lw - 1;
            for (size_t i = 0; i < n; i++) lw[i] = (char)(w[i] | 0x20);
            if (!md_map_get(vocab, lw, n, NULL)) return false;
        }
        w = e;
    }
    return true;
}

static const char *finding_words(md_synth *s, rng *r, const md_kb_observation *o) {
    if (o->n_synonyms > 0 && rng_unit(r) < 0.4) {
        for (int tries = 0; tries < 3; tries++) {
            const char *syn = o->synonyms[rng_below(r, (uint32_t)o->n_synonyms)];
            if (clinical_synonym(&s->vocab, syn)) return syn;
        }
    }
    const char *p = clinical_phrase(&s->arena, o->name);
    return p ? p : o->name;
}

/* "a, b and c" */
static const char *join_list(md_arena *a, const char *const *items, size_t n, const char *last_sep) {
    md_buf b;
    md_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) md_buf_append_str(&b, i + 1 == n ? last_sep : ", ");
        md_buf_append_str(&b, items[i]);
    }
    const char *out = md_buf_ok(&b) && b.data ? md_arena_strdup(a, b.data) : "";
    md_buf_free(&b);
    return out ? out : "";
}

/* Expands {x} placeholders (see the template tables) from vars indexed by letter. */
static void expand(md_buf *b, const char *tpl, const char *const vars[128]) {
    for (const char *p = tpl; *p; p++) {
        if (p[0] == '{' && p[1] && p[2] == '}' && (unsigned char)p[1] < 128 && vars[(unsigned char)p[1]]) {
            md_buf_append_str(b, vars[(unsigned char)p[1]]);
            p += 2;
        } else {
            md_buf_append_char(b, *p);
        }
    }
}

static void sentence(md_buf *b, const char *tpl, const char *const vars[128]) {
    if (b->len) md_buf_append_char(b, ' ');
    size_t start = b->len;
    expand(b, tpl, vars);
    if (md_buf_ok(b) && b->data[start] >= 'a' && b->data[start] <= 'z') b->data[start] = (char)(b->data[start] - 'a' + 'A');
}

/* ---------------------------------------------------------------- one case ---- */

static uint32_t pick_condition(md_synth *s, rng *r, md_age_band band, md_sex sex, bool *ok) {
    size_t n = md_kb_n_conditions(s->kb);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const md_kb_condition *c = md_kb_condition_at(s->kb, i);
        double w = c->prior[band] * c->sex_multiplier[sex];
        s->weights[i] = w > 0 ? w : 0;
        total += s->weights[i];
    }
    *ok = total > 0;
    if (!*ok) return 0;
    double x = rng_unit(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < s->weights[i]) return (uint32_t)i;
        x -= s->weights[i];
    }
    for (size_t i = n; i-- > 0;)
        if (s->weights[i] > 0) return (uint32_t)i;
    return 0;
}

static const char *noun_for(rng *r, md_age_band band, md_sex sex) {
    bool f = sex == MD_SEX_FEMALE;
    switch (band) {
    case MD_AGE_BAND_INFANT: return f ? (rng_unit(r) < 0.5 ? "female infant" : "baby girl") : (rng_unit(r) < 0.5 ? "male infant" : "baby boy");
    case MD_AGE_BAND_CHILD: return f ? "girl" : "boy";
    case MD_AGE_BAND_ADOLESCENT: return f ? (rng_unit(r) < 0.5 ? "adolescent girl" : "girl") : (rng_unit(r) < 0.5 ? "adolescent boy" : "boy");
    case MD_AGE_BAND_OLDER: return f ? (rng_unit(r) < 0.3 ? "lady" : "woman") : (rng_unit(r) < 0.3 ? "gentleman" : "man");
    default: return f ? "woman" : "man";
    }
}

static const char *tests_for(rng *r, const char *system) {
    for (size_t i = 0; i < MD_ARRAY_LEN(k_tests_by_system); i++)
        if (strcmp(k_tests_by_system[i].system, system) == 0) return k_tests_by_system[i].tests[rng_below(r, 3)];
    return PICK(r, k_generic_tests);
}

/* "an 8-day", "an 11-year-old", "an 18-month-old": numbers read aloud with a vowel. */
static bool starts_with_vowel_sound(const char *num) {
    unsigned v = (unsigned)strtoul(num, NULL, 10);
    return v == 8 || v == 11 || v == 18 || (v >= 80 && v <= 89) || (v >= 800 && v <= 899);
}

static const char *grab(md_buf *b, md_arena *a) {
    const char *p = md_buf_ok(b) && b->data ? md_arena_strdup(a, b->data) : NULL;
    md_buf_clear(b);
    return p ? p : "";
}

md_status md_synth_next(md_synth *s, md_synth_case *out, md_error *err) {
    memset(out, 0, sizeof *out);
    md_arena_reset(&s->arena);
    md_arena *a = &s->arena;
    const md_kb *kb = s->kb;
    const uint64_t i = s->next;
    rng r;
    rng_seed(&r, s->params.seed, i);

    /* demographics and condition */
    md_age_band band = MD_AGE_BAND_ADULT;
    md_sex sex = MD_SEX_FEMALE;
    uint32_t cond = 0;
    bool ok = false;
    for (int tries = 0; tries < 32 && !ok; tries++) {
        double x = rng_unit(&r);
        band = MD_AGE_BAND_OLDER;
        for (int b = 0; b < MD_AGE_BAND_COUNT; b++) {
            if (x < k_band_weight[b]) {
                band = (md_age_band)b;
                break;
            }
            x -= k_band_weight[b];
        }
        sex = rng_unit(&r) < 0.5 ? MD_SEX_FEMALE : MD_SEX_MALE;
        cond = pick_condition(s, &r, band, sex, &ok);
    }
    if (!ok) return md_error_set(err, MD_ERR_KB, "synth: no condition has a positive prior");
    const md_kb_condition *c = md_kb_condition_at(kb, cond);
    double age = rng_range(&r, k_band_lo[band], k_band_hi[band]);
    char age_lit[64], age_phrase[48];
    if (band == MD_AGE_BAND_INFANT) {
        uint32_t months = 1 + rng_below(&r, 11);
        if (months < 2 && rng_unit(&r) < 0.5) {
            uint32_t weeks = 1 + rng_below(&r, 7);
            age = weeks * 7.0 / 365.25;
            snprintf(age_lit, sizeof age_lit, "[[%u.0, 'week']]", weeks);
            snprintf(age_phrase, sizeof age_phrase, "%u-week-old", weeks);
        } else {
            age = months / 12.0;
            snprintf(age_lit, sizeof age_lit, "[[%u.0, 'month']]", months);
            snprintf(age_phrase, sizeof age_phrase, "%u-month-old", months);
        }
    } else {
        unsigned years = (unsigned)age;
        if (years < k_band_lo[band]) years = (unsigned)k_band_lo[band];
        age = years;
        snprintf(age_lit, sizeof age_lit, "[[%u.0, 'year']]", years);
        snprintf(age_phrase, sizeof age_phrase, "%u-year-old", years);
    }

    /* findings */
    size_t n_ev = c->n_evidence;
    const char **present = md_arena_calloc(a, n_ev + 1, sizeof(char *));
    const char **signs = md_arena_calloc(a, n_ev + 1, sizeof(char *));
    const char **hist = md_arena_calloc(a, n_ev + 1, sizeof(char *));
    const char **absent = md_arena_calloc(a, n_ev + 1, sizeof(char *));
    bool *is_present = md_arena_calloc(a, n_ev + 1, sizeof(bool));
    if (!present || !signs || !hist || !absent || !is_present) return md_error_set(err, MD_ERR_NOMEM, "synth: out of memory");
    size_t n_present = 0, n_signs = 0, n_hist = 0, n_absent = 0, n_pos = 0;
    bool fever = false;
    for (size_t e = 0; e < n_ev; e++) is_present[e] = rng_unit(&r) < c->evidence[e].p_present;
    for (size_t e = 0; e < n_ev; e++) n_pos += is_present[e];
    for (size_t e = 0; e < n_ev && n_pos < 2; e++) /* at least two findings: the most likely ones */
        if (!is_present[e] && c->evidence[e].p_present >= 0.3) is_present[e] = true, n_pos++;
    for (size_t e = 0; e < n_ev; e++) {
        const md_kb_observation *o = md_kb_observation_at(kb, c->evidence[e].obs);
        if (is_present[e]) {
            if (strstr(o->id, "fever")) fever = true;
            const char *w = finding_words(s, &r, o);
            if (o->kind == MD_OBS_KIND_SIGN) signs[n_signs++] = w;
            else if (o->kind == MD_OBS_KIND_HISTORY || o->kind == MD_OBS_KIND_RISK_FACTOR) hist[n_hist++] = w;
            else present[n_present++] = w;
        } else if (o->kind == MD_OBS_KIND_SYMPTOM && c->evidence[e].p_present >= 0.15 && n_absent < 3) {
            absent[n_absent++] = finding_words(s, &r, o);
        }
    }
    if (n_present == 0 && n_signs > 0) present[n_present++] = signs[--n_signs];
    if (n_present == 0 && n_hist > 0) present[n_present++] = hist[--n_hist];
    /* shuffle the symptoms so the order varies; the first up to 4 are the complaint */
    for (size_t k = n_present; k > 1; k--) {
        size_t j = rng_below(&r, (uint32_t)k);
        const char *t = present[k - 1];
        present[k - 1] = present[j];
        present[j] = t;
    }
    size_t n_main = n_present < 4 ? n_present : 2 + rng_below(&r, 3);
    if (n_main > n_present) n_main = n_present;

    const char *vars[128] = {0};
    bool f = sex == MD_SEX_FEMALE;
    char dur[32], dur_words[32], kdays[16], temp[32];
    bool acute = c->triage >= MD_TRIAGE_EMERGENCY;
    unsigned dur_n;
    const char *dur_unit;
    if (acute && rng_unit(&r) < 0.6) dur_n = 1 + rng_below(&r, 23), dur_unit = "hour";
    else if (rng_unit(&r) < 0.75) dur_n = 1 + rng_below(&r, 13), dur_unit = "day";
    else dur_n = 1 + rng_below(&r, 7), dur_unit = "week";
    snprintf(dur, sizeof dur, "%u-%s", dur_n, dur_unit);
    snprintf(dur_words, sizeof dur_words, "%u %s%s", dur_n, dur_unit, dur_n == 1 ? "" : "s");
    bool an_age = starts_with_vowel_sound(age_phrase), an_dur = starts_with_vowel_sound(dur);
    vars['i'] = an_age ? "an" : "a";
    vars['I'] = an_age ? "An" : "A";
    vars['j'] = an_dur ? "an" : "a";
    vars['e'] = dur_words;
    vars['a'] = age_phrase;
    vars['n'] = noun_for(&r, band, sex);
    vars['s'] = f ? "she" : "he";
    vars['S'] = f ? "She" : "He";
    vars['o'] = f ? "her" : "him";
    vars['p'] = f ? "her" : "his";
    vars['P'] = f ? "Her" : "His";
    vars['c'] = join_list(a, present, n_main, " and ");
    vars['d'] = dur;
    vars['w'] = PICK(&r, k_settings);
    vars['D'] = clinical_phrase(a, c->name);
    if (!vars['D']) return md_error_set(err, MD_ERR_NOMEM, "synth: out of memory");

    md_buf *b = &s->text;
    md_buf_clear(b);
    sentence(b, PICK(&r, k_openings), vars);
    if (n_present > n_main) {
        vars['x'] = join_list(a, present + n_main, n_present - n_main, " and ");
        sentence(b, PICK(&r, k_also), vars);
    }
    size_t n_summary = b->len;
    if (n_hist) {
        vars['x'] = join_list(a, hist, n_hist, " and ");
        sentence(b, PICK(&r, k_history), vars);
    } else {
        sentence(b, PICK(&r, k_no_history), vars);
    }
    if (n_absent) {
        vars['x'] = join_list(a, absent, n_absent, " or ");
        sentence(b, PICK(&r, k_negatives), vars);
    }
    double t_c = fever ? rng_range(&r, 38.0, 40.2) : rng_range(&r, 36.2, 37.4);
    unsigned hr = (unsigned)(fever || acute ? rng_range(&r, 90, 130) : rng_range(&r, 60, 95));
    if (band <= MD_AGE_BAND_CHILD) hr += 20;
    snprintf(temp, sizeof temp, "%.1f°C", t_c);
    snprintf(kdays, sizeof kdays, "%u", hr);
    vars['y'] = temp;
    vars['k'] = kdays;
    vars['x'] = n_signs ? join_list(a, signs, n_signs, " and ") : "no other abnormal findings";
    sentence(b, PICK(&r, k_exam), vars);
    vars['t'] = tests_for(&r, c->system);
    vars['y'] = PICK(&r, k_test_results);
    sentence(b, PICK(&r, k_tests), vars);
    sentence(b, PICK(&r, k_diagnosis), vars);
    if (c->n_guidelines) {
        vars['g'] = c->guidelines[rng_below(&r, (uint32_t)c->n_guidelines)];
        sentence(b, PICK(&r, k_treatment), vars);
    }
    snprintf(kdays, sizeof kdays, "%u", c->severity >= MD_SEVERITY_SEVERE ? 4 + rng_below(&r, 20) : 2 + rng_below(&r, 12));
    vars['k'] = kdays;
    sentence(b, c->severity >= MD_SEVERITY_SEVERE ? PICK(&r, k_outcome_severe) : PICK(&r, k_outcome_good), vars);
    const char *text = grab(b, a);

    md_buf *t = &s->title;
    md_buf_clear(t);
    sentence(t, PICK(&r, k_titles), vars);
    const char *title = grab(t, a);

    /* identifiers and links */
    uint64_t pmid = s->params.first_pmid + i;
    char pmid_s[24], uid[32], pid[24], path[48];
    snprintf(pmid_s, sizeof pmid_s, "%llu", (unsigned long long)pmid);
    snprintf(uid, sizeof uid, "%llu-1", (unsigned long long)pmid);
    snprintf(pid, sizeof pid, "%llu", (unsigned long long)i);
    snprintf(path, sizeof path, "synthetic/PMC%llu.xml", (unsigned long long)pmid);
    link_ring *ring = &s->rings[cond];
    md_buf l;
    md_buf_init(&l);
    md_buf_append_char(&l, '{');
    for (uint32_t k = 0; k < ring->n; k++) md_buf_appendf(&l, "%s'%s': 1", k ? ", " : "", ring->pmid[k]);
    md_buf_append_char(&l, '}');
    const char *rel_articles = grab(&l, a);
    md_buf_append_char(&l, '{');
    for (uint32_t k = 0; k < ring->n; k++) md_buf_appendf(&l, "%s'%s': 1", k ? ", " : "", ring->uid[k]);
    md_buf_append_char(&l, '}');
    const char *similar = grab(&l, a);
    md_buf_free(&l);
    snprintf(ring->uid[ring->next], sizeof ring->uid[0], "%s", uid);
    snprintf(ring->pmid[ring->next], sizeof ring->pmid[0], "%s", pmid_s);
    ring->next = (ring->next + 1) % MD_SYNTH_LINKS_PER_CASE;
    if (ring->n < MD_SYNTH_LINKS_PER_CASE) ring->n++;

    out->index = i;
    out->condition = cond;
    out->age_years = age;
    out->sex = sex;
    out->patient_id = md_arena_strdup(a, pid);
    out->patient_uid = md_arena_strdup(a, uid);
    out->pmid = md_arena_strdup(a, pmid_s);
    out->file_path = md_arena_strdup(a, path);
    out->title = title;
    out->text = text;
    out->n_summary_bytes = n_summary < strlen(text) ? n_summary : strlen(text);
    out->age_literal = md_arena_strdup(a, age_lit);
    out->gender = f ? "F" : "M";
    out->relevant_articles = rel_articles;
    out->similar_patients = similar;
    if (!out->patient_id || !out->patient_uid || !out->pmid || !out->file_path || !out->age_literal || !*text)
        return md_error_set(err, MD_ERR_NOMEM, "synth: out of memory");
    s->next++;
    return MD_OK;
}

/* -------------------------------------------------------------------- CSV ---- */

const char *md_synth_csv_header(void) {
    return "patient_id,patient_uid,PMID,file_path,title,patient,age,gender,relevant_articles,similar_patients\n";
}

static void csv_field(md_buf *b, const char *s, bool last) {
    if (strpbrk(s, ",\"\n\r")) {
        md_buf_append_char(b, '"');
        for (const char *p = s; *p; p++) {
            if (*p == '"') md_buf_append_char(b, '"');
            md_buf_append_char(b, *p);
        }
        md_buf_append_char(b, '"');
    } else {
        md_buf_append_str(b, s);
    }
    md_buf_append_char(b, last ? '\n' : ',');
}

void md_synth_case_to_csv(const md_synth_case *c, md_buf *out) {
    const char *f[] = {c->patient_id, c->patient_uid, c->pmid,   c->file_path,         c->title,
                       c->text,       c->age_literal, c->gender, c->relevant_articles, c->similar_patients};
    for (size_t i = 0; i < MD_ARRAY_LEN(f); i++) csv_field(out, f[i], i + 1 == MD_ARRAY_LEN(f));
}

md_status md_synth_write_csv(const md_kb *kb, md_synth_params params, uint64_t n, FILE *f, md_error *err) {
    md_synth *s = NULL;
    md_status st = md_synth_new(kb, params, &s, err);
    if (st != MD_OK) return st;
    md_buf row;
    md_buf_init(&row);
    if (fputs(md_synth_csv_header(), f) == EOF) st = md_error_set(err, MD_ERR_IO, "synth: write failed");
    for (uint64_t i = 0; i < n && st == MD_OK; i++) {
        md_synth_case c;
        st = md_synth_next(s, &c, err);
        if (st != MD_OK) break;
        md_buf_clear(&row);
        md_synth_case_to_csv(&c, &row);
        if (!md_buf_ok(&row)) st = md_error_set(err, MD_ERR_NOMEM, "synth: out of memory");
        else if (fwrite(row.data, 1, row.len, f) != row.len) st = md_error_set(err, MD_ERR_IO, "synth: write failed");
    }
    if (st == MD_OK && fflush(f) != 0) st = md_error_set(err, MD_ERR_IO, "synth: write failed");
    md_buf_free(&row);
    md_synth_free(s);
    return st;
}
