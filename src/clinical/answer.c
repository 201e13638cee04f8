/* md_case_answer: applies a patient's reply to the question they were asked.
 *
 * Replies are read leniently, the way people answer in a chat: "yes", "yeah", "nope",
 * "not sure"; a number with or without a unit ("3 days", "39.2", "101 F", "6 weeks");
 * a choice by its number or by words from its label. Whatever the reply, it is also
 * parsed as free text, so "no, but my arm hurts" both answers the question and adds a
 * finding. The question is marked as asked in every case, so it is never repeated.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "clinical/internal.h"

static const char *const k_yes[] = {"yes", "y", "yeah", "yep", "yup", "yea", "ya", "sure", "correct", "definitely",
                                    "absolutely", "affirmative", "true", "i do", "i have", "it does", "it is",
                                    "indeed", "right", "ok yes", "yes i do", "a little", "a bit", "slightly",
                                    "sometimes", "i think so", "probably", "aye"};
static const char *const k_no[] = {"no", "n", "nope", "nah", "not really", "none", "never", "negative", "false",
                                   "i dont", "i havent", "it doesnt", "not at all", "no i dont", "nothing",
                                   "not that i know of", "dont think so", "i dont think so", "no not really"};
static const char *const k_unsure[] = {"dont know", "not sure", "unsure", "idk", "maybe", "no idea",
                                       "cant say", "i dont know", "im not sure", "not measured", "didnt measure",
                                       "havent measured", "havent checked", "dont have a thermometer", "pass", "skip"};

/* Lower-case ASCII copy with apostrophes removed and other punctuation as spaces,
 * whitespace collapsed. */
static void simplify(const char *in, size_t n, char *out, size_t cap) {
    size_t k = 0;
    bool space = true;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '\'' ) continue;
        if (isalnum(ch) || ch == '.') {
            out[k++] = (char)tolower(ch);
            space = false;
        } else if (!space) {
            out[k++] = ' ';
            space = true;
        }
    }
    while (k > 0 && out[k - 1] == ' ') k--;
    out[k] = '\0';
}

static bool starts_with_phrase(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list[i]);
        if (strncmp(s, list[i], len) == 0 && (s[len] == '\0' || s[len] == ' ')) return true;
    }
    return false;
}

/* Reads "N [unit]" → hours (duration) or years (age); returns false if no number. */
static bool read_quantity(const char *s, double default_unit_hours, double *hours) {
    const char *p = s;
    while (*p && !(isdigit((unsigned char)*p))) p++;
    if (!*p) {
        /* word numbers for the common short answers */
        static const struct {
            const char *w;
            double v;
        } words[] = {{"a ", 1}, {"an ", 1}, {"one ", 1}, {"two ", 2}, {"three ", 3}, {"four ", 4}, {"five ", 5},
                     {"six ", 6}, {"seven ", 7}, {"few ", 3}, {"couple ", 2}, {"several ", 3}};
        for (size_t i = 0; i < MD_ARRAY_LEN(words); i++) {
            const char *w = strstr(s, words[i].w);
            if (w && (w == s || w[-1] == ' ')) {
                p = w + strlen(words[i].w);
                double v = words[i].v;
                static const struct {
                    const char *u;
                    double h;
                } units[] = {{"min", 1.0 / 60}, {"hour", 1}, {"day", 24}, {"night", 24}, {"week", 168},
                             {"month", 730}, {"year", 8760}};
                for (size_t u = 0; u < MD_ARRAY_LEN(units); u++)
                    if (strstr(p, units[u].u)) {
                        *hours = v * units[u].h;
                        return true;
                    }
            }
        }
        return false;
    }
    char *end;
    double v = strtod(p, &end);
    while (*end == ' ') end++;
    double unit = default_unit_hours;
    if (strncmp(end, "min", 3) == 0) unit = 1.0 / 60;
    else if (strncmp(end, "h", 1) == 0) unit = 1;
    else if (strncmp(end, "d", 1) == 0 || strncmp(end, "night", 5) == 0) unit = 24;
    else if (strncmp(end, "w", 1) == 0) unit = 168;
    else if (strncmp(end, "mo", 2) == 0 || (end[0] == 'm' && (end[1] == '\0' || end[1] == ' '))) unit = 730;
    else if (strncmp(end, "y", 1) == 0) unit = 8760;
    *hours = v * unit;
    return true;
}

static md_status apply_choice_obs(md_case *c, const md_kb_question *kq, int chosen, md_error *err) {
    for (size_t i = 0; i < kq->n_choices; i++) {
        int32_t o = kq->choices[i].obs;
        if (o < 0) continue;
        md_obs_status st = (int)i == chosen ? MD_OBS_STATUS_PRESENT : MD_OBS_STATUS_ABSENT;
        /* Do not overwrite what the patient said in their own words with "absent". */
        if (st == MD_OBS_STATUS_ABSENT && c->entries[o].status == MD_OBS_STATUS_PRESENT) continue;
        md_status s = md_case_set(c, (uint32_t)o, st, err);
        if (s != MD_OK) return s;
    }
    return MD_OK;
}

/* Index of the choice the reply names: its number, or the label sharing the most words. */
static int pick_choice(const char *reply, const char *const *labels, size_t n) {
    char *end;
    long idx = strtol(reply, &end, 10);
    if (end != reply && (*end == '\0' || *end == ' ' || *end == '.') && idx >= 1 && (size_t)idx <= n) return (int)idx - 1;
    int best = -1, best_score = 0;
    for (size_t i = 0; i < n; i++) {
        char label[256];
        simplify(labels[i], strlen(labels[i]), label, sizeof label);
        if (strcmp(label, reply) == 0) return (int)i;
        int score = 0;
        char words[512];
        snprintf(words, sizeof words, "%s", reply);
        char *save = NULL;
        for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            if (strlen(w) < 3) continue;
            if (strstr(label, w)) score += (int)strlen(w);
        }
        if (score > best_score) {
            best_score = score;
            best = (int)i;
        }
    }
    return best;
}

md_status md_case_answer(md_case *c, const md_next_question *q, const char *reply, size_t n_bytes, md_error *err) {
    if (!q || !reply) return md_error_set(err, MD_ERR_INVALID_ARG, "no question or reply");
    if (n_bytes > MD_CLINICAL_MAX_TEXT_BYTES)
        return md_error_set(err, MD_ERR_TOO_LARGE, "reply is %zu bytes; the limit is %d", n_bytes,
                            MD_CLINICAL_MAX_TEXT_BYTES);
    size_t bad;
    if (!md_utf8_valid(reply, n_bytes, &bad))
        return md_error_set(err, MD_ERR_UTF8, "reply is not valid UTF-8 (offset %zu)", bad);
    md_status st = md_case_mark_asked(c, q->id);
    if (st != MD_OK) return md_error_set(err, st, "out of memory");
    char s[512];
    simplify(reply, n_bytes, s, sizeof s);
    const md_kb *kb = c->kb;
    bool unsure = starts_with_phrase(s, k_unsure, MD_ARRAY_LEN(k_unsure));

    if (strcmp(q->id, "patient.age") == 0) {
        double hours;
        if (!unsure && read_quantity(s, 8760, &hours) && hours >= 0 && hours <= 120 * 8760.0)
            c->patient.age_years = hours / 8760.0;
    } else if (strcmp(q->id, "patient.sex") == 0) {
        if (strstr(s, "female") || strstr(s, "woman") || strcmp(s, "f") == 0 || strstr(s, "girl") || strcmp(s, "1") == 0)
            c->patient.sex = MD_SEX_FEMALE;
        else if (strstr(s, "male") || strstr(s, "man") || strcmp(s, "m") == 0 || strstr(s, "boy") || strcmp(s, "2") == 0)
            c->patient.sex = MD_SEX_MALE;
    } else if (q->attribute && q->obs >= 0 && !unsure) {
        md_case_entry *e = &c->entries[q->obs];
        double v;
        switch (q->attribute) {
        case MD_ATTR_SEVERITY: {
            char *end;
            const char *p = s;
            while (*p && !isdigit((unsigned char)*p)) p++;
            v = strtod(p, &end);
            if (end != p && v >= 0 && v <= 10) e->attrs.severity = v;
            else if (strstr(s, "worst") || strstr(s, "unbearable")) e->attrs.severity = 10;
            else if (strstr(s, "severe") || strstr(s, "terrible")) e->attrs.severity = 8;
            else if (strstr(s, "moderate")) e->attrs.severity = 5;
            else if (strstr(s, "mild")) e->attrs.severity = 3;
            break;
        }
        case MD_ATTR_DURATION:
            if (read_quantity(s, 24, &v)) e->attrs.duration_hours = v;
            break;
        case MD_ATTR_TEMPERATURE: {
            const char *p = s;
            while (*p && !isdigit((unsigned char)*p)) p++;
            char *end;
            v = strtod(p, &end);
            if (end != p) {
                if (v >= 90 && v <= 113) v = (v - 32) * 5 / 9;
                if (v >= 30 && v <= 45) {
                    e->attrs.temperature_c = v;
                    int32_t high = md_kb_observation_find(kb, "high_fever");
                    if (high >= 0 && v >= 39 && c->entries[high].status == MD_OBS_STATUS_UNKNOWN)
                        md_case_set(c, (uint32_t)high, MD_OBS_STATUS_PRESENT, NULL);
                }
            }
            break;
        }
        case MD_ATTR_ONSET:
            if (strstr(s, "sudden") || strstr(s, "quick") || strstr(s, "fast") || strcmp(s, "1") == 0)
                e->attrs.onset = MD_ONSET_SUDDEN;
            else if (strstr(s, "grad") || strstr(s, "slow") || strcmp(s, "2") == 0)
                e->attrs.onset = MD_ONSET_GRADUAL;
            break;
        default:
            break;
        }
    } else if (q->question >= 0 && !unsure) {
        const md_kb_question *kq = &kb->questions[q->question];
        const char *labels[64];
        size_t n = kq->n_choices < 64 ? kq->n_choices : 64;
        for (size_t i = 0; i < n; i++) labels[i] = kq->choices[i].label;
        int chosen = pick_choice(s, labels, n);
        if (chosen >= 0) {
            st = apply_choice_obs(c, kq, chosen, err);
            if (st != MD_OK) return st;
        }
    } else if (q->type == MD_QUESTION_TYPE_YESNO && q->obs >= 0) {
        if (starts_with_phrase(s, k_no, MD_ARRAY_LEN(k_no))) {
            st = md_case_set(c, (uint32_t)q->obs, MD_OBS_STATUS_ABSENT, err);
            if (st != MD_OK) return st;
        } else if (!unsure && starts_with_phrase(s, k_yes, MD_ARRAY_LEN(k_yes))) {
            st = md_case_set(c, (uint32_t)q->obs, MD_OBS_STATUS_PRESENT, err);
            if (st != MD_OK) return st;
        }
    }
    /* Free text in the reply may say more ("no, but my arm hurts"). Empty or pure
     * yes/no replies are not findings; parse errors here are not the reply's fault. */
    md_parse_result r;
    md_error perr;
    if (md_parse(kb, reply, n_bytes, &r, &perr) == MD_OK) {
        bool any = r.n_findings > 0 || r.patient.age_years >= 0 || r.patient.sex != MD_SEX_UNKNOWN;
        md_parse_result_free(&r);
        if (any) {
            uint32_t obs_before = q->obs >= 0 ? (uint32_t)q->obs : 0;
            md_case_entry saved = q->obs >= 0 ? c->entries[obs_before] : (md_case_entry){0};
            st = md_case_add_text(c, reply, n_bytes, err);
            if (st != MD_OK) return st;
            /* A bare "no" is about the question, not a negation of some other finding;
             * keep the direct answer if the free-text pass left the asked observation unknown. */
            if (q->obs >= 0 && c->entries[obs_before].status == MD_OBS_STATUS_UNKNOWN) c->entries[obs_before] = saved;
        }
    }
    return MD_OK;
}
