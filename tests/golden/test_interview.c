/* Interview flows on the shipped knowledge base: for each common complaint the
 * interview asks the follow-ups a clinician would (headache: character, severity,
 * onset, triggers; abdominal pain: location, timing with meals; cough: dry or
 * productive; fever: highest temperature), screens for red flags first, asks age and
 * sex, never repeats a question, and ends. The patient answers "not sure" throughout,
 * so every path stays open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "medify/clinical.h"

#define MAX_TURNS 40

typedef struct flow {
    const char *complaint;
    const char *must_ask[6]; /* question ids, NULL-terminated */
    const char *screen_first; /* a red-flag screening question asked before age */
} flow;

static const flow k_flows[] = {
    {"I've got a headache", {"headache_character", "headache.severity", "headache.onset", "headache_trigger", NULL},
     "thunderclap_headache"},
    {"pain in my tummy", {"abdominal_pain_location", "abdominal_pain_pattern", "abdominal_pain.severity", NULL},
     "vomiting_blood"},
    {"I have a cough", {"cough_type", NULL}, NULL},
    {"I've got a fever", {"fever.temperature", "fever_height", NULL}, "neck_stiffness"},
    {"chest pain", {"chest_pain_character", "chest_pain.severity", NULL}, "chest_pain_pressure"},
};

static void run_flow(const md_kb *kb, const flow *f) {
    md_case *c = md_case_new(kb);
    md_error err = {0};
    CHECK(md_case_add_text(c, f->complaint, strlen(f->complaint), &err) == MD_OK);
    char asked[MAX_TURNS][96];
    size_t n = 0;
    bool stopped = false;
    for (int turn = 0; turn < MAX_TURNS; turn++) {
        md_assessment a;
        if (md_assess(c, md_assess_default_params(), &a, &err) != MD_OK) break;
        if (!a.has_question) {
            stopped = a.should_stop;
            md_assessment_free(&a);
            break;
        }
        for (size_t i = 0; i < n; i++) CHECK_MSG(strcmp(asked[i], a.question.id) != 0, "%s: repeated %s", f->complaint, asked[i]);
        snprintf(asked[n++], sizeof asked[0], "%s", a.question.id);
        md_case_answer(c, &a.question, "not sure", 8, &err);
        md_assessment_free(&a);
    }
    CHECK_MSG(stopped, "%s: the interview never said it should stop", f->complaint);
    for (size_t k = 0; f->must_ask[k]; k++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(asked[i], f->must_ask[k]) == 0) found = true;
        CHECK_MSG(found, "%s: never asked %s", f->complaint, f->must_ask[k]);
    }
    if (f->screen_first) {
        size_t i_screen = n, i_age = n;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(asked[i], f->screen_first) == 0) i_screen = i;
            if (strcmp(asked[i], "patient.age") == 0) i_age = i;
        }
        CHECK_MSG(i_screen < i_age, "%s: %s not asked before the age", f->complaint, f->screen_first);
    }
    fprintf(stderr, "%s: %zu questions:", f->complaint, n);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %s", asked[i]);
    fputc('\n', stderr);
    md_case_free(c);
}

int main(void) {
    md_kb *kb = NULL;
    md_error err = {0};
    if (md_kb_load_default(NULL, &kb, &err) != MD_OK) {
        fprintf(stderr, "knowledge base: %s\n", err.message);
        return 1;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(k_flows); i++) run_flow(kb, &k_flows[i]);
    md_kb_free(kb);
    return check_report("test_interview");
}
