/* Parser, negation scope and context tests on the mini knowledge base. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "medify/clinical.h"
#include "mini_kb.h"

static md_kb *kb;

/* Status of observation `id` in the parse of `text`; context through *ctx. */
static md_obs_status status_of(const char *text, const char *id, md_obs_context *ctx) {
    md_parse_result r;
    md_error err = {0};
    md_obs_status st = MD_OBS_STATUS_UNKNOWN;
    if (ctx) *ctx = MD_OBS_CONTEXT_CURRENT;
    if (md_parse(kb, text, strlen(text), &r, &err) != MD_OK) return st;
    int32_t o = md_kb_observation_find(kb, id);
    for (size_t i = 0; i < r.n_findings; i++)
        if ((int32_t)r.findings[i].obs == o) {
            st = r.findings[i].status;
            if (ctx) *ctx = r.findings[i].context;
        }
    md_parse_result_free(&r);
    return st;
}

#define PRESENT(text, id) CHECK_MSG(status_of(text, id, NULL) == MD_OBS_STATUS_PRESENT, "%s: %s", text, id)
#define ABSENT(text, id) CHECK_MSG(status_of(text, id, NULL) == MD_OBS_STATUS_ABSENT, "%s: %s", text, id)
#define NOT_PRESENT(text, id) CHECK_MSG(status_of(text, id, NULL) != MD_OBS_STATUS_PRESENT, "%s: %s", text, id)

static void test_synonyms_and_fillers(void) {
    PRESENT("I have chest pain", "chest_pain");
    PRESENT("pain in my chest", "chest_pain");
    PRESENT("PAIN IN THE CHEST!!", "chest_pain");
    PRESENT("my chest really hurts", "chest_pain");
    PRESENT("I can't breathe", "severe_breathing_difficulty");
    PRESENT("i cant breath", "severe_breathing_difficulty");
    PRESENT("I can’t breathe", "severe_breathing_difficulty"); /* typographic apostrophe */
    PRESENT("I cannot breathe", "severe_breathing_difficulty");
    PRESENT("coughing a lot", "cough");
    PRESENT("feel sick and sweaty", "nausea");
    PRESENT("feel sick and sweaty", "sweating");
}

static void test_spelling_correction(void) {
    PRESENT("terrible headache", "headache");
    PRESENT("really bad headahce", "headache"); /* transposition */
    PRESENT("feeling nauseaa", "nausea");        /* insertion in a long word */
    NOT_PRESENT("nausia all day", "nausea");     /* a short word alone is not guessed at */
    PRESENT("throbing headache", "headache_throbbing");
}

static void test_negation(void) {
    ABSENT("no chest pain", "chest_pain");
    ABSENT("I don't have chest pain", "chest_pain");
    ABSENT("denies chest pain or shortness of breath", "shortness_of_breath");
    ABSENT("no fever, cough or runny nose", "runny_nose");
    ABSENT("without a fever", "fever");
    ABSENT("my chest doesn't hurt", "chest_pain");
    ABSENT("chest pain? no", "chest_pain");
    ABSENT("fever: none", "fever");
    ABSENT("the headache has gone", "headache");
    PRESENT("headache has gone to the back of my head", "headache");
}

static void test_negation_scope(void) {
    /* "but" ends the scope */
    ABSENT("no fever but my neck is stiff", "fever");
    PRESENT("no fever but my neck is stiff", "neck_stiffness");
    /* a new subject after "and" ends it */
    PRESENT("no fever and my neck is stiff", "neck_stiffness");
    /* a comma followed by "I" ends it */
    PRESENT("no cough, I have a headache", "headache");
    /* a comma continues a negated list only after a finding */
    PRESENT("not interested in food, fever and cough", "fever");
    ABSENT("no runny nose, cough or fever", "fever");
    /* scope is bounded in length */
    PRESENT("no fever at all over the last few days which is odd, headache", "headache");
    /* pseudo-negations do not negate */
    PRESENT("not only chest pain but also sweating", "chest_pain");
    PRESENT("the cough is not getting better", "cough");
    PRESENT("I can't stop coughing", "cough");
    /* a negation word inside a synonym is the synonym's */
    PRESENT("I can't breathe and no chest pain", "severe_breathing_difficulty");
    ABSENT("I can't breathe and no chest pain", "chest_pain");
}

static void test_normal_findings_and_groups(void) {
    ABSENT("Temperature normal, eating and playing", "fever");
    ABSENT("temperature is completely normal", "fever");
    ABSENT("nobody has passed out", "syncope");
    /* comma-separated adjectives still make one phrase */
    PRESENT("red, hot, swollen patch on my shin", "skin_redness_swelling");
}

static void test_triggers_are_not_symptoms(void) {
    CHECK(status_of("chest pain, worse when I cough", "cough", NULL) == MD_OBS_STATUS_UNKNOWN);
    PRESENT("chest pain, worse when I cough", "chest_pain");
    PRESENT("I have a cough when I wake up", "cough");
}

static void test_out_of_order(void) {
    /* the words of "pain in chest" in another order, with other words between */
    PRESENT("an ache right across my chest", "chest_pain");
    /* a negation is never assembled from scattered words */
    NOT_PRESENT("I can't say it is hard to breathe", "severe_breathing_difficulty");
}

static void test_uncertain(void) {
    CHECK(status_of("not sure if I have a fever", "fever", NULL) == MD_OBS_STATUS_UNKNOWN);
}

static void test_hypothetical(void) {
    md_obs_context ctx;
    CHECK(status_of("what should I do if I get chest pain", "chest_pain", &ctx) == MD_OBS_STATUS_PRESENT);
    CHECK_EQ_INT(ctx, MD_OBS_CONTEXT_HYPOTHETICAL);
    status_of("if I walk, I get chest pain", "chest_pain", &ctx);
    CHECK_EQ_INT(ctx, MD_OBS_CONTEXT_CURRENT);
    status_of("if I walk up stairs I get chest pain", "chest_pain", &ctx);
    CHECK_EQ_INT(ctx, MD_OBS_CONTEXT_CURRENT);
}

static void test_history_and_family(void) {
    md_obs_context ctx;
    /* a past heart attack is history, not an emergency */
    NOT_PRESENT("I had a heart attack 5 years ago", "self_report_heart_attack");
    PRESENT("I had a heart attack 5 years ago", "hx_heart_disease");
    /* a relative's is family history */
    NOT_PRESENT("my father had a heart attack", "self_report_heart_attack");
    PRESENT("my father had a heart attack", "fhx_heart_disease");
    /* a relative's chronic condition */
    status_of("my mum has diabetes", "hx_diabetes", &ctx);
    CHECK_EQ_INT(ctx, MD_OBS_CONTEXT_FAMILY);
    /* someone typing for a partner with symptoms now: their symptoms are the patient's */
    status_of("my husband has crushing chest pain and is sweating", "crushing_chest_pain", &ctx);
    CHECK_EQ_INT(ctx, MD_OBS_CONTEXT_CURRENT);
    /* "now" separates an old event from today's symptom */
    PRESENT("had a heart attack years ago and now I have chest pain", "chest_pain");
    status_of("had a heart attack years ago and now I have chest pain", "chest_pain", &ctx);
    CHECK_EQ_INT(ctx, MD_OBS_CONTEXT_CURRENT);
}

static void test_implies_and_spans(void) {
    const char *text = "Crushing chest pain for 2 hours";
    md_parse_result r;
    md_error err = {0};
    CHECK(md_parse(kb, text, strlen(text), &r, &err) == MD_OK);
    int32_t crushing = md_kb_observation_find(kb, "crushing_chest_pain");
    int32_t chest = md_kb_observation_find(kb, "chest_pain");
    bool saw_crushing = false, saw_implied = false;
    for (size_t i = 0; i < r.n_findings; i++) {
        const md_finding *f = &r.findings[i];
        if ((int32_t)f->obs == crushing) {
            saw_crushing = true;
            CHECK_EQ_INT(f->span_begin, 0);
            CHECK_EQ_INT(f->span_end, 19);
            CHECK_NEAR(f->attrs.duration_hours, 2, 1e-9);
        }
        if ((int32_t)f->obs == chest && f->implied) saw_implied = true;
    }
    CHECK(saw_crushing);
    CHECK(saw_implied);
    md_parse_result_free(&r);
}

static md_attrs attrs_of(const char *text, const char *id) {
    md_attrs a;
    md_attrs_init(&a);
    md_parse_result r;
    md_error err = {0};
    if (md_parse(kb, text, strlen(text), &r, &err) != MD_OK) return a;
    int32_t o = md_kb_observation_find(kb, id);
    for (size_t i = 0; i < r.n_findings; i++)
        if ((int32_t)r.findings[i].obs == o) a = r.findings[i].attrs;
    md_parse_result_free(&r);
    return a;
}

static void test_attributes(void) {
    CHECK_NEAR(attrs_of("headache for 3 days", "headache").duration_hours, 72, 1e-9);
    CHECK_NEAR(attrs_of("had a cough for a couple of weeks", "cough").duration_hours, 336, 1e-9);
    CHECK_NEAR(attrs_of("headache since yesterday", "headache").duration_hours, 24, 1e-9);
    CHECK_NEAR(attrs_of("fever and cough for 2 days", "fever").duration_hours, 48, 1e-9);
    CHECK_NEAR(attrs_of("chest pain 8/10", "chest_pain").severity, 8, 1e-9);
    CHECK_NEAR(attrs_of("chest pain about 7 out of 10", "chest_pain").severity, 7, 1e-9);
    CHECK(attrs_of("severe headache", "headache").severity >= 8);
    CHECK_EQ_INT(attrs_of("headache came on suddenly", "headache").onset, MD_ONSET_SUDDEN);
    CHECK_EQ_INT(attrs_of("gradual headache", "headache").onset, MD_ONSET_GRADUAL);
    CHECK_EQ_INT(attrs_of("chest pain on the left side", "chest_pain").laterality, MD_LATERALITY_LEFT);
    CHECK_EQ_INT(attrs_of("headache that comes and goes", "headache").frequency, MD_FREQUENCY_INTERMITTENT);
    CHECK_NEAR(attrs_of("fever of 39.5", "fever").temperature_c, 39.5, 1e-9);
    /* frequency and gestation are not durations */
    CHECK(attrs_of("headache every couple of months", "headache").duration_hours < 0);
    CHECK(attrs_of("headache twice a week", "headache").duration_hours < 0);
    CHECK(attrs_of("headache, I am 7 weeks pregnant", "headache").duration_hours < 0);
    /* severity words describe the finding beside them, not one across the sentence */
    CHECK(attrs_of("a terrible week at work and now I have a headache", "headache").severity < 0);
    CHECK(attrs_of("worst on sunny days, headache", "headache").severity < 0);
    /* "no fever. 40F" is an age and a sex, not 40 degrees */
    CHECK(attrs_of("no fever. 40F", "fever").temperature_c < 0);
    ABSENT("no fever. 40F", "fever");
    CHECK_NEAR(attrs_of("temperature 102 F", "fever").temperature_c, (102 - 32) * 5.0 / 9.0, 1e-9);
    /* a temperature reading alone makes a finding */
    PRESENT("temp is 38.9 degrees", "fever");
    ABSENT("temp was 36.8 this morning", "fever");
}

static md_patient patient_of(const char *text) {
    md_parse_result r;
    md_error err = {0};
    md_patient p = {-1, MD_SEX_UNKNOWN};
    if (md_parse(kb, text, strlen(text), &r, &err) == MD_OK) {
        p = r.patient;
        md_parse_result_free(&r);
    }
    return p;
}

static void test_demographics(void) {
    CHECK_NEAR(patient_of("I'm a 45 year old man with chest pain").age_years, 45, 1e-9);
    CHECK_EQ_INT(patient_of("I'm a 45 year old man with chest pain").sex, MD_SEX_MALE);
    CHECK_NEAR(patient_of("32F, headache").age_years, 32, 1e-9);
    CHECK_EQ_INT(patient_of("32F, headache").sex, MD_SEX_FEMALE);
    CHECK_NEAR(patient_of("my 6 week old baby has a fever").age_years, 6 * 168 / 8760.0, 1e-9);
    CHECK_NEAR(patient_of("67yo with cough").age_years, 67, 1e-9);
    CHECK_NEAR(patient_of("my 3 year old son has a cough").age_years, 3, 1e-9);
    CHECK_EQ_INT(patient_of("my 3 year old son has a cough").sex, MD_SEX_MALE);
    CHECK(patient_of("my dad is 80 and has chest pain").age_years < 0);
    CHECK(patient_of("cough for 3 years").age_years < 0);
}

static void test_bad_input(void) {
    md_parse_result r;
    md_error err = {0};
    CHECK_EQ_INT(md_parse(kb, "", 0, &r, &err), MD_ERR_EMPTY);
    CHECK_EQ_INT(md_parse(kb, "   \n\t ", 6, &r, &err), MD_ERR_EMPTY);
    CHECK_EQ_INT(md_parse(kb, "chest \xff pain", 12, &r, &err), MD_ERR_UTF8);
    CHECK(strstr(err.message, "offset 6") != NULL);
    const char bin[] = {'a', 0, 1, 2, 3, 0, 0, 5};
    CHECK_EQ_INT(md_parse(kb, bin, sizeof bin, &r, &err), MD_ERR_BINARY);
    static char big[MD_CLINICAL_MAX_TEXT_BYTES + 2];
    memset(big, 'a', sizeof big - 1);
    CHECK_EQ_INT(md_parse(kb, big, sizeof big - 1, &r, &err), MD_ERR_TOO_LARGE);
    /* emoji and other scripts are word breaks, not errors */
    CHECK_EQ_INT(md_parse(kb, "chest pain 😢 頭痛", strlen("chest pain 😢 頭痛"), &r, &err), MD_OK);
    md_parse_result_free(&r);
}

int main(void) {
    kb = mini_kb_load();
    if (!kb) return 1;
    test_synonyms_and_fillers();
    test_spelling_correction();
    test_negation();
    test_negation_scope();
    test_normal_findings_and_groups();
    test_triggers_are_not_symptoms();
    test_out_of_order();
    test_uncertain();
    test_hypothetical();
    test_history_and_family();
    test_implies_and_spans();
    test_attributes();
    test_demographics();
    test_bad_input();
    md_kb_free(kb);
    return check_report("test_clinical_parse");
}
