/* Inference, red flags, triage, interview, answers and summary on the mini KB. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "medify/clinical.h"
#include "mini_kb.h"

static md_kb *kb;

typedef struct run {
    md_case *c;
    md_assessment a;
} run;

static run assess_text(const char *text, double age, md_sex sex) {
    run r = {md_case_new(kb), {0}};
    md_error err = {0};
    if (md_case_add_text(r.c, text, strlen(text), &err) != MD_OK) fprintf(stderr, "parse: %s\n", err.message);
    md_case_set_patient(r.c, age, sex);
    if (md_assess(r.c, md_assess_default_params(), &r.a, &err) != MD_OK) fprintf(stderr, "assess: %s\n", err.message);
    return r;
}

static void run_free(run *r) {
    md_assessment_free(&r->a);
    md_case_free(r->c);
}

static const char *top_id(const run *r) {
    return r->a.n_conditions ? md_kb_condition_at(kb, r->a.conditions[0].condition)->id : "";
}

static bool has_flag(const run *r, const char *id) {
    for (size_t i = 0; i < r->a.n_redflags; i++)
        if (strcmp(md_kb_redflag_at(kb, r->a.redflags[i].redflag)->id, id) == 0) return true;
    return false;
}

static void test_inference(void) {
    run r = assess_text("runny nose and a cough", 30, MD_SEX_FEMALE);
    CHECK_EQ_STR(top_id(&r), "common_cold");
    double sum = 0;
    for (size_t i = 0; i < r.a.n_conditions; i++) sum += r.a.conditions[i].probability;
    CHECK_NEAR(sum, 1.0, 1e-9); /* all four conditions are listed */
    for (size_t i = 1; i < r.a.n_conditions; i++)
        CHECK(r.a.conditions[i - 1].probability >= r.a.conditions[i].probability);
    CHECK_EQ_INT(r.a.level, MD_TRIAGE_SELF_CARE);
    CHECK(!r.a.emergency);
    run_free(&r);

    /* Evidence moves the ranking: a throbbing headache with nausea is migraine; adding
     * fever and a stiff neck brings meningitis into the top two (from fourth) and the
     * red flag makes it an emergency whatever the ranking. */
    r = assess_text("throbbing headache and feel sick", 30, MD_SEX_FEMALE);
    CHECK_EQ_STR(top_id(&r), "migraine");
    int32_t men = md_kb_condition_find(kb, "bacterial_meningitis");
    CHECK((int32_t)r.a.conditions[0].condition != men);
    run_free(&r);
    r = assess_text("headache, fever and a stiff neck", 20, MD_SEX_MALE);
    CHECK((int32_t)r.a.conditions[0].condition == men || (int32_t)r.a.conditions[1].condition == men);
    CHECK(has_flag(&r, "meningism"));
    CHECK_EQ_INT(r.a.level, MD_TRIAGE_EMERGENCY_AMBULANCE);
    run_free(&r);

    /* Absent evidence counts: "no runny nose" lowers the cold. */
    run with = assess_text("cough", 30, MD_SEX_MALE), without = assess_text("cough, no runny nose", 30, MD_SEX_MALE);
    int32_t cold = md_kb_condition_find(kb, "common_cold");
    double p_with = 0, p_without = 0;
    for (size_t i = 0; i < with.a.n_conditions; i++)
        if ((int32_t)with.a.conditions[i].condition == cold) p_with = with.a.conditions[i].probability;
    for (size_t i = 0; i < without.a.n_conditions; i++)
        if ((int32_t)without.a.conditions[i].condition == cold) p_without = without.a.conditions[i].probability;
    CHECK(p_without < p_with);
    run_free(&with);
    run_free(&without);
}

static void test_red_flags_and_triage(void) {
    run r = assess_text("crushing chest pain", 60, MD_SEX_MALE);
    CHECK(has_flag(&r, "cardiac_chest_pain"));
    CHECK_EQ_INT(r.a.level, MD_TRIAGE_EMERGENCY_AMBULANCE);
    CHECK(r.a.emergency);
    CHECK(r.a.should_stop);
    CHECK(!r.a.has_question);
    CHECK(r.a.n_reasons > 0 && strstr(r.a.reasons[0], "Red flag") != NULL);
    run_free(&r);

    r = assess_text("no chest pain, just a runny nose", 30, MD_SEX_MALE);
    CHECK(r.a.n_redflags == 0);
    CHECK_EQ_INT(r.a.level, MD_TRIAGE_SELF_CARE);
    run_free(&r);

    r = assess_text("my dad had a heart attack", 40, MD_SEX_MALE);
    CHECK(!has_flag(&r, "heart_attack"));
    run_free(&r);

    r = assess_text("I think I'm having a heart attack", 40, MD_SEX_MALE);
    CHECK(has_flag(&r, "heart_attack"));
    run_free(&r);

    /* attribute conditions: sudden AND severe */
    r = assess_text("sudden severe headache", 40, MD_SEX_FEMALE);
    CHECK(has_flag(&r, "thunderclap_headache"));
    run_free(&r);
    r = assess_text("mild headache that came on gradually", 40, MD_SEX_FEMALE);
    CHECK(!has_flag(&r, "thunderclap_headache"));
    run_free(&r);

    /* patient predicates: fever at 6 weeks, not at 6 months */
    r = assess_text("my 6 week old has a fever", -1, MD_SEX_UNKNOWN);
    CHECK(has_flag(&r, "infant_fever"));
    CHECK_EQ_INT(r.a.level, MD_TRIAGE_EMERGENCY);
    run_free(&r);
    r = assess_text("my 6 month old has a fever", -1, MD_SEX_UNKNOWN);
    CHECK(!has_flag(&r, "infant_fever"));
    CHECK(r.a.level >= MD_TRIAGE_CONSULTATION_24); /* fever under 6 months still same-day */
    run_free(&r);

    /* "!obs" terms: a faint at a blood test is not an emergency, another faint is */
    r = assess_text("I fainted at blood test", 20, MD_SEX_FEMALE);
    CHECK(!has_flag(&r, "fainting"));
    run_free(&r);
    r = assess_text("I fainted in the kitchen", 20, MD_SEX_FEMALE);
    CHECK(has_flag(&r, "fainting"));
    run_free(&r);

    /* severe pain alone raises triage to same-day */
    r = assess_text("headache 9/10", 30, MD_SEX_FEMALE);
    CHECK(r.a.level >= MD_TRIAGE_CONSULTATION_24);
    run_free(&r);

    /* nothing recognised: not self-care by default */
    r = assess_text("I feel odd", 30, MD_SEX_FEMALE);
    CHECK_EQ_INT(r.a.level, MD_TRIAGE_CONSULTATION);
    run_free(&r);
}

static void test_interview(void) {
    /* Red-flag screening comes first for chest pain. */
    run r = assess_text("chest pain", 50, MD_SEX_MALE);
    CHECK(r.a.has_question);
    CHECK_EQ_STR(r.a.question.id, "crushing_chest_pain");
    CHECK_EQ_INT(r.a.question.type, MD_QUESTION_TYPE_YESNO);
    /* Answer it and the next screening question follows; nothing is asked twice. */
    md_error err = {0};
    CHECK_EQ_INT(md_case_answer(r.c, &r.a.question, "no", 2, &err), MD_OK);
    int32_t crushing = md_kb_observation_find(kb, "crushing_chest_pain");
    CHECK_EQ_INT(md_case_entry_at(r.c, (uint32_t)crushing)->status, MD_OBS_STATUS_ABSENT);
    md_assessment_free(&r.a);
    CHECK_EQ_INT(md_assess(r.c, md_assess_default_params(), &r.a, &err), MD_OK);
    CHECK_EQ_STR(r.a.question.id, "severe_breathing_difficulty");
    /* Walk the whole interview answering "not sure": it must end without repeats. */
    char seen[64][96];
    size_t n_seen = 0;
    for (int turn = 0; turn < 60 && r.a.has_question; turn++) {
        for (size_t i = 0; i < n_seen; i++) CHECK_MSG(strcmp(seen[i], r.a.question.id) != 0, "repeated %s", seen[i]);
        if (n_seen < 64) snprintf(seen[n_seen++], 96, "%s", r.a.question.id);
        md_case_answer(r.c, &r.a.question, "not sure", 8, &err);
        md_assessment_free(&r.a);
        md_assess(r.c, md_assess_default_params(), &r.a, &err);
    }
    CHECK(r.a.should_stop);
    run_free(&r);

    /* Unknown age and sex are asked once the red-flag screen is done. */
    r = assess_text("runny nose", -1, MD_SEX_UNKNOWN);
    CHECK_EQ_STR(r.a.question.id, "patient.age");
    CHECK_EQ_INT(md_case_answer(r.c, &r.a.question, "6 months", 8, &err), MD_OK);
    CHECK_NEAR(md_case_patient(r.c).age_years, 0.5, 1e-3);
    md_assessment_free(&r.a);
    md_assess(r.c, md_assess_default_params(), &r.a, &err);
    CHECK_EQ_STR(r.a.question.id, "patient.sex");
    CHECK_EQ_INT(r.a.question.type, MD_QUESTION_TYPE_CHOICE);
    md_case_answer(r.c, &r.a.question, "female", 6, &err);
    CHECK_EQ_INT(md_case_patient(r.c).sex, MD_SEX_FEMALE);
    run_free(&r);

    /* Attribute follow-ups and KB choice questions. */
    r = assess_text("headache", 30, MD_SEX_FEMALE);
    CHECK_EQ_STR(r.a.question.id, "headache_character");
    CHECK_EQ_INT(r.a.question.n_choices, 2);
    CHECK_EQ_INT(md_case_answer(r.c, &r.a.question, "1", 1, &err), MD_OK);
    int32_t thr = md_kb_observation_find(kb, "headache_throbbing");
    CHECK_EQ_INT(md_case_entry_at(r.c, (uint32_t)thr)->status, MD_OBS_STATUS_PRESENT);
    md_assessment_free(&r.a);
    md_assess(r.c, md_assess_default_params(), &r.a, &err);
    CHECK_EQ_STR(r.a.question.id, "headache.onset");
    md_case_answer(r.c, &r.a.question, "suddenly", 8, &err);
    md_assessment_free(&r.a);
    md_assess(r.c, md_assess_default_params(), &r.a, &err);
    CHECK_EQ_STR(r.a.question.id, "headache.severity");
    md_case_answer(r.c, &r.a.question, "9", 1, &err);
    md_assessment_free(&r.a);
    md_assess(r.c, md_assess_default_params(), &r.a, &err);
    /* sudden + 9/10 is a thunderclap headache: the interview stops with the emergency */
    CHECK(has_flag(&r, "thunderclap_headache"));
    CHECK(r.a.should_stop);
    run_free(&r);

    /* A free-text answer adds findings too. */
    r = assess_text("chest pain", 50, MD_SEX_MALE);
    md_case_answer(r.c, &r.a.question, "no, but I'm sweating a lot", strlen("no, but I'm sweating a lot"), &err);
    CHECK_EQ_INT(md_case_entry_at(r.c, (uint32_t)crushing)->status, MD_OBS_STATUS_ABSENT);
    md_assessment_free(&r.a);
    md_assess(r.c, md_assess_default_params(), &r.a, &err);
    CHECK(has_flag(&r, "cardiac_chest_pain")); /* chest pain + sweating */
    run_free(&r);
}

static void test_explain(void) {
    run r = assess_text("headache and fever, no stiff neck", 25, MD_SEX_MALE);
    md_explanation ex;
    md_error err = {0};
    int32_t men = md_kb_condition_find(kb, "bacterial_meningitis");
    CHECK_EQ_INT(md_explain(r.c, (uint32_t)men, &ex, &err), MD_OK);
    CHECK_EQ_INT(ex.n_supporting, 2);
    CHECK_EQ_INT(ex.n_opposing, 1);
    CHECK_EQ_STR(md_kb_observation_at(kb, ex.opposing[0].obs)->id, "neck_stiffness");
    CHECK(ex.opposing[0].likelihood_ratio < 1);
    CHECK(ex.supporting[0].likelihood_ratio >= ex.supporting[1].likelihood_ratio);
    CHECK_EQ_INT(ex.n_unasked, 1); /* nausea */
    md_explanation_free(&ex);
    CHECK_EQ_INT(md_explain(r.c, 9999, &ex, &err), MD_ERR_NOT_FOUND);
    run_free(&r);
}

static void test_summary(void) {
    const char *text =
        "I'm a 58 year old man. Crushing chest pain for 2 hours, worse when I walk, better with rest. "
        "No fever. I have diabetes and my father had a heart attack. Took aspirin.";
    run r = assess_text(text, -1, MD_SEX_UNKNOWN);
    md_buf b;
    md_buf_init(&b);
    CHECK_EQ_INT(md_assessment_to_json(r.c, &r.a, &b), MD_OK);
    const char *j = b.data;
    CHECK(strstr(j, "\"level\":\"emergency_ambulance\"") != NULL);
    CHECK(strstr(j, "\"emergency\":true") != NULL);
    CHECK(strstr(j, "\"chief_complaint\":{\"id\":\"chest_pain\"") != NULL);
    CHECK(strstr(j, "\"pertinent_negatives\":[\"Fever\"]") != NULL);
    CHECK(strstr(j, "\"family_history\":[\"Family history of heart disease\"]") != NULL);
    CHECK(strstr(j, "\"past_history\":[\"Diabetes\"]") != NULL);
    CHECK(strstr(j, "\"medicines_tried\":[\"aspirin\"]") != NULL);
    CHECK(strstr(j, "\"aggravating_factors\":[\"i walk\"]") != NULL);
    CHECK(strstr(j, "\"relieving_factors\":[\"rest\"]") != NULL);
    CHECK(strstr(j, "\"duration_hours\":2") != NULL);
    CHECK(strstr(j, "\"patient\":{\"age\":58,\"sex\":\"male\"}") != NULL);
    CHECK(strstr(j, "\"text\":\"Crushing chest pain\"") != NULL);
    CHECK(strstr(j, "\"notice\":\"medify is not a diagnosis") != NULL);
    md_buf_clear(&b);
    CHECK_EQ_INT(md_summary_to_text(r.c, &r.a, &b), MD_OK);
    CHECK(strstr(b.data, "Chief complaint: Chest pain") != NULL);
    CHECK(strstr(b.data, "RED FLAGS") != NULL);
    CHECK(strstr(b.data, "Notice: medify is not a diagnosis") != NULL);
    md_buf_free(&b);
    run_free(&r);
}

static void test_fhir(void) {
    run r = assess_text("crushing chest pain and sweating, no fever", 61, MD_SEX_MALE);
    md_buf b;
    md_buf_init(&b);
    CHECK_EQ_INT(md_assessment_to_fhir(r.c, &r.a, &b), MD_OK);
    json_error_t jerr;
    json_t *root = json_loads(b.data, 0, &jerr);
    CHECK_MSG(root != NULL, "FHIR is not JSON: %s", jerr.text);
    if (root) {
        CHECK_EQ_STR(json_string_value(json_object_get(root, "resourceType")), "Bundle");
        json_t *entries = json_object_get(root, "entry");
        size_t n_obs_true = 0, n_obs_false = 0, n_flags = 0, n_risk = 0;
        for (size_t i = 0; i < json_array_size(entries); i++) {
            json_t *res = json_object_get(json_array_get(entries, i), "resource");
            const char *type = json_string_value(json_object_get(res, "resourceType"));
            if (strcmp(type, "Flag") == 0) n_flags++;
            if (strcmp(type, "RiskAssessment") == 0) {
                n_risk++;
                json_t *p0 = json_array_get(json_object_get(res, "prediction"), 0);
                CHECK(json_real_value(json_object_get(p0, "probabilityDecimal")) > 0.5);
                const char *code = json_string_value(json_object_get(
                    json_array_get(json_object_get(json_object_get(p0, "outcome"), "coding"), 0), "code"));
                CHECK_EQ_STR(code, "I21.9");
            }
            json_t *vb = json_object_get(res, "valueBoolean");
            if (vb && json_is_true(vb)) n_obs_true++;
            if (vb && json_is_false(vb)) n_obs_false++;
        }
        CHECK(n_obs_true >= 3); /* crushing chest pain, chest pain (implied), sweating */
        CHECK_EQ_INT(n_obs_false, 1); /* fever */
        CHECK_EQ_INT(n_flags, 1);
        CHECK_EQ_INT(n_risk, 1);
        json_decref(root);
    }
    md_buf_free(&b);
    run_free(&r);
}

/* OOM loop over one whole assessment: every failure is an error, never a crash. */
static void test_oom(void) {
    int failures = 0;
    for (int n = 1; n < 100000; n++) {
        md_case *c = md_case_new(kb);
        md_alloc_fail_after((uint64_t)n, true);
        md_error err = {0};
        md_assessment a;
        md_buf b;
        md_buf_init(&b);
        md_status st = MD_ERR_NOMEM;
        if (c) {
            st = md_case_add_text(c, "crushing chest pain and sweating for 2 hours",
                                  strlen("crushing chest pain and sweating for 2 hours"), &err);
            if (st == MD_OK) {
                st = md_assess(c, md_assess_default_params(), &a, &err);
                if (st == MD_OK) {
                    st = md_assessment_to_json(c, &a, &b);
                    md_assessment_free(&a);
                }
            }
        }
        bool injected = md_alloc_failed();
        md_alloc_fail_after(0, false);
        md_buf_free(&b);
        md_case_free(c);
        if (!injected) {
            CHECK_EQ_INT(st, MD_OK);
            break;
        }
        if (st != MD_OK) failures++;
    }
    CHECK(failures > 5);
}

int main(void) {
    kb = mini_kb_load();
    if (!kb) return 1;
    test_inference();
    test_red_flags_and_triage();
    test_interview();
    test_explain();
    test_summary();
    test_fhir();
    test_oom();
    md_kb_free(kb);
    return check_report("test_clinical_engine");
}
