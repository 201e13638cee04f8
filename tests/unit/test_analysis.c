/* The analysis module: deterministic reports over a tiny synthetic case index (sections,
 * red flags, citations that exist, demographic filters, minimum score), a data dir
 * without an index, JSON/Markdown round trips, report questions, and the LLM-side
 * pieces on fixed strings (prompt, section splitting, citation checking). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/analysis/internal.h"
#include "check.h"
#include "medify/analysis.h"
#include "medify/search.h"
#include "medify/store.h"
#include "mini_kb.h"

typedef struct test_case {
    const char *uid, *pmid, *title, *sex;
    double age;
    const char *text;
} test_case;

static const test_case k_corpus[] = {
    {"1001-1", "1001", "Inferior myocardial infarction", "male", 58,
     "A 58-year-old man presented with crushing chest pain, sweating and nausea for two hours. The ECG showed "
     "ST elevation and he was treated for acute myocardial infarction."},
    {"1002-1", "1002", "Chest pain after exertion", "female", 52,
     "A 52-year-old woman had chest pain and sweating after climbing stairs. Troponin was raised."},
    {"1003-1", "1003", "Migraine with aura", "female", 30,
     "A 30-year-old woman had a throbbing headache with nausea and flashing lights; migraine was diagnosed."},
    {"1004-1", "1004", "Meningococcal meningitis in a child", "male", 6,
     "A 6-year-old boy presented with fever, headache, a stiff neck and vomiting; bacterial meningitis was confirmed."},
    {"1005-1", "1005", "Acute coronary syndrome", "male", 61,
     "A 61-year-old man with chest pain, sweating and shortness of breath was admitted with acute coronary "
     "syndrome."},
    {"1006-1", "1006", "Common cold", "male", 25, "A 25-year-old man had a runny nose, cough and mild fever."},
    {"1007-1", "1007", "Chest pain in a teenager", "female", 15,
     "A 15-year-old girl had chest pain and sweating during a panic attack."},
    {"2001-1", "2001", "Rectal bleeding", "male", 40,
     "A 40-year-old man had abdominal pain and bleeding from the rectum. Bleeding and abdominal pain settled."},
    {"2002-1", "2002", "Threatened miscarriage", "female", 29,
     "A 29-year-old woman, 8 weeks pregnant, had vaginal bleeding in pregnancy and lower abdominal pain."},
    {"2003-1", "2003", "Ectopic pregnancy", "female", 33,
     "A 33-year-old woman with bleeding in pregnancy and abdominal pain had a tubal ectopic pregnancy."},
};
#define N_CORPUS (sizeof k_corpus / sizeof k_corpus[0])

static char g_dir[256], g_empty[256];
static int64_t g_ids[N_CORPUS];

static bool add_doc(const md_case_record *rec, void *ctx) {
    md_bm25 *ix = ctx;
    md_sex s = MD_SEX_UNKNOWN;
    if (rec->sex) md_sex_parse(rec->sex, &s);
    md_search_doc d = {(uint64_t)rec->id, rec->external_id, rec->age_years, s};
    return md_bm25_add(ix, &d, rec->text, strlen(rec->text), NULL) == MD_OK;
}

/* A data dir with the corpus in the store and a BM25 snapshot over it. */
static bool make_data_dir(void) {
    md_store *st = NULL;
    md_error err = {0};
    if (md_store_open(g_dir, &st, &err) != MD_OK) return fprintf(stderr, "store: %s\n", err.message), false;
    bool ok = true;
    for (size_t i = 0; i < N_CORPUS && ok; i++) {
        md_case_record rec = {0};
        rec.source = "synthetic";
        rec.external_id = k_corpus[i].uid;
        rec.pmid = k_corpus[i].pmid;
        rec.title = k_corpus[i].title;
        rec.text = k_corpus[i].text;
        rec.age_years = k_corpus[i].age;
        rec.sex = k_corpus[i].sex;
        rec.dataset_version = "test";
        bool inserted = false;
        ok = md_store_case_put(st, &rec, &g_ids[i], &inserted, &err) == MD_OK && inserted;
    }
    md_bm25 *ix = NULL;
    md_snapshot_writer *w = NULL;
    ok = ok && md_bm25_new(md_bm25_default_params(), &ix, &err) == MD_OK;
    ok = ok && md_store_case_each(st, 0, 0, add_doc, ix, &err) == MD_OK && md_bm25_n_docs(ix) == N_CORPUS;
    ok = ok && md_bm25_finish(ix, &err) == MD_OK;
    ok = ok && md_snapshot_writer_new(g_dir, "v1", &w, &err) == MD_OK;
    ok = ok && md_bm25_save(ix, md_snapshot_writer_path(w, MD_SNAPSHOT_BM25_FILE), &err) == MD_OK;
    ok = ok && md_snapshot_writer_add(w, MD_SNAPSHOT_BM25_FILE, "bm25", N_CORPUS, &err) == MD_OK;
    ok = ok && md_snapshot_writer_commit(w, "test", N_CORPUS, NULL, &err) == MD_OK;
    if (!ok) fprintf(stderr, "data dir: %s\n", err.message);
    md_snapshot_writer_free(w);
    md_bm25_free(ix);
    md_store_close(st);
    return ok;
}

static const test_case *corpus_by_id(int64_t id) {
    for (size_t i = 0; i < N_CORPUS; i++)
        if (g_ids[i] == id) return &k_corpus[i];
    return NULL;
}

static md_case *make_case(const md_kb *kb, const char *text, double age, md_sex sex) {
    md_case *c = md_case_new(kb);
    if (!c) return NULL;
    md_error err = {0};
    if (md_case_add_text(c, text, strlen(text), &err) != MD_OK) fprintf(stderr, "case: %s\n", err.message);
    md_case_set_patient(c, age, sex);
    return c;
}

typedef struct pieces {
    md_buf all;
    int n;
} pieces;

static bool on_piece(const char *p, size_t n, void *ctx) {
    pieces *ps = ctx;
    md_buf_append(&ps->all, p, n);
    ps->n++;
    return true;
}

/* ---- deterministic report on the mini KB -------------------------------------------------- */

static void test_emergency_report(const md_kb *kb) {
    md_analysis *an = NULL;
    md_error err = {0};
    CHECK(md_analysis_open(g_dir, kb, NULL, NULL, &an, &err) == MD_OK);
    if (!an) return;
    CHECK_EQ_INT(md_analysis_n_indexed(an), N_CORPUS);
    md_case *c = make_case(kb, "I have crushing chest pain and I am sweating a lot", 58, MD_SEX_MALE);
    md_report r;
    pieces ps = {{0}, 0};
    CHECK(md_analysis_report(an, c, on_piece, &ps, &r, &err) == MD_OK);
    CHECK_EQ_STR(r.generator, "deterministic");
    CHECK_EQ_INT(r.n_sections, MD_REPORT_N_SECTIONS);
    for (size_t i = 0; i < r.n_sections && i < MD_REPORT_N_SECTIONS; i++) {
        CHECK_EQ_STR(r.sections[i].key, md_report_section_key(i));
        CHECK(r.sections[i].text && strlen(r.sections[i].text) > 20);
    }
    /* red flags and triage from the engine, in the triage section */
    CHECK(r.emergency);
    CHECK_EQ_INT(r.triage, MD_TRIAGE_EMERGENCY_AMBULANCE);
    CHECK(r.n_red_flags >= 1);
    const char *tri = md_report_section_text(&r, MD_REPORT_SECTION_TRIAGE);
    CHECK(tri && strstr(tri, "Chest pain that could be a heart attack"));
    CHECK(tri && strstr(tri, "emergency_ambulance"));
    const char *safety = md_report_section_text(&r, MD_REPORT_SECTION_SAFETY_NOTICE);
    CHECK(safety && strstr(safety, MD_CLINICAL_NOTICE));
    const char *diff = md_report_section_text(&r, MD_REPORT_SECTION_DIFFERENTIAL);
    CHECK(diff && strstr(diff, "Acute coronary syndrome") && strstr(diff, "For: "));
    const char *steps = md_report_section_text(&r, MD_REPORT_SECTION_NEXT_STEPS);
    CHECK(steps && strstr(steps, "Call an ambulance") && strstr(steps, "NICE CG95"));
    const char *cur = md_report_section_text(&r, MD_REPORT_SECTION_CURRENT_CASE);
    CHECK(cur && strstr(cur, "58-year-old man") && strstr(cur, "chest pain"));
    /* similar cases: real, adult, within ±15 years, cited by PMID in the section */
    CHECK(r.n_similar_cases >= 2 && r.n_similar_cases <= MD_ANALYSIS_DEFAULT_N_SIMILAR);
    const char *sim = md_report_section_text(&r, MD_REPORT_SECTION_SIMILAR_CASES);
    for (size_t i = 0; i < r.n_similar_cases; i++) {
        const test_case *tc = corpus_by_id(r.similar_cases[i].case_id);
        CHECK(tc != NULL);
        if (!tc) continue;
        CHECK_EQ_STR(r.similar_cases[i].pmid, tc->pmid);
        CHECK_EQ_STR(r.similar_cases[i].patient_uid, tc->uid);
        CHECK(tc->age >= 43 && tc->age <= 73);
        char cite[64];
        snprintf(cite, sizeof cite, "[PMID %s]", tc->pmid);
        CHECK_MSG(sim && strstr(sim, cite), "%s not cited", cite);
        CHECK(r.similar_cases[i].snippet && strlen(r.similar_cases[i].snippet) > 0);
        if (i) CHECK(r.similar_cases[i].score <= r.similar_cases[i - 1].score);
    }
    CHECK(r.n_similar_cases && strstr(r.similar_cases[0].shared_findings, "chest pain"));
    /* streamed: one piece per section, together the Markdown sections */
    CHECK_EQ_INT(ps.n, MD_REPORT_N_SECTIONS);
    CHECK(ps.all.data && strstr(ps.all.data, "## Triage and red flags"));
    CHECK_EQ_INT(r.usage.prompt_tokens, 0);
    CHECK(r.usage.latency_ms > 0);

    /* JSON is valid, round-trips, and carries the API fields */
    md_buf j;
    md_buf_init(&j);
    CHECK(md_report_to_json(&r, &j) == MD_OK);
    CHECK(j.data && strstr(j.data, "\"generator\":\"deterministic\"") && strstr(j.data, "\"similar_cases\":[{"));
    md_report back;
    CHECK(md_report_from_json(j.data, j.len, &back, &err) == MD_OK);
    CHECK_EQ_INT(back.n_sections, r.n_sections);
    CHECK_EQ_INT(back.n_similar_cases, r.n_similar_cases);
    CHECK_EQ_INT(back.triage, r.triage);
    CHECK_EQ_INT(back.n_red_flags, r.n_red_flags);
    if (back.n_sections == r.n_sections)
        for (size_t i = 0; i < r.n_sections; i++) CHECK_EQ_STR(back.sections[i].text, r.sections[i].text);
    if (back.n_similar_cases && r.n_similar_cases) CHECK_EQ_STR(back.similar_cases[0].pmid, r.similar_cases[0].pmid);
    md_buf j2;
    md_buf_init(&j2);
    CHECK(md_report_to_json(&back, &j2) == MD_OK);
    CHECK(j2.data && strstr(j2.data, "\"red_flags\":[{\"id\":\"cardiac_chest_pain\""));
    md_buf_free(&j2);
    md_report_free(&back);
    CHECK(md_report_from_json("{\"sections\":3}", 14, &back, &err) == MD_ERR_PARSE);
    md_report_free(&back);
    CHECK(md_report_from_json("{not json", 9, &back, &err) == MD_ERR_PARSE);
    md_report_free(&back);
    static const char *const k_hostile[] = {
        "[]", "{\"similar_cases\":[{\"case_id\":1e300}]}", "{\"usage\":{\"prompt_tokens\":-5}}",
        "{\"similar_cases\":[{\"case_id\":1.5}]}", "{\"triage\":{\"level\":\"urgent\"}}",
        "{\"sections\":[{\"key\":7}]}", "{\"red_flags\":[1]}", "{\"a\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof k_hostile / sizeof k_hostile[0]; i++) {
        CHECK_MSG(md_report_from_json(k_hostile[i], strlen(k_hostile[i]), &back, &err) == MD_ERR_PARSE, "%s",
                  k_hostile[i]);
        md_report_free(&back);
    }
    /* a minimal stored report (sections only) renders */
    const char *minimal = "{\"sections\":[{\"key\":\"differential\",\"text\":\"edited by a clinician\"}]}";
    CHECK(md_report_from_json(minimal, strlen(minimal), &back, &err) == MD_OK);
    CHECK_EQ_STR(back.sections[0].title, "Differential diagnosis");
    CHECK_EQ_STR(back.generator, "deterministic");
    md_buf_clear(&j);
    CHECK(md_report_to_markdown(&back, &j) == MD_OK && strstr(j.data, "edited by a clinician"));
    md_report_free(&back);
    md_buf_free(&j);

    md_buf md;
    md_buf_init(&md);
    CHECK(md_report_to_markdown(&r, &md) == MD_OK);
    CHECK(md.data && strstr(md.data, "## Differential diagnosis") && strstr(md.data, "| 1 | "));
    md_buf_free(&md);

    /* questions */
    md_buf ans;
    md_buf_init(&ans);
    bool on = false;
    CHECK(md_analysis_answer(an, &r, NULL, "Which red flags were found?", NULL, NULL, &ans, &on, &err) == MD_OK);
    CHECK(on);
    CHECK(ans.data && strstr(ans.data, "Chest pain that could be a heart attack"));
    CHECK(ans.len > strlen(MD_CLINICAL_NOTICE) &&
          strcmp(ans.data + ans.len - strlen(MD_CLINICAL_NOTICE), MD_CLINICAL_NOTICE) == 0);
    md_buf_clear(&ans);
    CHECK(md_analysis_answer(an, &r, NULL, "What is the capital of France?", NULL, NULL, &ans, &on, &err) == MD_OK);
    CHECK(!on);
    CHECK(ans.data && strstr(ans.data, "only answer questions about this case-analysis report"));
    CHECK(ans.len > strlen(MD_CLINICAL_NOTICE) &&
          strcmp(ans.data + ans.len - strlen(MD_CLINICAL_NOTICE), MD_CLINICAL_NOTICE) == 0);
    md_buf_clear(&ans);
    CHECK(md_analysis_answer(an, &r, NULL, "Who will win the football tonight?", NULL, NULL, &ans, &on, &err) ==
          MD_OK);
    CHECK(!on);
    md_buf_clear(&ans);
    const char *notes = "[{\"kind\":\"note\",\"text\":\"Echocardiogram booked for Friday.\"}]";
    CHECK(md_analysis_answer(an, &r, notes, "When is the echocardiogram?", NULL, NULL, &ans, &on, &err) == MD_OK);
    CHECK(on);
    CHECK(ans.data && strstr(ans.data, "booked for Friday"));
    md_buf_clear(&ans);
    CHECK(md_analysis_answer(an, &r, NULL, "   ", NULL, NULL, &ans, &on, &err) == MD_ERR_EMPTY);
    CHECK(md_analysis_answer(an, &r, "{\"x\":1}", "why?", NULL, NULL, &ans, &on, &err) == MD_ERR_PARSE);
    CHECK(md_analysis_answer(an, &r, NULL, "bad \xff utf8", NULL, NULL, &ans, &on, &err) == MD_ERR_UTF8);
    char big[MD_ANALYSIS_MAX_QUESTION_BYTES + 16];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(md_analysis_answer(an, &r, NULL, big, NULL, NULL, &ans, &on, &err) == MD_ERR_TOO_LARGE);
    md_buf_free(&ans);

    /* the prompt carries the cases' ids, the fixed triage and the citation rule */
    const char *sys = NULL, *user = NULL;
    md_report_input in = {0};
    md_assessment as;
    CHECK(md_assess(c, md_assess_default_params(), &as, &err) == MD_OK);
    md_search_filter f = md_search_filter_none();
    in.kb = kb;
    in.c = c;
    in.a = &as;
    in.filter = &f;
    CHECK(analysis_report_prompt(&in, &r, &r.arena, &sys, &user) == MD_OK);
    CHECK(sys && strstr(sys, "cite nothing else") && strstr(sys, "## Differential diagnosis"));
    CHECK(user && strstr(user, "emergency_ambulance") && strstr(user, "Chest pain that could be a heart attack"));
    for (size_t i = 0; i < r.n_similar_cases && user; i++) {
        char cite[64];
        snprintf(cite, sizeof cite, "[PMID %s]", r.similar_cases[i].pmid);
        CHECK(strstr(user, cite) != NULL);
    }
    md_assessment_free(&as);

    md_report_free(&r);
    md_buf_free(&ps.all);

    /* the minimum score is applied: only cases at or above it remain */
    md_analysis_params p = md_analysis_default_params();
    p.min_score = 1.0; /* above any RRF score of one ranker (1/61) */
    md_analysis *an2 = NULL;
    CHECK(md_analysis_open(g_dir, kb, NULL, &p, &an2, &err) == MD_OK);
    if (an2) {
        CHECK(md_analysis_report(an2, c, NULL, NULL, &r, &err) == MD_OK);
        CHECK_EQ_INT(r.n_similar_cases, 0);
        const char *s2 = md_report_section_text(&r, MD_REPORT_SECTION_SIMILAR_CASES);
        CHECK(s2 && strstr(s2, "No sufficiently similar case"));
        md_report_free(&r);
        md_analysis_free(an2);
    }
    p.min_score = 1.0 / (60 + 2) - 1e-12; /* ranks 1 and 2 only */
    CHECK(md_analysis_open(g_dir, kb, NULL, &p, &an2, &err) == MD_OK);
    if (an2) {
        CHECK(md_analysis_report(an2, c, NULL, NULL, &r, &err) == MD_OK);
        CHECK_EQ_INT(r.n_similar_cases, 2);
        for (size_t i = 0; i < r.n_similar_cases; i++) CHECK(r.similar_cases[i].score >= p.min_score);
        md_report_free(&r);
        md_analysis_free(an2);
    }
    md_case_free(c);

    /* paediatric patients only see paediatric cases */
    c = make_case(kb, "fever and headache and a stiff neck", 7, MD_SEX_MALE);
    CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
    CHECK(r.n_similar_cases >= 1);
    for (size_t i = 0; i < r.n_similar_cases; i++) {
        const test_case *tc = corpus_by_id(r.similar_cases[i].case_id);
        CHECK(tc && tc->age < 18);
    }
    CHECK(r.emergency); /* meningism */
    md_report_free(&r);
    md_case_free(c);

    /* no symptom: no retrieval, a note says why */
    c = make_case(kb, "hello there", -1, MD_SEX_UNKNOWN);
    CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
    CHECK_EQ_INT(r.n_similar_cases, 0);
    CHECK(r.n_notes >= 1 && strstr(r.notes[0], "no symptom"));
    md_report_free(&r);
    md_case_free(c);

    CHECK(md_analysis_report(an, NULL, NULL, NULL, &r, &err) == MD_ERR_INVALID_ARG);
    md_report_free(&r);
    md_analysis_free(an);
}

static void test_no_index(const md_kb *kb) {
    md_analysis *an = NULL;
    md_error err = {0};
    CHECK(md_analysis_open(g_empty, kb, NULL, NULL, &an, &err) == MD_OK);
    if (!an) return;
    CHECK_EQ_INT(md_analysis_n_indexed(an), 0);
    md_case *c = make_case(kb, "I have a bad cough and a runny nose", 30, MD_SEX_FEMALE);
    md_report r;
    CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
    CHECK_EQ_INT(r.n_similar_cases, 0);
    CHECK(r.n_notes >= 1 && strstr(r.notes[0], "no case index"));
    const char *sim = md_report_section_text(&r, MD_REPORT_SECTION_SIMILAR_CASES);
    CHECK(sim && strstr(sim, "No case index"));
    CHECK(!r.emergency && r.n_red_flags == 0);
    const char *tri = md_report_section_text(&r, MD_REPORT_SECTION_TRIAGE);
    CHECK(tri && strstr(tri, "No red flag"));
    md_report_free(&r);
    md_case_free(c);
    md_analysis_free(an);
    CHECK(md_analysis_open(g_empty, NULL, NULL, NULL, &an, &err) == MD_ERR_INVALID_ARG);
    md_analysis_params p = md_analysis_default_params();
    p.n_similar = 1000;
    CHECK(md_analysis_open(g_empty, kb, NULL, &p, &an, &err) == MD_ERR_INVALID_ARG);
}

/* ---- a female-only condition set with the real KB ------------------------------------------- */

static void test_sex_filter(void) {
    md_kb *kb = NULL;
    md_error err = {0};
    CHECK(md_kb_load_embedded(&kb, &err) == MD_OK);
    if (!kb) return;
    md_case *c = make_case(kb, "I am pregnant and I have vaginal bleeding and pain in my lower tummy", -1,
                           MD_SEX_UNKNOWN);
    md_assessment as;
    CHECK(md_assess(c, md_assess_default_params(), &as, &err) == MD_OK);
    const md_kb_condition *top = as.n_conditions ? md_kb_condition_at(kb, as.conditions[0].condition) : NULL;
    CHECK_MSG(top && top->sex_multiplier[MD_SEX_MALE] == 0, "top condition %s", top ? top->id : "(none)");
    md_assessment_free(&as);
    md_analysis *an = NULL;
    CHECK(md_analysis_open(g_dir, kb, NULL, NULL, &an, &err) == MD_OK);
    md_report r;
    if (an) {
        CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
        CHECK(r.n_similar_cases >= 1);
        for (size_t i = 0; i < r.n_similar_cases; i++) {
            const test_case *tc = corpus_by_id(r.similar_cases[i].case_id);
            CHECK_MSG(tc && strcmp(tc->sex, "female") == 0, "case %s is not female", tc ? tc->uid : "?");
        }
        const char *sim = md_report_section_text(&r, MD_REPORT_SECTION_SIMILAR_CASES);
        CHECK(sim && strstr(sim, "female only"));
        md_report_free(&r);
        md_analysis_free(an);
    }
    /* the same search without the filter does reach the male case */
    md_analysis_params p = md_analysis_default_params();
    p.demographic_filter = false;
    p.n_similar = 10;
    CHECK(md_analysis_open(g_dir, kb, NULL, &p, &an, &err) == MD_OK);
    if (an) {
        CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
        bool male = false;
        for (size_t i = 0; i < r.n_similar_cases; i++) {
            const test_case *tc = corpus_by_id(r.similar_cases[i].case_id);
            if (tc && strcmp(tc->sex, "male") == 0) male = true;
        }
        CHECK(male);
        md_report_free(&r);
        md_analysis_free(an);
    }
    md_case_free(c);
    md_kb_free(kb);
}

/* ---- one md_analysis, several threads ------------------------------------------------------- */

typedef struct thread_job {
    md_analysis *an;
    const md_kb *kb;
    size_t n_cases_expected;
    int failures;
} thread_job;

static void *report_thread(void *arg) {
    thread_job *j = arg;
    for (int i = 0; i < 4; i++) {
        md_case *c = make_case(j->kb, "I have crushing chest pain and I am sweating a lot", 58, MD_SEX_MALE);
        md_report r;
        md_error err = {0};
        if (!c || md_analysis_report(j->an, c, NULL, NULL, &r, &err) != MD_OK ||
            r.n_similar_cases != j->n_cases_expected || !r.emergency)
            j->failures++;
        md_report_free(&r);
        md_case_free(c);
    }
    return NULL;
}

static void test_threads(const md_kb *kb) {
    md_analysis *an = NULL;
    md_error err = {0};
    CHECK(md_analysis_open(g_dir, kb, NULL, NULL, &an, &err) == MD_OK);
    if (!an) return;
    md_case *c = make_case(kb, "I have crushing chest pain and I am sweating a lot", 58, MD_SEX_MALE);
    md_report r;
    CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
    thread_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){an, kb, r.n_similar_cases, 0};
        CHECK(pthread_create(&th[i], NULL, report_thread, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(jobs[i].failures, 0);
    }
    md_report_free(&r);
    md_case_free(c);
    md_analysis_free(an);
}

/* Every allocation of a report, answer and rendering failing in turn: an error or a
 * result, never a crash or a leak. */
static void test_oom(const md_kb *kb) {
    md_analysis *an = NULL;
    md_error err = {0};
    CHECK(md_analysis_open(g_dir, kb, NULL, NULL, &an, &err) == MD_OK);
    md_case *c = make_case(kb, "I have crushing chest pain and I am sweating a lot", 58, MD_SEX_MALE);
    if (!an || !c) return;
    int n_ok = 0, n_nomem = 0, n_other = 0;
    for (uint64_t n = 1; n < 5000; n++) {
        md_report r;
        md_buf b;
        md_buf_init(&b);
        bool on;
        md_alloc_fail_after(n, false);
        md_status st = md_analysis_report(an, c, NULL, NULL, &r, &err);
        if (st == MD_OK) st = md_report_to_json(&r, &b);
        if (st == MD_OK) st = md_report_pdf(&r, &b);
        if (st == MD_OK) st = md_analysis_answer(an, &r, NULL, "Which red flags?", NULL, NULL, &b, &on, &err);
        bool failed = md_alloc_failed();
        md_alloc_fail_after(0, false);
        md_report_free(&r);
        md_buf_free(&b);
        if (st == MD_OK) n_ok++;
        else if (st == MD_ERR_NOMEM) n_nomem++;
        else n_other++;
        if (!failed) break; /* every allocation has had its turn */
    }
    CHECK(n_nomem > 10);
    CHECK(n_ok >= 1);
    CHECK_EQ_INT(n_other, 0);
    /* opening too */
    n_nomem = n_other = 0;
    for (uint64_t n = 1; n < 100000; n++) {
        md_analysis *a2 = NULL;
        md_alloc_fail_after(n, false);
        md_status st = md_analysis_open(g_dir, kb, NULL, NULL, &a2, &err);
        bool failed = md_alloc_failed();
        md_alloc_fail_after(0, false);
        if (st == MD_ERR_NOMEM) n_nomem++;
        else if (st != MD_OK) n_other++;
        CHECK((st == MD_OK) == (a2 != NULL));
        md_analysis_free(a2);
        if (!failed) break;
    }
    CHECK(n_nomem > 10);
    CHECK_EQ_INT(n_other, 0);
    md_case_free(c);
    md_analysis_free(an);
}

/* ---- LLM-side parsing on fixed strings ---------------------------------------------------- */

static void test_split_and_citations(void) {
    md_arena a;
    md_arena_init(&a, 0);
    const char *texts[MD_REPORT_N_SECTIONS];
    const char *answer = "Here is the report.\n"
                         "## Current case\nA man with chest pain.\n\n"
                         "## 2. Differential diagnosis:\n- ACS [PMID 1001]\n"
                         "## Random musings\nignored text\n"
                         "**Similar cases**\nCase [PMID 1001] and [PMID 9999]; also [patient 1002-1; PMID 4242] "
                         "and [Figure 1].\n"
                         "### Next steps\nECG now.\n"
                         "## Triage\nself care (must be ignored)";
    size_t n = analysis_split_sections(answer, &a, texts);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_STR(texts[0], "A man with chest pain.");
    CHECK_EQ_STR(texts[2], "- ACS [PMID 1001]");
    CHECK(texts[3] && strncmp(texts[3], "Case [PMID 1001]", 16) == 0);
    CHECK_EQ_STR(texts[4], "ECG now.");
    CHECK_EQ_STR(texts[1], "self care (must be ignored)");
    CHECK(texts[5] == NULL);
    const char *similar = texts[3];
    CHECK_EQ_INT(analysis_split_sections("no headings at all", &a, texts), 0);
    CHECK(texts[3] == NULL);

    md_report_case cases[2] = {{0}, {0}};
    cases[0].case_id = 11;
    cases[0].pmid = "1001";
    cases[0].patient_uid = "1001-1";
    cases[1].case_id = 12;
    cases[1].pmid = "1002";
    cases[1].patient_uid = "1002-1";
    const char *out, **removed;
    size_t n_removed;
    CHECK(analysis_verify_citations(similar, cases, 2, &a, &out, &removed, &n_removed) == MD_OK);
    CHECK_EQ_STR(out, "Case [PMID 1001] and; also [patient 1002-1] and [Figure 1].");
    CHECK_EQ_INT(n_removed, 2);
    if (n_removed == 2) {
        CHECK_EQ_STR(removed[0], "PMID 9999");
        CHECK_EQ_STR(removed[1], "PMID 4242");
    }
    CHECK(analysis_verify_citations("see [case 12] and [case 13]", cases, 2, &a, &out, &removed, &n_removed) == MD_OK);
    CHECK_EQ_STR(out, "see [case 12] and");
    CHECK_EQ_INT(n_removed, 1);
    CHECK(analysis_verify_citations("no brackets [ here", cases, 2, &a, &out, &removed, &n_removed) == MD_OK);
    CHECK_EQ_STR(out, "no brackets [ here");
    CHECK_EQ_INT(n_removed, 0);
    md_arena_free(&a);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/medify-test-analysis-%d", (int)getpid());
    snprintf(g_empty, sizeof g_empty, "/tmp/medify-test-analysis-empty-%d", (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s' '%s'", g_dir, g_empty, g_dir, g_empty);
    if (system(cmd) != 0) return 1;
    md_kb *kb = mini_kb_load();
    CHECK(kb != NULL);
    bool ok = make_data_dir();
    CHECK(ok);
    if (kb && ok) {
        test_emergency_report(kb);
        test_no_index(kb);
        test_sex_filter();
        test_threads(kb);
        test_oom(kb);
    }
    test_split_and_citations();
    md_kb_free(kb);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", g_dir, g_empty);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return check_report("test_analysis");
}
