/* Imports tests/corrupt/csv/hostile.csv, a hand-made PMC-Patients CSV with one row per
 * failure class (bad age unit, malformed age, invalid UTF-8, missing fields, empty
 * text, missing uid, bad gender, broken quotes, huge field, wrong column count, bad
 * dicts, negative age, non-numeric PMID, unterminated quote), and checks:
 *   - the quarantine report line by line (line number, id, reason);
 *   - with the default threshold the import fails and the store stays empty;
 *   - with the threshold lifted, the good rows are stored with every field, the
 *     re-wrapped copy of a text counts as a duplicate;
 *   - a second run adds nothing; --restart re-offers every row as a duplicate. */
#include "check.h"
#include "medify/base.h"
#include "medify/ingest.h"
#include "medify/store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const k_expected_quarantine[] = {
    "line\tid\treason",
    "5\t1003-1\tage: unknown unit 'decade'",
    "6\t1004-1\tage: expected ',' or ']'",
    "7\t\tinvalid UTF-8 in field 6 at byte 23",
    "8\t\texpected 10 fields, found 8",
    "9\t1007-1\tmissing text (patient)",
    "10\t\tmissing patient_uid",
    "11\t1009-1\tgender: expected M or F",
    "12\t\tquote inside an unquoted field",
    "13\t\ttext after the closing quote of a field",
    "14\t\tfield 6 is longer than 8192 bytes",
    "15\t\texpected 10 fields, found 12",
    "16\t1014-1\trelevant_articles: dict: expected ',' or '}'",
    "17\t1015-1\tage: negative value",
    "20\t1018-1\tsimilar_patients: dict: expected a number",
    "21\t1019-1\tPMID is not a number",
    "23\t\tunterminated quoted field (field 6) runs to end of file",
};

static char g_dir[256];

static void check_quarantine(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "no quarantine file %s", path);
    if (!f) return;
    char line[1024];
    size_t i = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (i < MD_ARRAY_LEN(k_expected_quarantine))
            CHECK_MSG(strcmp(line, k_expected_quarantine[i]) == 0, "quarantine line %zu: got '%s', want '%s'", i + 1,
                      line, k_expected_quarantine[i]);
        i++;
    }
    CHECK_EQ_INT(i, MD_ARRAY_LEN(k_expected_quarantine));
    fclose(f);
}

static md_ingest_params params(const char *qpath) {
    md_ingest_params p = md_ingest_default_params();
    p.data_dir = g_dir;
    p.quarantine_path = qpath;
    p.max_field_bytes = 8192; /* the huge field is 10,012 bytes */
    p.batch_rows = 3;
    return p;
}

int main(void) {
    const char *src = getenv("MEDIFY_SOURCE_DIR");
    char csv[512], qpath[512];
    snprintf(csv, sizeof csv, "%s/tests/corrupt/csv/hostile.csv", src ? src : ".");
    snprintf(g_dir, sizeof g_dir, "/tmp/medify_test_hostile_%d", (int)getpid());
    snprintf(qpath, sizeof qpath, "%s/q.tsv", g_dir);
    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(g_dir, &s, &err), MD_OK);
    if (!s) return check_report("test_import_hostile");

    /* Default threshold (1% of rows): fails, stores nothing, still reports. */
    md_ingest_report rep;
    md_status st = md_ingest_file(s, csv, params(qpath), &rep, &err);
    CHECK_EQ_INT(st, MD_ERR_LIMIT);
    CHECK(strstr(err.message, "16 of 21 rows are bad") != NULL);
    CHECK_EQ_INT(rep.n_rows, 21);
    CHECK_EQ_INT(rep.n_quarantined, 16);
    CHECK_EQ_INT(rep.n_imported, 0);
    int64_t n = -1;
    md_store_case_count(s, &n, &err);
    CHECK_EQ_INT(n, 0);
    check_quarantine(qpath);
    /* A count limit alone fails too. */
    md_ingest_params p = params(qpath);
    p.max_bad_fraction = 1.0;
    p.max_bad_rows = 15;
    CHECK_EQ_INT(md_ingest_file(s, csv, p, &rep, &err), MD_ERR_LIMIT);

    /* Threshold lifted: the good rows go in. */
    p.max_bad_rows = UINT64_MAX;
    st = md_ingest_file(s, csv, p, &rep, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_INT(rep.format, MD_INGEST_FORMAT_PMC_CSV); /* detected */
    CHECK_EQ_INT(rep.n_rows, 21);
    CHECK_EQ_INT(rep.n_imported, 4);
    CHECK_EQ_INT(rep.n_duplicates, 1);
    CHECK_EQ_INT(rep.n_quarantined, 16);
    CHECK(rep.peak_rss_bytes > 0);
    check_quarantine(qpath);
    md_store_case_count(s, &n, &err);
    CHECK_EQ_INT(n, 4);

    md_arena a;
    md_arena_init(&a, 0);
    int64_t id = 0;
    md_case_record rec;
    CHECK_EQ_INT(md_store_case_find_external(s, "1002-1", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK_EQ_STR(rec.text, "An 18-month-old girl had a barking cough.\nStridor at rest, worse at night.");
    CHECK_NEAR(rec.age_years, 1.5, 1e-12);
    CHECK_EQ_STR(rec.sex, "female");
    CHECK_EQ_STR(rec.pmid, "1002");
    CHECK_EQ_STR(rec.title, "Croup, a case");
    CHECK_EQ_STR(rec.source, "pmc-patients");
    CHECK_EQ_STR(rec.relevant_articles_json, "{\"111\":1}");
    CHECK_EQ_STR(rec.similar_patients_json, "{}");
    CHECK_EQ_INT(md_store_case_find_external(s, "1001-1", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK_EQ_STR(rec.relevant_articles_json, "{\"2001\":2,\"2002\":1}");
    CHECK_EQ_STR(rec.similar_patients_json, "{\"1002-1\":2}");
    CHECK_EQ_STR(rec.sex, "male");
    CHECK_EQ_INT(md_store_case_find_external(s, "1020-1", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK_NEAR(rec.age_years, 21.0 / 365.25, 1e-12);
    CHECK_EQ_INT(md_store_case_find_external(s, "1017-1", &id, &err), MD_ERR_NOT_FOUND); /* the duplicate */
    md_arena_free(&a);

    /* Second run: nothing to do. */
    st = md_ingest_file(s, csv, p, &rep, &err);
    CHECK_EQ_INT(st, MD_OK);
    CHECK(rep.already_done);
    CHECK_EQ_INT(rep.n_imported_this_run, 0);
    md_store_case_count(s, &n, &err);
    CHECK_EQ_INT(n, 4);
    /* Restart: every good row is offered again and found stored. */
    p.restart = true;
    st = md_ingest_file(s, csv, p, &rep, &err);
    CHECK_EQ_INT(st, MD_OK);
    CHECK_EQ_INT(rep.n_imported, 0);
    CHECK_EQ_INT(rep.n_duplicates, 5);
    md_store_case_count(s, &n, &err);
    CHECK_EQ_INT(n, 4);
    md_store_close(s);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0);
    return check_report("test_import_hostile");
}
