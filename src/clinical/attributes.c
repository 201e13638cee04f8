/* Attributes of findings (duration, severity, onset, laterality, frequency,
 * temperature) and the patient's age and sex, read from the tokens around findings.
 *
 * Each attribute mention is located by a small table of patterns over token norms,
 * then given to the nearest present finding in the same sentence (ties go to the
 * finding before the mention: "headache for 3 days"). A duration also goes to every
 * other finding of its comma-clause that has none ("fever and cough for 3 days").
 * A temperature reading sets the fever finding's temperature, or adds one: present at
 * >= 38 °C (NICE NG143 / CG160 threshold), absent for an explicitly normal reading.
 */
#include <stdlib.h>
#include <string.h>

#include "clinical/internal.h"

#define FEVER_THRESHOLD_C 38.0 /* NICE CG160 / NG143 */
#define NORMAL_MAX_C 37.5
#define MAX_DURATION_UNITS 1000 /* "1000 days" is the most anyone means; larger numbers are not durations */

typedef struct unit {
    const char *word;
    double hours;
} unit;

static const unit k_units[] = {
    {"second", 1.0 / 3600}, {"seconds", 1.0 / 3600}, {"secs", 1.0 / 3600}, {"minute", 1.0 / 60},
    {"minutes", 1.0 / 60},  {"min", 1.0 / 60},       {"mins", 1.0 / 60},    {"hour", 1},
    {"hours", 1},           {"hr", 1},               {"hrs", 1},            {"h", 1},
    {"day", 24},            {"days", 24},            {"night", 24},         {"nights", 24},
    {"week", 168},          {"weeks", 168},          {"wk", 168},           {"wks", 168},
    {"fortnight", 336},     {"month", 730},          {"months", 730},       {"mo", 730},
    {"mos", 730},           {"year", 8760},          {"years", 8760},       {"yr", 8760},
    {"yrs", 8760},
};

typedef struct word_number {
    const char *word;
    double value;
} word_number;

static const word_number k_word_numbers[] = {
    {"a", 1},     {"an", 1},      {"one", 1},     {"two", 2},      {"three", 3},   {"four", 4},
    {"five", 5},  {"six", 6},     {"seven", 7},   {"eight", 8},    {"nine", 9},    {"ten", 10},
    {"eleven", 11}, {"twelve", 12}, {"fifteen", 15}, {"twenty", 20}, {"thirty", 30}, {"few", 3},
    {"couple", 2}, {"several", 3}, {"half", 0.5}, {"many", 4},
};

static const word_number k_since[] = {
    {"yesterday", 24}, {"last night", 12}, {"this morning", 6}, {"today", 4}, {"tonight", 2},
    {"this afternoon", 3}, {"this evening", 2}, {"last week", 168}, {"the weekend", 72},
    {"overnight", 8}, {"all day", 12}, {"monday", 72}, {"tuesday", 72}, {"wednesday", 72},
    {"thursday", 72}, {"friday", 72}, {"saturday", 72}, {"sunday", 72}, {"for ages", 2000},
    {"for days", 72}, {"for weeks", 336}, {"for months", 1460}, {"for years", 17520},
    {"last month", 730}, {"lunchtime", 4}, {"breakfast", 6},
};

static const word_number k_severity_words[] = {
    {"mild", 3},      {"slight", 2},      {"slightly", 2},   {"minor", 2},       {"moderate", 5},
    {"bad", 6},       {"severe", 8},      {"terrible", 8},   {"awful", 8},       {"horrible", 8},
    {"intense", 8},   {"extreme", 9},     {"agonising", 10}, {"agonizing", 10},  {"excruciating", 10},
    {"unbearable", 10}, {"worst", 10},    {"crippling", 9},  {"debilitating", 9}, {"killing", 8},
    {"horrendous", 9}, {"severely", 8},   {"massive", 8},    {"huge", 7},         {"dreadful", 8},
    {"heavily", 8},   {"profusely", 9},   {"uncontrollably", 9},
};

static const char *const k_sudden[] = {"sudden", "suddenly", "abrupt", "abruptly", "instantly", "instant",
                                      "thunderclap", "explosive"};
static const char *const k_sudden_phrases[] = {"all of a sudden", "out of nowhere", "out of the blue",
                                              "came on fast", "within seconds", "came on suddenly",
                                              "like a thunderclap", "came on quickly", "in an instant"};
static const char *const k_gradual[] = {"gradual", "gradually", "slowly", "progressively", "steadily"};
static const char *const k_gradual_phrases[] = {"over days", "over weeks", "crept up", "built up",
                                               "bit by bit", "came on slowly", "getting worse"};
static const char *const k_constant[] = {"constant", "constantly", "continuous", "continuously", "nonstop",
                                        "persistent", "permanent", "continual"};
static const char *const k_constant_phrases[] = {"all the time", "non stop", "doesnt go away", "never goes away"};
static const char *const k_intermittent[] = {"intermittent", "intermittently", "occasional", "occasionally",
                                            "sometimes", "episodes", "episodic", "recurring", "recurrent"};
static const char *const k_intermittent_phrases[] = {"comes and goes", "come and go", "on and off",
                                                    "off and on", "every now and then", "now and again",
                                                    "now and then", "every so often", "from time to time"};
static const char *const k_temp_words[] = {"temp", "temperature", "fever", "febrile", "thermometer", "degrees",
                                          "reading", "pyrexia", "temps", "spiking", "spiked"};

static bool word_in(const char *w, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(w, list[i]) == 0) return true;
    return false;
}
#define IN(w, arr) word_in((w), (arr), MD_ARRAY_LEN(arr))
/* A token's word in a list: the lexicon bit first, the strings only for candidates. */
#define TIN(tp, arr) (((tp)->lex >> LEX_##arr & 1u) && IN((tp)->norm, arr))
#define HAS(tp, arr) (((tp)->lex >> LEX_##arr & 1u) != 0)

static const tok *at(const parse_state *ps, size_t i) { return i < ps->toks.n ? &ps->toks.items[i] : NULL; }

static bool norm_is(const parse_state *ps, size_t i, const char *w) {
    const tok *t = at(ps, i);
    return t && t->kind != TOK_PUNCT && strcmp(t->norm, w) == 0;
}

/* Matches a space-separated phrase of norms at token i; returns its length or 0. */
static size_t phrase_len(const parse_state *ps, size_t i, const char *ph) {
    size_t k = 0;
    while (*ph) {
        const char *sp = strchr(ph, ' ');
        size_t len = sp ? (size_t)(sp - ph) : strlen(ph);
        const tok *t = at(ps, i + k);
        if (!t || t->kind == TOK_PUNCT || strlen(t->norm) != len || memcmp(t->norm, ph, len) != 0) return 0;
        k++;
        ph += len;
        if (*ph == ' ') ph++;
    }
    return k;
}

static size_t phrases_at(const parse_state *ps, size_t i, const char *const *list, size_t n, int bit) {
    if (i >= ps->toks.n || !(ps->toks.items[i].lex >> bit & 1u)) return 0;
    for (size_t p = 0; p < n; p++) {
        size_t k = phrase_len(ps, i, list[p]);
        if (k) return k;
    }
    return 0;
}

static bool number_at(const parse_state *ps, size_t i, double *value) {
    const tok *t = at(ps, i);
    if (!t) return false;
    if (t->kind == TOK_NUMBER) {
        *value = t->number;
        return true;
    }
    if (t->kind != TOK_WORD || !HAS(t, k_word_numbers)) return false;
    for (size_t k = 0; k < MD_ARRAY_LEN(k_word_numbers); k++)
        if (strcmp(t->norm, k_word_numbers[k].word) == 0) {
            *value = k_word_numbers[k].value;
            return true;
        }
    return false;
}

static bool unit_at(const parse_state *ps, size_t i, double *hours) {
    const tok *t = at(ps, i);
    if (!t || t->kind != TOK_WORD || !HAS(t, k_units)) return false;
    for (size_t k = 0; k < MD_ARRAY_LEN(k_units); k++)
        if (strcmp(t->norm, k_units[k].word) == 0) {
            *hours = k_units[k].hours;
            return true;
        }
    return false;
}

static bool is_sentence_break(const tok *t) { return tok_is_clause_break(t); }

/* Nearest present finding to token i within its sentence and max_dist tokens; -1 if none. */
static int32_t nearest_finding_within(const parse_state *ps, size_t i, size_t max_dist);
static int32_t nearest_finding(const parse_state *ps, size_t i) { return nearest_finding_within(ps, i, SIZE_MAX); }

static int32_t nearest_finding_within(const parse_state *ps, size_t i, size_t max_dist) {
    const tok_list *t = &ps->toks;
    if (t->items[i].finding >= 0 && ps->findings[t->items[i].finding].status == MD_OBS_STATUS_PRESENT)
        return t->items[i].finding;
    int32_t before = -1, after = -1;
    size_t d_before = 0, d_after = 0;
    for (size_t k = i; k > 0; k--) {
        const tok *x = &t->items[k - 1];
        if (is_sentence_break(x)) break;
        if (x->finding >= 0 && ps->findings[x->finding].status == MD_OBS_STATUS_PRESENT) {
            before = x->finding;
            d_before = i - (k - 1);
            break;
        }
    }
    for (size_t k = i + 1; k < t->n; k++) {
        const tok *x = &t->items[k];
        if (is_sentence_break(x)) break;
        if (x->finding >= 0 && ps->findings[x->finding].status == MD_OBS_STATUS_PRESENT) {
            after = x->finding;
            d_after = k - i;
            break;
        }
    }
    if (d_before > max_dist) before = -1;
    if (d_after > max_dist) after = -1;
    if (before < 0) return after;
    if (after < 0) return before;
    return d_after < d_before ? after : before;
}

static void set_duration(parse_state *ps, size_t i, double hours) {
    int32_t f = nearest_finding(ps, i);
    if (f < 0) return;
    ps->findings[f].attrs.duration_hours = hours;
    /* Spread over the comma-clause around the mention. */
    const tok_list *t = &ps->toks;
    size_t b = i, e = i;
    while (b > 0 && t->items[b - 1].kind != TOK_PUNCT) b--;
    while (e < t->n && t->items[e].kind != TOK_PUNCT) e++;
    for (size_t k = b; k < e; k++) {
        int32_t g = t->items[k].finding;
        if (g >= 0 && ps->findings[g].status == MD_OBS_STATUS_PRESENT && ps->findings[g].attrs.duration_hours < 0)
            ps->findings[g].attrs.duration_hours = hours;
    }
}

/* Severity words describe the finding next to them ("severe headache", "headache is
 * terrible"), not one across the sentence ("feel like a terrible mum"); scores such as
 * "8/10" may stand further away. */
#define SEVERITY_WORD_REACH 3

static void set_severity_near(parse_state *ps, size_t i, double v, size_t reach) {
    int32_t f = nearest_finding_within(ps, i, reach);
    if (f >= 0 && v > ps->findings[f].attrs.severity) ps->findings[f].attrs.severity = v;
}

static void set_severity(parse_state *ps, size_t i, double v) {
    int32_t f = nearest_finding(ps, i);
    if (f >= 0 && v > ps->findings[f].attrs.severity) ps->findings[f].attrs.severity = v;
}

static void set_onset(parse_state *ps, size_t i, md_onset onset) {
    int32_t f = nearest_finding(ps, i);
    if (f >= 0 && ps->findings[f].attrs.onset == MD_ONSET_UNKNOWN) ps->findings[f].attrs.onset = onset;
}

static void set_frequency(parse_state *ps, size_t i, md_frequency fr) {
    int32_t f = nearest_finding(ps, i);
    if (f >= 0 && ps->findings[f].attrs.frequency == MD_FREQUENCY_UNKNOWN) ps->findings[f].attrs.frequency = fr;
}

static void set_laterality(parse_state *ps, size_t i, md_laterality l) {
    int32_t f = nearest_finding(ps, i);
    if (f >= 0 && ps->findings[f].attrs.laterality == MD_LATERALITY_NONE) ps->findings[f].attrs.laterality = l;
}

static md_status add_finding(parse_state *ps, uint32_t obs, md_obs_status st, size_t b, size_t e, double temp_c);

static bool age_context(const parse_state *ps, size_t i);

/* A temperature reading at token i (a number), if the words around say so. */
static bool temperature_at(const parse_state *ps, size_t i, double *celsius) {
    const tok *t = at(ps, i);
    if (!t || t->kind != TOK_NUMBER) return false;
    double v = t->number;
    bool near_word = false, fahrenheit = false, celsius_word = false;
    for (size_t k = (i >= 4 ? i - 4 : 0); k < i; k++)
        if (ps->toks.items[k].kind == TOK_WORD && TIN(&ps->toks.items[k], k_temp_words)) near_word = true;
    for (size_t k = i + 1; k < i + 3 && k < ps->toks.n; k++) {
        const tok *x = &ps->toks.items[k];
        if (x->kind != TOK_WORD) break;
        if (strcmp(x->norm, "f") == 0 || strcmp(x->norm, "fahrenheit") == 0) fahrenheit = true;
        if (strcmp(x->norm, "c") == 0 || strcmp(x->norm, "celsius") == 0 || strcmp(x->norm, "centigrade") == 0)
            celsius_word = true;
        if (strcmp(x->norm, "degrees") == 0 || strcmp(x->norm, "deg") == 0) near_word = true;
    }
    if (!near_word && !fahrenheit && !celsius_word) return false;
    /* "42 F", "40F", "35 M": an age and a sex, not a temperature */
    if (v < 90 && (fahrenheit || norm_is(ps, i + 1, "m"))) return false;
    if ((fahrenheit || v >= 93) && v >= 90 && v <= 112) {
        *celsius = (v - 32.0) * 5.0 / 9.0;
        return true;
    }
    if (v >= 34 && v <= 44) {
        *celsius = v;
        return true;
    }
    return false;
}

void attributes_apply(parse_state *ps) {
    const tok_list *t = &ps->toks;
    int32_t fever = md_kb_observation_find(ps->kb, "fever");
    for (size_t i = 0; i < t->n; i++) {
        const tok *x = &t->items[i];
        double v, hours;
        size_t k;
        if (x->kind == TOK_PUNCT) continue;
        /* duration: [for|since|past|last] N unit [ago]; "half an hour" */
        if (number_at(ps, i, &v)) {
            size_t j = i + 1;
            if (norm_is(ps, j, "of")) j++; /* "a couple of days" */
            if (norm_is(ps, i, "half") && (norm_is(ps, j, "an") || norm_is(ps, j, "a"))) j++;
            if (norm_is(ps, j, "more") || norm_is(ps, j, "or")) {
                /* "2 or 3 days": take the larger */
                double v2;
                if (norm_is(ps, j, "or") && number_at(ps, j + 1, &v2)) {
                    v = v2 > v ? v2 : v;
                    j += 2;
                }
            }
            /* "every couple of months", "twice a week": a frequency, not a duration */
            bool frequency = i > 0 && (norm_is(ps, i - 1, "every") || norm_is(ps, i - 1, "each") ||
                                       norm_is(ps, i - 1, "per") || norm_is(ps, i - 1, "times") ||
                                       norm_is(ps, i - 1, "once") || norm_is(ps, i - 1, "twice"));
            if (i > 1 && (norm_is(ps, i - 1, "a") || norm_is(ps, i - 1, "an")) &&
                (norm_is(ps, i - 2, "once") || norm_is(ps, i - 2, "twice") || norm_is(ps, i - 2, "times")))
                frequency = true;
            /* "7 weeks pregnant", "32 weeks gestation": how far along, not how long */
            bool gestation = norm_is(ps, j + 1, "pregnant") || norm_is(ps, j + 1, "gestation") ||
                             norm_is(ps, j + 1, "along") || norm_is(ps, j + 1, "pg");
            if (!frequency && !gestation && v <= MAX_DURATION_UNITS && unit_at(ps, j, &hours) && !norm_is(ps, j + 1, "old") && !age_context(ps, i) &&
                !(at(ps, j)->norm[0] == 'h' && at(ps, j)->norm[1] == '\0' && x->kind != TOK_NUMBER)) {
                set_duration(ps, i, v * hours);
                i = j;
                continue;
            }
        }
        for (size_t s = 0; HAS(x, k_since) && s < MD_ARRAY_LEN(k_since); s++) {
            k = phrase_len(ps, i, k_since[s].word);
            if (k && (i == 0 || !norm_is(ps, i - 1, "the") || strcmp(k_since[s].word, "the weekend") == 0)) {
                set_duration(ps, i, k_since[s].value);
                i += k - 1;
                goto next;
            }
        }
        /* severity: N/10, N out of 10 */
        if (x->kind == TOK_NUMBER && x->number >= 0 && x->number <= 10) {
            const tok *slash = at(ps, i + 1), *den = at(ps, i + 2);
            if (slash && den && slash->kind == TOK_PUNCT && slash->punct == '/' && den->kind == TOK_NUMBER &&
                den->number == 10) {
                set_severity(ps, i, x->number);
                i += 2;
                continue;
            }
            if (norm_is(ps, i + 1, "out") && norm_is(ps, i + 2, "of") && at(ps, i + 3) &&
                at(ps, i + 3)->kind == TOK_NUMBER && at(ps, i + 3)->number == 10) {
                set_severity(ps, i, x->number);
                i += 3;
                continue;
            }
        }
        if (x->kind == TOK_WORD) {
            for (size_t s = 0; HAS(x, k_severity_words) && s < MD_ARRAY_LEN(k_severity_words); s++)
                if (strcmp(x->norm, k_severity_words[s].word) == 0) {
                    double sev = k_severity_words[s].value;
                    if (i > 0 && (norm_is(ps, i - 1, "really") || norm_is(ps, i - 1, "very") ||
                                  norm_is(ps, i - 1, "so") || norm_is(ps, i - 1, "extremely")))
                        sev = sev + 1 > 10 ? 10 : sev + 1;
                    if (i > 0 && norm_is(ps, i - 1, "not")) break; /* "not severe" */
                    /* "worst on sunny days", "worst in the morning": when, not how bad */
                    if (strcmp(x->norm, "worst") == 0 &&
                        (norm_is(ps, i + 1, "on") || norm_is(ps, i + 1, "in") || norm_is(ps, i + 1, "at") ||
                         norm_is(ps, i + 1, "when") || norm_is(ps, i + 1, "during") || norm_is(ps, i + 1, "after") ||
                         norm_is(ps, i + 1, "first") || norm_is(ps, i + 1, "before")))
                        break;
                    set_severity_near(ps, i, sev, SEVERITY_WORD_REACH);
                    break;
                }
            if (TIN(x, k_sudden) || (k = phrases_at(ps, i, k_sudden_phrases, MD_ARRAY_LEN(k_sudden_phrases), LEX_k_sudden_phrases))) {
                set_onset(ps, i, MD_ONSET_SUDDEN);
            } else if (TIN(x, k_gradual) ||
                       phrases_at(ps, i, k_gradual_phrases, MD_ARRAY_LEN(k_gradual_phrases), LEX_k_gradual_phrases)) {
                set_onset(ps, i, MD_ONSET_GRADUAL);
            }
            if (TIN(x, k_constant) || phrases_at(ps, i, k_constant_phrases, MD_ARRAY_LEN(k_constant_phrases), LEX_k_constant_phrases))
                set_frequency(ps, i, MD_FREQUENCY_CONSTANT);
            else if (TIN(x, k_intermittent) ||
                     phrases_at(ps, i, k_intermittent_phrases, MD_ARRAY_LEN(k_intermittent_phrases), LEX_k_intermittent_phrases))
                set_frequency(ps, i, MD_FREQUENCY_INTERMITTENT);
            if (strcmp(x->norm, "left") == 0) set_laterality(ps, i, MD_LATERALITY_LEFT);
            else if (strcmp(x->norm, "right") == 0 && !norm_is(ps, i + 1, "now") && !norm_is(ps, i + 1, "away"))
                set_laterality(ps, i, MD_LATERALITY_RIGHT);
            else if (strcmp(x->norm, "both") == 0 || strcmp(x->norm, "bilateral") == 0)
                set_laterality(ps, i, MD_LATERALITY_BOTH);
        }
        if (fever >= 0 && temperature_at(ps, i, &v)) {
            /* Find a fever finding in the sentence; else add one. */
            int32_t f = -1;
            for (size_t m = 0; m < ps->n_matches; m++)
                if (ps->findings[m].obs == (uint32_t)fever) f = (int32_t)m;
            if (f >= 0) {
                if (v > ps->findings[f].attrs.temperature_c) ps->findings[f].attrs.temperature_c = v;
                /* A measured temperature outranks the word: "no fever, temp 38.6" is a fever. */
                if (v >= FEVER_THRESHOLD_C && ps->findings[f].status != MD_OBS_STATUS_PRESENT &&
                    ps->findings[f].context == MD_OBS_CONTEXT_CURRENT)
                    ps->findings[f].status = MD_OBS_STATUS_PRESENT;
                else if (v < NORMAL_MAX_C && ps->findings[f].context == MD_OBS_CONTEXT_CURRENT)
                    ps->findings[f].status = MD_OBS_STATUS_ABSENT;
            } else if (v >= FEVER_THRESHOLD_C) {
                (void)add_finding(ps, (uint32_t)fever, MD_OBS_STATUS_PRESENT, x->begin, x->end, v);
            } else if (v < NORMAL_MAX_C) {
                (void)add_finding(ps, (uint32_t)fever, MD_OBS_STATUS_ABSENT, x->begin, x->end, v);
            }
        }
    next:;
    }
}

/* Findings created from attributes (a temperature without the word "fever") are kept
 * in a side list that parse.c appends; here they go straight into the findings array,
 * which parse.c sized with room for them. */
static md_status add_finding(parse_state *ps, uint32_t obs, md_obs_status st, size_t b, size_t e, double temp_c) {
    md_finding f = {0};
    f.obs = obs;
    f.status = st;
    f.context = MD_OBS_CONTEXT_CURRENT;
    f.span_begin = b;
    f.span_end = e;
    md_attrs_init(&f.attrs);
    f.attrs.temperature_c = temp_c;
    ps->findings[ps->n_matches] = f;
    ps->matches[ps->n_matches] = (match){obs, 0, 0, false};
    ps->n_matches++;
    return MD_OK;
}

/* ---------------------------------------------------------------- demographics ---- */

static const char *const k_female_words[] = {"woman", "female", "lady", "girl", "women", "mum", "mother"};
static const char *const k_male_words[] = {"man", "male", "guy", "gentleman", "boy", "bloke", "dude"};
static const char *const k_family_words[] = {"father", "dad", "mother", "mom", "mum", "brother", "sister",
                                            "grandmother", "grandfather", "grandma", "grandpa", "aunt",
                                            "uncle", "cousin", "parents", "husband", "wife", "partner", "friend"};

md_status attributes_lexicon(md_map *lx) {
    md_status st = MD_OK;
#define ADD(arr) if (st == MD_OK) st = lexicon_add(lx, LEX_##arr, &(arr)[0], MD_ARRAY_LEN(arr), sizeof(arr)[0])
#define ADD_WORDS(arr) if (st == MD_OK) st = lexicon_add(lx, LEX_##arr, &(arr)[0].word, MD_ARRAY_LEN(arr), sizeof(arr)[0])
    ADD_WORDS(k_units);
    ADD_WORDS(k_word_numbers);
    ADD_WORDS(k_since);
    ADD_WORDS(k_severity_words);
    ADD(k_sudden);
    ADD(k_sudden_phrases);
    ADD(k_gradual);
    ADD(k_gradual_phrases);
    ADD(k_constant);
    ADD(k_constant_phrases);
    ADD(k_intermittent);
    ADD(k_intermittent_phrases);
    ADD(k_temp_words);
    ADD(k_female_words);
    ADD(k_male_words);
    ADD(k_family_words);
#undef ADD
#undef ADD_WORDS
    return st;
}

static const char *const k_female_obs[] = {"pregnant", "abnormal_vaginal_bleeding", "vaginal_discharge"};
static const char *const k_male_obs[] = {"testicular_pain", "sudden_testicular_pain", "penile_discharge"};

/* True when the number at i is someone else's age ("my dad is 80"). */
static bool age_context(const parse_state *ps, size_t i) {
    for (size_t k = (i >= 4 ? i - 4 : 0); k < i; k++)
        if (ps->toks.items[k].kind == TOK_WORD && TIN(&ps->toks.items[k], k_family_words)) return true;
    return false;
}

static bool after_age_number(const parse_state *ps, size_t i, double *age) {
    /* i is a number; returns the age if the following words make it one */
    const tok *t = at(ps, i);
    if (!t || t->kind != TOK_NUMBER) return false;
    double v = t->number;
    size_t j = i + 1;
    double hours;
    if (unit_at(ps, j, &hours) && (norm_is(ps, j + 1, "old") || (norm_is(ps, j + 1, "o")))) {
        *age = v * hours / 8760.0;
        return true;
    }
    if (norm_is(ps, j, "yo") || norm_is(ps, j, "yrs") || (norm_is(ps, j, "y") && !norm_is(ps, j + 1, "old"))) {
        *age = v;
        return true;
    }
    if (norm_is(ps, j, "y") || norm_is(ps, j, "yr")) {
        *age = v;
        return true;
    }
    return false;
}

void demographics_apply(parse_state *ps) {
    const tok_list *t = &ps->toks;
    double age = -1;
    md_sex sex = MD_SEX_UNKNOWN;
    for (size_t i = 0; i < t->n; i++) {
        const tok *x = &t->items[i];
        double v;
        if (x->kind == TOK_NUMBER && age < 0 && !age_context(ps, i)) {
            if (after_age_number(ps, i, &v) && v >= 0 && v <= 120) {
                age = v;
            } else if (x->number >= 0 && x->number <= 120 && (norm_is(ps, i + 1, "m") || norm_is(ps, i + 1, "f")) &&
                       (i + 2 >= t->n || t->items[i + 2].kind == TOK_PUNCT || t->items[i + 2].kind == TOK_WORD)) {
                age = x->number;
                if (sex == MD_SEX_UNKNOWN) sex = norm_is(ps, i + 1, "m") ? MD_SEX_MALE : MD_SEX_FEMALE;
            } else if (i > 0 && (norm_is(ps, i - 1, "aged") || norm_is(ps, i - 1, "age") ||
                                 (norm_is(ps, i - 1, "im") && !unit_at(ps, i + 1, &v)) ||
                                 (norm_is(ps, i - 1, "am") && norm_is(ps, i - 2, "i") && !unit_at(ps, i + 1, &v)))) {
                if (x->number >= 1 && x->number <= 120) age = x->number;
            }
        }
        if (x->kind == TOK_WORD && sex == MD_SEX_UNKNOWN && !age_context(ps, i + 1)) {
            bool self = i > 0 && (norm_is(ps, i - 1, "a") || norm_is(ps, i - 1, "old") || norm_is(ps, i - 1, "im") ||
                                  norm_is(ps, i - 1, "am") || (i > 1 && norm_is(ps, i - 2, "old")));
            bool child = i > 0 && (norm_is(ps, i - 1, "my") || norm_is(ps, i - 1, "old")) &&
                         (strcmp(x->norm, "son") == 0 || strcmp(x->norm, "daughter") == 0);
            if (self && TIN(x, k_female_words)) sex = MD_SEX_FEMALE;
            else if (self && TIN(x, k_male_words)) sex = MD_SEX_MALE;
            else if (child) sex = strcmp(x->norm, "son") == 0 ? MD_SEX_MALE : MD_SEX_FEMALE;
        }
        if (x->kind == TOK_WORD && age < 0 && (strcmp(x->norm, "newborn") == 0 ||
                                              (strcmp(x->norm, "new") == 0 && norm_is(ps, i + 1, "born"))))
            age = 0.05;
    }
    if (sex == MD_SEX_UNKNOWN) {
        for (size_t f = 0; f < ps->n_matches; f++) {
            const md_finding *fd = &ps->findings[f];
            if (fd->status != MD_OBS_STATUS_PRESENT || fd->context != MD_OBS_CONTEXT_CURRENT) continue;
            const char *id = ps->kb->obs[fd->obs].id;
            if (IN(id, k_female_obs)) sex = MD_SEX_FEMALE;
            else if (IN(id, k_male_obs)) sex = MD_SEX_MALE;
        }
    }
    ps->patient.age_years = age;
    ps->patient.sex = sex;
}
