/* Knowledge-base loader: one malformed file per failure class, each reported with
 * file:line and a message naming the problem; valid files load. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "medify/clinical.h"
#include "mini_kb.h"

#define OBS_OK "observation a\n  name: A\n  kind: symptom\n  synonyms: aaa\n  question: A?\n"
#define COND_OK(extra) \
    "condition c\n  name: C\n  icd10: J00\n  system: general\n  severity: mild\n  triage: self_care\n" \
    "  prior: infant=1 child=1 adolescent=1 adult=1 older=1\n  evidence: a 0.5\n  next_steps: rest\n" \
    "  guidelines: NICE\n" extra

typedef struct bad_case {
    const char *name;
    const char *text;
    int line;            /* expected line of the first diagnostic */
    const char *message; /* substring expected in it */
} bad_case;

static const bad_case k_cases[] = {
    {"unknown stanza", OBS_OK "symptom b\n", 6, "unknown stanza type 'symptom'"},
    {"invalid id", OBS_OK "observation B-2\n", 6, "invalid observation id"},
    {"outside stanza", "  name: x\n" OBS_OK, 1, "outside of any stanza"},
    {"missing colon", "observation a\n  name A\n", 2, "expected 'key: value'"},
    {"empty value", "observation a\n  name:\n", 2, "empty value for 'name'"},
    {"unknown key", OBS_OK "  colour: red\n", 6, "unknown key 'colour'"},
    {"duplicate id", OBS_OK OBS_OK, 6, "duplicate observation id 'a' (first defined at t.kb:1)"},
    {"triplicate id", OBS_OK OBS_OK OBS_OK, 6, "duplicate observation id 'a' (first defined at t.kb:1)"},
    {"missing name", "observation a\n  kind: symptom\n  synonyms: aaa\n  question: A?\n", 1, "missing 'name'"},
    {"bad kind", "observation a\n  name: A\n  kind: feeling\n  synonyms: aaa\n  question: A?\n", 3, "kind 'feeling'"},
    {"bad base rate", OBS_OK "  base_rate: 1.5\n", 6, "base_rate must be a number in (0, 1)"},
    {"key given twice", OBS_OK "  base_rate: 0.1\n  base_rate: 0.2\n", 7, "'base_rate' is given twice (first at line 6)"},
    {"dangling screen", OBS_OK "  screen: nope\n", 6, "unknown observation 'nope'"},
    {"bad attribute", OBS_OK "  attributes: colour\n", 6, "unknown attribute 'colour'"},
    {"synonym conflict", OBS_OK "observation b\n  name: B\n  kind: symptom\n  synonyms: aaa\n  question: B?\n", 6,
     "synonym 'aaa' already means 'a'"},
    {"bad probability", OBS_OK COND_OK("  evidence: a 1.2\n"), 16, "probability for 'a' must be in (0, 1)"},
    {"duplicate evidence", OBS_OK COND_OK("  evidence: a 0.4\n"), 16, "listed twice"},
    {"unknown evidence obs", OBS_OK COND_OK("  evidence: zz 0.4\n"), 16, "unknown observation 'zz'"},
    {"missing prior band",
     OBS_OK "condition c\n  name: C\n  icd10: J00\n  system: general\n  severity: mild\n  triage: self_care\n"
            "  prior: infant=1 child=1 adolescent=1 adult=1\n  evidence: a 0.5\n  next_steps: rest\n  guidelines: X\n",
     12, "prior is missing band 'older'"},
    {"bad icd10", OBS_OK COND_OK("  icd10: 123\n"), 16, "'123' is not an ICD-10-CM code"},
    {"unknown system",
     OBS_OK "condition c\n  name: C\n  icd10: J00\n  system: plumbing\n  severity: mild\n  triage: self_care\n"
            "  prior: infant=1 child=1 adolescent=1 adult=1 older=1\n  evidence: a 0.5\n  next_steps: rest\n  guidelines: X\n",
     9, "unknown system 'plumbing'"},
    {"unknown triage",
     OBS_OK "condition c\n  name: C\n  icd10: J00\n  system: general\n  severity: mild\n  triage: later\n"
            "  prior: infant=1 child=1 adolescent=1 adult=1 older=1\n  evidence: a 0.5\n  next_steps: rest\n  guidelines: X\n",
     11, "unknown triage level 'later'"},
    {"negative sex multiplier", OBS_OK COND_OK("  sex: female=-1\n"), 16, "sex entries"},
    {"missing evidence",
     OBS_OK "condition c\n  name: C\n  icd10: J00\n  system: general\n  severity: mild\n  triage: self_care\n"
            "  prior: infant=1 child=1 adolescent=1 adult=1 older=1\n  next_steps: rest\n  guidelines: X\n",
     6, "missing 'evidence'"},
    {"one-choice question", OBS_OK "question q\n  text: Q?\n  when: a\n  choice: Yes = a\n", 6, "at least two"},
    {"question bad when", OBS_OK "question q\n  text: Q?\n  when: zz\n  choice: x = a\n  choice: y\n", 8,
     "unknown observation 'zz'"},
    {"redflag bad term", OBS_OK "redflag r\n  name: R\n  level: emergency\n  trigger: a + age<<3\n  guidance: go\n", 9,
     "bad trigger term"},
    {"redflag bad attribute",
     OBS_OK "redflag r\n  name: R\n  level: emergency\n  trigger: a[colour=red]\n  guidance: go\n", 9,
     "unknown attribute condition"},
    {"redflag no observation", OBS_OK "redflag r\n  name: R\n  level: emergency\n  trigger: age<1\n  guidance: go\n", 9,
     "needs at least one observation"},
    {"redflag no guidance", OBS_OK "redflag r\n  name: R\n  level: emergency\n  trigger: a\n", 6, "missing 'guidance'"},
    {"no conditions", OBS_OK, 0, "defines no conditions"},
};

static void test_bad_files(void) {
    for (size_t i = 0; i < MD_ARRAY_LEN(k_cases); i++) {
        const bad_case *bc = &k_cases[i];
        const char *paths[] = {"t.kb"};
        const char *texts[] = {bc->text};
        md_kb *kb = NULL;
        md_error err = {0};
        md_status st = md_kb_load_files(1, paths, texts, &kb, &err);
        CHECK_MSG(st == MD_ERR_KB, "%s: status %d", bc->name, st);
        CHECK_MSG(kb == NULL, "%s: kb returned on error", bc->name);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "t.kb:%d: ", bc->line);
        CHECK_MSG(strncmp(err.message, prefix, strlen(prefix)) == 0, "%s: expected %s..., got '%s'", bc->name, prefix,
                  err.message);
        CHECK_MSG(strstr(err.message, bc->message) != NULL, "%s: expected '%s' in '%s'", bc->name, bc->message,
                  err.message);
    }
}

static void test_invalid_utf8_file(void) {
    const char *paths[] = {"t.kb"};
    const char *texts[] = {"observation a\n  name: \xc3\x28\n"};
    md_kb *kb = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_kb_load_files(1, paths, texts, &kb, &err), MD_ERR_KB);
    CHECK(strstr(err.message, "not valid UTF-8") != NULL);
}

static void test_mini_kb_loads(void) {
    md_kb *kb = mini_kb_load();
    CHECK(kb != NULL);
    if (!kb) return;
    CHECK_EQ_INT(md_kb_n_conditions(kb), 4);
    CHECK_EQ_INT(md_kb_n_redflags(kb), 7);
    CHECK_EQ_INT(md_kb_n_questions(kb), 1);
    int32_t acs = md_kb_condition_find(kb, "acute_coronary_syndrome");
    CHECK(acs >= 0);
    const md_kb_condition *c = md_kb_condition_at(kb, (size_t)acs);
    CHECK_EQ_STR(c->icd10[0], "I21.9");
    CHECK_NEAR(c->prior[MD_AGE_BAND_OLDER], 40, 1e-12);
    CHECK_NEAR(c->sex_multiplier[MD_SEX_UNKNOWN], (1.4 + 0.7) / 2, 1e-12);
    CHECK_EQ_INT(c->triage, MD_TRIAGE_EMERGENCY_AMBULANCE);
    int32_t rf = md_kb_redflag_find(kb, "thunderclap_headache");
    const md_kb_redflag *r = md_kb_redflag_at(kb, (size_t)rf);
    CHECK_EQ_INT(r->n_triggers, 1);
    CHECK_EQ_INT(r->triggers[0].terms[0].onset, MD_ONSET_SUDDEN);
    CHECK_NEAR(r->triggers[0].terms[0].min_severity, 8, 1e-12);
    CHECK(md_kb_observation_find(kb, "nope") < 0);
    md_kb_free(kb);
}

static void test_missing_dir(void) {
    md_kb *kb = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_kb_load_dir("/nonexistent/medify-kb", &kb, &err), MD_ERR_IO);
    CHECK(strstr(err.message, "/nonexistent/medify-kb") != NULL);
}

/* Every allocation failure while loading is an error, never a crash or a leak. */
static void test_oom(void) {
    const char *paths[] = {"observations.kb", "conditions.kb", "questions.kb", "redflags.kb"};
    const char *texts[] = {k_mini_observations, k_mini_conditions, k_mini_questions, k_mini_redflags};
    int failures = 0, n;
    for (n = 1; n < 100000; n++) {
        md_kb *kb = NULL;
        md_error err = {0};
        md_alloc_fail_after((uint64_t)n, true);
        md_status st = md_kb_load_files(4, paths, texts, &kb, &err);
        bool injected = md_alloc_failed();
        md_alloc_fail_after(0, false);
        if (st == MD_OK) {
            md_kb_free(kb);
            if (!injected) break;
            continue;
        }
        failures++;
        CHECK_MSG(st == MD_ERR_NOMEM, "fail at %d: status %d (%s)", n, st, err.message);
        CHECK(kb == NULL);
    }
    CHECK(failures > 10);
    fprintf(stderr, "kb load survived %d allocation failures\n", failures);
}

int main(void) {
    test_bad_files();
    test_invalid_utf8_file();
    test_mini_kb_loads();
    test_missing_dir();
    test_oom();
    return check_report("test_kb_load");
}
