/* md_ingest_file beyond PMC CSV: the PMC-Patients JSON array (JSON values and
 * Python-literal strings alike), JSON lines, CSV with a column mapping, format
 * detection, resuming from a saved import state in each streaming reader (CSV, JSON
 * array, JSON lines), and whole-file failures (empty, header only, missing PMC
 * columns, truncated JSON) that leave the store untouched. */
#define _GNU_SOURCE /* fopencookie, memmem */
#include "check.h"
#include "medify/base.h"
#include "medify/ingest.h"
#include "medify/store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];
static int g_n_stores;

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static md_store *fresh_store(void) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/store%d", g_dir, g_n_stores++);
    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(dir, &s, &err), MD_OK);
    return s;
}

static md_ingest_params params(void) {
    md_ingest_params p = md_ingest_default_params();
    p.data_dir = g_dir;
    p.max_bad_fraction = 0.5;
    p.batch_rows = 2;
    return p;
}

static int64_t count(md_store *s) {
    int64_t n = -1;
    md_error err = {0};
    md_store_case_count(s, &n, &err);
    return n;
}

static const char k_pmc_json[] =
    "[\n"
    "  {\"patient_id\": 1, \"patient_uid\": \"11-1\", \"PMID\": \"11\", \"file_path\": \"a.xml\", \"title\": \"T1\",\n"
    "   \"patient\": \"A 50-year-old man with {braces} and \\\"quotes\\\" in text.\", \"age\": [[50.0, \"year\"]],\n"
    "   \"gender\": \"M\", \"relevant_articles\": {\"5\": 1}, \"similar_patients\": {}},\n"
    "  {\"patient_id\": 2, \"patient_uid\": \"12-1\", \"PMID\": \"12\", \"file_path\": \"b.xml\", \"title\": \"T2\",\n"
    "   \"patient\": \"A 2-month-old girl.\", \"age\": \"[[2.0, 'month']]\", \"gender\": \"F\",\n"
    "   \"relevant_articles\": \"{'6': 2}\", \"similar_patients\": \"{'11-1': 1}\"},\n"
    "  {\"patient_uid\": \"13-1\", \"patient\": \"Bad gender.\", \"age\": [[1.0, \"year\"]], \"gender\": \"Q\"},\n"
    "  {\"patient_uid\": \"14-1\", \"patient\": \"A third good one.\", \"age\": [[70.0, \"year\"]], \"gender\": \"F\"}\n"
    "]\n";

static void test_pmc_json(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/cases.json", g_dir);
    write_file(path, k_pmc_json);
    md_store *s = fresh_store();
    md_ingest_report rep;
    md_error err = {0};
    md_status st = md_ingest_file(s, path, params(), &rep, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_INT(rep.format, MD_INGEST_FORMAT_PMC_JSON);
    CHECK_EQ_INT(rep.n_rows, 4);
    CHECK_EQ_INT(rep.n_imported, 3);
    CHECK_EQ_INT(rep.n_quarantined, 1);
    md_arena a;
    md_arena_init(&a, 0);
    int64_t id;
    md_case_record rec;
    CHECK_EQ_INT(md_store_case_find_external(s, "11-1", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK_EQ_STR(rec.text, "A 50-year-old man with {braces} and \"quotes\" in text.");
    CHECK_EQ_STR(rec.relevant_articles_json, "{\"5\":1}");
    CHECK_NEAR(rec.age_years, 50, 0);
    CHECK_EQ_INT(md_store_case_find_external(s, "12-1", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK_NEAR(rec.age_years, 2.0 / 12.0, 1e-12);
    CHECK_EQ_STR(rec.similar_patients_json, "{\"11-1\":1}");
    md_arena_free(&a);

    /* Quarantine went to DATA_DIR/quarantine/cases.json.tsv by default. */
    char qpath[500];
    snprintf(qpath, sizeof qpath, "%s/quarantine/cases.json.tsv", g_dir);
    CHECK_EQ_STR(rep.quarantine_path, qpath);
    FILE *q = fopen(qpath, "r");
    char line[256] = "";
    CHECK(q && fgets(line, sizeof line, q) && fgets(line, sizeof line, q));
    CHECK_EQ_STR(line, "8\t13-1\tgender: expected M or F\n");
    if (q) fclose(q);

    /* Resume: a fresh store with the state saved after the first object. */
    md_store *s2 = fresh_store();
    const char *first_end = strstr(k_pmc_json, "similar_patients\": {}}") + strlen("similar_patients\": {}}");
    md_import_state state = {.byte_offset = (uint64_t)(first_end - k_pmc_json), .line = 4, .n_imported = 1};
    CHECK_EQ_INT(md_store_import_put(s2, rep.import_key, &state, &err), MD_OK);
    st = md_ingest_file(s2, path, params(), &rep, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK(rep.resumed);
    CHECK_EQ_INT(rep.resumed_at_line, 4);
    CHECK_EQ_INT(rep.n_imported_this_run, 2);
    CHECK_EQ_INT(rep.n_imported, 3);
    CHECK_EQ_INT(count(s2), 2);
    CHECK_EQ_INT(md_store_case_find_external(s2, "11-1", &id, &err), MD_ERR_NOT_FOUND);
    md_store_close(s2);

    /* Truncated array: fatal, and the validation pass keeps the store untouched. */
    char trunc[400];
    snprintf(trunc, sizeof trunc, "%s/trunc.json", g_dir);
    char *cut = strdup(k_pmc_json);
    cut[strlen(cut) - 40] = '\0';
    write_file(trunc, cut);
    free(cut);
    md_store *s3 = fresh_store();
    st = md_ingest_file(s3, trunc, params(), &rep, &err);
    CHECK_EQ_INT(st, MD_ERR_PARSE);
    CHECK_EQ_INT(count(s3), 0);
    md_store_close(s3);
    md_store_close(s);
}

static void test_jsonl(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/cases.jsonl", g_dir);
    const char *text = "{\"id\": \"j1\", \"text\": \"First line case.\", \"age\": 33, \"sex\": \"female\"}\n"
                       "\n"
                       "{\"id\": \"j2\", \"text\": \"Second line case.\", \"age\": 4.5, \"sex\": \"male\", \"pmid\": 77}\n"
                       "{\"id\": \"j3\", \"text\": broken}\n"
                       "{\"id\": \"j4\", \"text\": \"Fourth line case.\"}\n";
    write_file(path, text);
    md_store *s = fresh_store();
    md_ingest_report rep;
    md_error err = {0};
    md_status st = md_ingest_file(s, path, params(), &rep, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_INT(rep.format, MD_INGEST_FORMAT_JSONL);
    CHECK_EQ_INT(rep.n_rows, 4);
    CHECK_EQ_INT(rep.n_imported, 3);
    CHECK_EQ_INT(rep.n_quarantined, 1);
    md_arena a;
    md_arena_init(&a, 0);
    int64_t id;
    md_case_record rec;
    CHECK_EQ_INT(md_store_case_find_external(s, "j2", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK_NEAR(rec.age_years, 4.5, 0);
    CHECK_EQ_STR(rec.pmid, "77");
    CHECK_EQ_STR(rec.sex, "male");
    CHECK_EQ_STR(rec.source, "jsonl");
    md_arena_free(&a);
    FILE *q = fopen(rep.quarantine_path, "r");
    char line[256] = "";
    CHECK(q && fgets(line, sizeof line, q) && fgets(line, sizeof line, q));
    CHECK(strncmp(line, "4\t\tinvalid JSON: ", 17) == 0);
    if (q) fclose(q);

    /* Resume after line 3 (the blank line counted). */
    md_store *s2 = fresh_store();
    const char *third = strstr(text, "{\"id\": \"j3\"");
    md_import_state state = {.byte_offset = (uint64_t)(third - text), .line = 4, .n_imported = 2};
    CHECK_EQ_INT(md_store_import_put(s2, rep.import_key, &state, &err), MD_OK);
    st = md_ingest_file(s2, path, params(), &rep, &err);
    CHECK_EQ_INT(st, MD_OK);
    CHECK_EQ_INT(rep.n_imported_this_run, 1);
    CHECK_EQ_INT(rep.n_quarantined, 1);
    CHECK_EQ_INT(count(s2), 1);
    md_store_close(s2);
    md_store_close(s);
}

static void test_mapped_csv(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/notes.csv", g_dir);
    const char *text = "uid,note,years,sex,extra\n"
                       "n1,\"Cough, fever.\",12,F,x\n"
                       "n2,Headache.,\"[[3.0, 'day']]\",,y\n"
                       "n3,Bad age.,twelve,M,z\n"
                       "n4,Resumed here.,40,male,w\n";
    write_file(path, text);
    md_store *s = fresh_store();
    md_ingest_report rep;
    md_error err = {0};
    md_ingest_params p = params();
    p.columns.text = "note";
    p.columns.id = "uid";
    p.columns.age = "years";
    md_status st = md_ingest_file(s, path, p, &rep, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    CHECK_EQ_INT(rep.format, MD_INGEST_FORMAT_CSV);
    CHECK_EQ_INT(rep.n_imported, 3);
    CHECK_EQ_INT(rep.n_quarantined, 1);
    md_arena a;
    md_arena_init(&a, 0);
    int64_t id;
    md_case_record rec;
    CHECK_EQ_INT(md_store_case_find_external(s, "n1", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK_EQ_STR(rec.text, "Cough, fever.");
    CHECK_NEAR(rec.age_years, 12, 0);
    CHECK_EQ_STR(rec.sex, "female"); /* default column name 'sex' */
    CHECK_EQ_INT(md_store_case_find_external(s, "n2", &id, &err), MD_OK);
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &rec, &err), MD_OK);
    CHECK(rec.sex == NULL);
    CHECK_NEAR(rec.age_years, 3.0 / 365.25, 1e-12);
    md_arena_free(&a);

    /* Resume inside a CSV: the header is still read for the mapping. */
    md_store *s2 = fresh_store();
    const char *n4 = strstr(text, "n4,");
    md_import_state state = {.byte_offset = (uint64_t)(n4 - text), .line = 5, .n_imported = 2, .n_quarantined = 1};
    CHECK_EQ_INT(md_store_import_put(s2, rep.import_key, &state, &err), MD_OK);
    st = md_ingest_file(s2, path, p, &rep, &err);
    CHECK_EQ_INT(st, MD_OK);
    CHECK_EQ_INT(rep.n_imported_this_run, 1);
    CHECK_EQ_INT(md_store_case_find_external(s2, "n4", &id, &err), MD_OK);
    CHECK_EQ_INT(count(s2), 1);
    md_store_close(s2);

    /* A mapped column that does not exist is an error before anything is stored. */
    md_store *s3 = fresh_store();
    p.columns.pmid = "nope";
    CHECK_EQ_INT(md_ingest_file(s3, path, p, &rep, &err), MD_ERR_PARSE);
    CHECK(strstr(err.message, "no column 'nope'") != NULL);
    CHECK_EQ_INT(count(s3), 0);
    md_store_close(s3);
    md_store_close(s);
}

static void test_whole_file_failures(void) {
    md_store *s = fresh_store();
    md_ingest_report rep;
    md_error err = {0};
    char path[400];
    snprintf(path, sizeof path, "%s/empty.csv", g_dir);
    write_file(path, "");
    CHECK_EQ_INT(md_ingest_file(s, path, params(), &rep, &err), MD_ERR_EMPTY);
    write_file(path, "patient_id,patient_uid,PMID,file_path,title,patient,age,gender,relevant_articles,similar_patients\n");
    CHECK_EQ_INT(md_ingest_file(s, path, params(), &rep, &err), MD_ERR_EMPTY);
    md_ingest_params p = params();
    p.format = MD_INGEST_FORMAT_PMC_CSV;
    write_file(path, "patient_uid,patient,age\nx,y,z\n");
    CHECK_EQ_INT(md_ingest_file(s, path, p, &rep, &err), MD_ERR_PARSE);
    CHECK(strstr(err.message, "missing column(s) PMID, title, gender") != NULL);
    snprintf(path, sizeof path, "%s/does-not-exist.csv", g_dir);
    CHECK_EQ_INT(md_ingest_file(s, path, params(), &rep, &err), MD_ERR_NOT_FOUND);
    p = params();
    p.batch_rows = 0;
    CHECK_EQ_INT(md_ingest_file(s, path, p, &rep, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(count(s), 0);
    md_ingest_format f;
    CHECK(md_ingest_format_parse("pmc-json", &f) && f == MD_INGEST_FORMAT_PMC_JSON);
    CHECK(!md_ingest_format_parse("xml", &f));
    CHECK_EQ_STR(md_ingest_format_name(MD_INGEST_FORMAT_JSONL), "jsonl");
    md_store_close(s);
}

/* Two imports of one file into one store: when another process moves the saved
 * progress between two batches of ours, our next batch stops with MD_ERR_CONFLICT.
 * The "other process" is a second store handle, driven from the progress log (a
 * fopencookie stream whose writes arrive right after each commit). */
typedef struct racer {
    md_store *other;
    const char *key;
    int n_moves;
} racer;

static ssize_t racer_write(void *cookie, const char *buf, size_t size) {
    racer *rc = cookie;
    if (memmem(buf, size, "import batch committed", 22) && rc->n_moves == 0) {
        md_import_state moved = {.byte_offset = 1, .line = 1};
        md_error err = {0};
        CHECK_EQ_INT(md_store_import_put(rc->other, rc->key, &moved, &err), MD_OK);
        rc->n_moves++;
    }
    return (ssize_t)size;
}

static void test_conflict(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/conflict.jsonl", g_dir);
    write_file(path, "{\"id\": \"c1\", \"text\": \"One.\"}\n{\"id\": \"c2\", \"text\": \"Two.\"}\n"
                     "{\"id\": \"c3\", \"text\": \"Three.\"}\n");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/conflict-store", g_dir);
    md_store *s = NULL, *other = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(dir, &s, &err), MD_OK);
    CHECK_EQ_INT(md_store_open(dir, &other, &err), MD_OK);
    md_ingest_params p = params();
    p.batch_rows = 1;
    md_ingest_report rep;
    /* A first run only to learn the import key, then start over. */
    CHECK_EQ_INT(md_ingest_file(s, path, p, &rep, &err), MD_OK);
    racer rc = {.other = other, .key = rep.import_key};
    cookie_io_functions_t io = {.write = racer_write};
    FILE *log_stream = fopencookie(&rc, "w", io);
    setvbuf(log_stream, NULL, _IONBF, 0);
    md_logger lg = md_logger_default();
    lg.out = log_stream;
    lg.min_level = MD_LOG_LEVEL_INFO;
    p.log = &lg;
    p.restart = true;
    md_status st = md_ingest_file(s, path, p, &rep, &err);
    CHECK_EQ_INT(st, MD_ERR_CONFLICT);
    CHECK(strstr(err.message, "another import") != NULL);
    CHECK_EQ_INT(rc.n_moves, 1);
    fclose(log_stream);
    md_store_close(other);
    md_store_close(s);
}

/* Every md_malloc in an import may fail: the result is MD_OK or MD_ERR_NOMEM, nothing
 * leaks (ASan), and after a failure a clean rerun completes the same import. */
static void test_oom(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/oom.csv", g_dir);
    write_file(path, "patient_id,patient_uid,PMID,file_path,title,patient,age,gender,relevant_articles,similar_patients\n"
                     "1,1-1,1,a,T,\"First, case.\",\"[[1.0, 'year']]\",F,\"{'1': 1}\",{}\n"
                     "2,2-1,2,b,T,Second case.,\"[[2.0, 'month']]\",M,{},\"{'1-1': 2}\"\n"
                     "3,3-1,3,c,T,Bad case.,\"[[2.0, 'eon']]\",M,{},{}\n");
    md_store *s = fresh_store();
    int n_nomem = 0;
    for (uint64_t n = 1; n < 200; n++) {
        md_ingest_report rep;
        md_error err = {0};
        md_ingest_params p = params();
        p.batch_rows = 1;
        p.restart = true;
        md_alloc_fail_after(n, true);
        md_status st = md_ingest_file(s, path, p, &rep, &err);
        bool failed = md_alloc_failed();
        md_alloc_fail_after(0, false);
        CHECK_MSG(st == MD_OK || st == MD_ERR_NOMEM, "n=%llu: %d %s", (unsigned long long)n, st, err.message);
        if (st == MD_ERR_NOMEM) n_nomem++;
        if (!failed) break;
    }
    CHECK(n_nomem > 3);
    md_ingest_report rep;
    md_error err = {0};
    md_ingest_params p = params();
    p.restart = true;
    CHECK_EQ_INT(md_ingest_file(s, path, p, &rep, &err), MD_OK);
    CHECK_EQ_INT(count(s), 2);
    md_store_close(s);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/medify_test_import_%d", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", g_dir, g_dir);
    CHECK(system(cmd) == 0);
    test_pmc_json();
    test_jsonl();
    test_mapped_csv();
    test_whole_file_failures();
    test_conflict();
    test_oom();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0);
    return check_report("test_import");
}
