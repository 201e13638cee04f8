/* The interview policy: which single question to ask next, and when to stop.
 *
 * In order:
 *   1. stop at once when an emergency has been found: the patient must act, not chat;
 *   2. red-flag screening for what the patient reported (each observation's `screen`);
 *   3. age, then sex, when unknown (they change priors and some red flags);
 *   4. attribute follow-ups of the complaints (onset, severity, duration, highest
 *      temperature) and the KB's multiple-choice questions (headache character, ...);
 *   5. the observation with the largest expected information gain about the
 *      differential (md_suggest_questions in suggest.c).
 * Nothing is asked twice (md_case_was_asked). The interview should stop when the
 * leading condition is likely enough, when questions run out or stop being
 * informative, or after max_questions.
 */
#include <stdio.h>
#include <string.h>

#include "clinical/internal.h"

#define MIN_GAIN_BITS 0.01    /* below this a question is not worth the patient's time */

static const char *const k_sex_choices[] = {"Female", "Male"};
static const char *const k_onset_choices[] = {"Suddenly (within seconds or minutes)", "Gradually (over hours or days)"};

static bool asked(const md_case *c, const char *id) { return md_case_was_asked(c, id); }

static void set_yesno(md_next_question *q, const md_kb *kb, uint32_t obs) {
    memset(q, 0, sizeof *q);
    snprintf(q->id, sizeof q->id, "%s", kb->obs[obs].id);
    q->text = kb->obs[obs].question;
    q->type = MD_QUESTION_TYPE_YESNO;
    q->obs = (int32_t)obs;
    q->question = -1;
}

static bool try_screening(const md_case *c, md_next_question *q) {
    const md_kb *kb = c->kb;
    /* Complaints in the order the patient mentioned them (turn, then position). */
    for (uint32_t turn = 0; turn <= c->n_turns; turn++)
        for (size_t o = 0; o < kb->n_obs; o++) {
            const md_case_entry *e = &c->entries[o];
            if (!entry_present_now(e) || e->turn != turn || e->implied) continue;
            const md_kb_observation *ob = &kb->obs[o];
            for (size_t k = 0; k < ob->n_screen; k++) {
                uint32_t s = ob->screen[k];
                if (c->entries[s].status != MD_OBS_STATUS_UNKNOWN && c->entries[s].context == MD_OBS_CONTEXT_CURRENT)
                    continue;
                if (asked(c, kb->obs[s].id)) continue;
                set_yesno(q, kb, s);
                return true;
            }
        }
    return false;
}

static bool try_demographics(const md_case *c, md_next_question *q) {
    memset(q, 0, sizeof *q);
    q->obs = -1;
    q->question = -1;
    if (c->patient.age_years < 0 && !asked(c, "patient.age")) {
        snprintf(q->id, sizeof q->id, "patient.age");
        q->text = "How old is the patient? (for a baby, say for example \"6 weeks\" or \"4 months\")";
        q->type = MD_QUESTION_TYPE_NUMBER;
        q->min = 0;
        q->max = 120;
        q->unit = "years";
        return true;
    }
    if (c->patient.sex == MD_SEX_UNKNOWN && !asked(c, "patient.sex")) {
        snprintf(q->id, sizeof q->id, "patient.sex");
        q->text = "What sex was the patient assigned at birth? (this changes which conditions are likely)";
        q->type = MD_QUESTION_TYPE_CHOICE;
        q->choices = k_sex_choices;
        q->n_choices = 2;
        return true;
    }
    return false;
}

static bool try_attributes(const md_case *c, md_next_question *q) {
    const md_kb *kb = c->kb;
    char id[96];
    for (uint32_t turn = 0; turn <= c->n_turns; turn++)
        for (size_t o = 0; o < kb->n_obs; o++) {
            const md_case_entry *e = &c->entries[o];
            if (!entry_present_now(e) || e->turn != turn) continue;
            const md_kb_observation *ob = &kb->obs[o];
            /* KB multiple-choice follow-ups whose `when` includes this observation */
            for (uint32_t k = kb->obs_question_offsets[o]; k < kb->obs_question_offsets[o + 1]; k++) {
                const md_kb_question *kq = &kb->questions[kb->obs_question[k]];
                if (asked(c, kq->id)) continue;
                bool open = false;
                for (size_t ch = 0; ch < kq->n_choices; ch++)
                    if (kq->choices[ch].obs >= 0 && c->entries[kq->choices[ch].obs].status == MD_OBS_STATUS_UNKNOWN)
                        open = true;
                if (!open) continue;
                memset(q, 0, sizeof *q);
                snprintf(q->id, sizeof q->id, "%s", kq->id);
                q->text = kq->text;
                q->type = MD_QUESTION_TYPE_CHOICE;
                q->obs = (int32_t)o;
                q->question = (int32_t)kb->obs_question[k];
                q->n_choices = kq->n_choices;
                q->choices = NULL; /* labels come from the KB question (see md_assessment_to_json) */
                return true;
            }
            static const struct {
                uint32_t attr;
                const char *suffix;
            } attrs[] = {{MD_ATTR_ONSET, "onset"},
                         {MD_ATTR_SEVERITY, "severity"},
                         {MD_ATTR_DURATION, "duration"},
                         {MD_ATTR_TEMPERATURE, "temperature"}};
            for (size_t a = 0; a < MD_ARRAY_LEN(attrs); a++) {
                if (!(ob->attributes & attrs[a].attr)) continue;
                if ((attrs[a].attr == MD_ATTR_ONSET && e->attrs.onset != MD_ONSET_UNKNOWN) ||
                    (attrs[a].attr == MD_ATTR_SEVERITY && e->attrs.severity >= 0) ||
                    (attrs[a].attr == MD_ATTR_DURATION && e->attrs.duration_hours >= 0) ||
                    (attrs[a].attr == MD_ATTR_TEMPERATURE && e->attrs.temperature_c >= 0))
                    continue;
                snprintf(id, sizeof id, "%s.%s", ob->id, attrs[a].suffix);
                if (asked(c, id)) continue;
                memset(q, 0, sizeof *q);
                snprintf(q->id, sizeof q->id, "%s", id);
                q->obs = (int32_t)o;
                q->question = -1;
                q->attribute = attrs[a].attr;
                switch (attrs[a].attr) {
                case MD_ATTR_ONSET:
                    q->text = "Did it start suddenly or come on gradually?";
                    q->type = MD_QUESTION_TYPE_CHOICE;
                    q->choices = k_onset_choices;
                    q->n_choices = 2;
                    break;
                case MD_ATTR_SEVERITY:
                    q->text = "How bad is it, from 0 (none) to 10 (the worst you can imagine)?";
                    q->type = MD_QUESTION_TYPE_NUMBER;
                    q->min = 0;
                    q->max = 10;
                    q->unit = "0-10";
                    break;
                case MD_ATTR_DURATION:
                    q->text = "How long have you had it? (for example \"3 days\" or \"5 hours\")";
                    q->type = MD_QUESTION_TYPE_NUMBER;
                    q->min = 0;
                    q->max = 24.0 * 365 * 100;
                    q->unit = "hours";
                    break;
                default:
                    q->text = "What is the highest temperature you have measured? (°C or °F; say \"not measured\" if you have not)";
                    q->type = MD_QUESTION_TYPE_NUMBER;
                    q->min = 30;
                    q->max = 113;
                    q->unit = "°C";
                    break;
                }
                return true;
            }
        }
    return false;
}

/* Best observation by expected information gain over the top conditions. */
static bool try_information_gain(const md_case *c, const md_assessment *a, md_next_question *q) {
    md_suggestion best;
    size_t n = 0;
    if (md_suggest_questions(c, a, MIN_GAIN_BITS, &best, 1, &n, NULL) != MD_OK || n == 0) return false;
    set_yesno(q, c->kb, best.obs);
    return true;
}

void interview_next(const md_case *c, const md_assessment *a, md_assess_params params,
                    md_assessment *out) {
    out->has_question = false;
    out->should_stop = false;
    /* A fired emergency red flag ends the interview: the patient must act now. An
     * emergency level that comes only from the differential is uncertain, so the
     * screening questions go on and can confirm or lower it. */
    for (size_t i = 0; i < a->n_redflags; i++)
        if (c->kb->redflags[a->redflags[i].redflag].level >= MD_TRIAGE_EMERGENCY) {
            out->should_stop = true;
            return;
        }
    md_next_question q;
    bool have = try_screening(c, &q);
    double top = a->n_conditions ? a->conditions[0].probability : 0;
    bool confident = top >= params.stop_probability;
    if (!have) have = try_demographics(c, &q);
    if (!have) have = try_attributes(c, &q);
    if (!have && !confident) have = try_information_gain(c, a, &q);
    if (c->n_asked >= params.max_questions) have = false;
    if (have) {
        out->question = q;
        out->has_question = true;
    }
    out->should_stop = !have;
}
