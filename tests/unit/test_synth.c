/* Synthetic cases: reproducible per seed, valid PMC-Patients CSV, diagnoses from the
 * KB, plausible ages and sexes, links within a condition. */
#include <stdlib.h>

#include "check.h"
#include "medify/synth.h"

/* Minimal RFC 4180 reader: counts fields per record; returns records or -1. */
static long count_csv(const char *s, int want_fields) {
    long records = 0;
    int fields = 1;
    bool quoted = false;
    for (const char *p = s; *p; p++) {
        if (quoted) {
            if (*p == '"' && p[1] == '"') p++;
            else if (*p == '"') quoted = false;
        } else if (*p == '"') {
            quoted = true;
        } else if (*p == ',') {
            fields++;
        } else if (*p == '\n') {
            if (fields != want_fields) return -1;
            records++;
            fields = 1;
        }
    }
    return quoted ? -1 : records;
}

static char *csv_of(const md_kb *kb, uint64_t seed, uint64_t n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    md_synth_params p = md_synth_default_params();
    p.seed = seed;
    CHECK(md_synth_write_csv(kb, p, n, f, NULL) == MD_OK);
    fclose(f);
    return buf;
}

/* Case reports are written like a clinician's: the patients' misspellings that the KB
 * keeps for matching ("sneazing", "diarea", "nausious") never appear in them. */
static void test_no_patient_misspellings(const md_kb *kb) {
    char *csv = csv_of(kb, 11, 3000);
    static const char *const misspelt[] = {"sneazing", "diarea", "nausious", "stomache", "headach ", "vomitting"};
    for (size_t i = 0; csv && i < sizeof misspelt / sizeof misspelt[0]; i++)
        CHECK_MSG(strstr(csv, misspelt[i]) == NULL, "synthetic text contains '%s'", misspelt[i]);
    free(csv);
}

int main(void) {
    md_kb *kb = NULL;
    md_error err = {0};
    if (md_kb_load_embedded(&kb, &err) != MD_OK) {
        fprintf(stderr, "kb: %s\n", err.message);
        return 1;
    }
    char *a = csv_of(kb, 7, 200), *b = csv_of(kb, 7, 200), *c = csv_of(kb, 8, 200);
    CHECK(strcmp(a, b) == 0);
    CHECK(strcmp(a, c) != 0);
    CHECK(strncmp(a, md_synth_csv_header(), strlen(md_synth_csv_header())) == 0);
    CHECK_EQ_INT(count_csv(a, 10), 201);
    free(a);
    free(b);
    free(c);

    md_synth *s = NULL;
    md_synth_params p = md_synth_default_params();
    p.seed = 42;
    CHECK(md_synth_new(kb, p, &s, NULL) == MD_OK);
    size_t n = 2000, n_female = 0, n_child = 0, n_older = 0, n_linked = 0;
    size_t *per_cond = calloc(md_kb_n_conditions(kb), sizeof(size_t));
    md_buf row;
    md_buf_init(&row);
    for (size_t i = 0; i < n; i++) {
        md_synth_case k;
        CHECK(md_synth_next(s, &k, NULL) == MD_OK);
        CHECK(k.condition < md_kb_n_conditions(kb));
        const md_kb_condition *cond = md_kb_condition_at(kb, k.condition);
        per_cond[k.condition]++;
        /* the diagnosis sentence names the KB condition */
        char name[256];
        snprintf(name, sizeof name, "%s", cond->name);
        char *paren = strstr(name, " (");
        if (paren) *paren = '\0';
        if (name[0] >= 'A' && name[0] <= 'Z' && !(name[1] >= 'A' && name[1] <= 'Z')) name[0] += 'a' - 'A';
        CHECK_MSG(strstr(k.text, name) != NULL, "case %zu lacks '%s'", i, name);
        /* demographics: the condition is possible for this sex and age band */
        CHECK(k.age_years >= 0 && k.age_years < 100);
        CHECK(k.sex == MD_SEX_FEMALE || k.sex == MD_SEX_MALE);
        CHECK(cond->sex_multiplier[k.sex] > 0);
        CHECK(cond->prior[md_age_band_of(k.age_years)] > 0);
        CHECK_EQ_STR(k.gender, k.sex == MD_SEX_FEMALE ? "F" : "M");
        CHECK(k.age_literal[0] == '[' && k.age_literal[1] == '[' && strstr(k.age_literal, ".0, '"));
        CHECK(k.n_summary_bytes > 20 && k.n_summary_bytes <= strlen(k.text));
        CHECK(md_utf8_valid(k.text, strlen(k.text), NULL));
        n_female += k.sex == MD_SEX_FEMALE;
        n_child += k.age_years < 13;
        n_older += k.age_years >= 65;
        if (strcmp(k.similar_patients, "{}") != 0) n_linked++;
        md_buf_clear(&row);
        md_synth_case_to_csv(&k, &row);
        CHECK_EQ_INT(count_csv(row.data, 10), 1);
    }
    CHECK(n_female > n * 35 / 100 && n_female < n * 65 / 100);
    CHECK(n_child > n / 20 && n_older > n / 20);
    CHECK(n_linked > n / 2);
    size_t n_used = 0;
    for (size_t i = 0; i < md_kb_n_conditions(kb); i++) n_used += per_cond[i] > 0;
    CHECK(n_used > md_kb_n_conditions(kb) / 2);
    free(per_cond);
    md_buf_free(&row);
    md_synth_free(s);
    test_no_patient_misspellings(kb);
    md_kb_free(kb);
    return check_report("test_synth");
}
