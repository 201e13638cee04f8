/* The red-flag phrase suite (tests/golden/redflags.tsv) over the shipped knowledge
 * base: every expected flag must fire; rows expecting `none` must fire nothing.
 * Prints pass counts per category and every failure with its line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "medify/clinical.h"
#include "tsv.h"

typedef struct cat_count {
    char name[32];
    int total, passed;
} cat_count;

int main(int argc, char **argv) {
    bool verbose = argc > 1 && strcmp(argv[1], "--verbose") == 0;
    tsv t;
    if (tsv_load("redflags.tsv", 5, &t) != 0) return 1;
    md_kb *kb = NULL;
    md_error err = {0};
    if (md_kb_load_default(NULL, &kb, &err) != MD_OK) {
        fprintf(stderr, "knowledge base: %s\n", err.message);
        return 1;
    }
    cat_count cats[16];
    memset(cats, 0, sizeof cats);
    size_t n_cats = 0;
    int failed = 0;
    for (size_t i = 0; i < t.n_rows; i++) {
        const tsv_row *r = &t.rows[i];
        const char *cat = r->fields[0], *expected = r->fields[1], *text = r->fields[4];
        double age = strcmp(r->fields[2], "-") == 0 ? -1 : atof(r->fields[2]);
        md_sex sex = MD_SEX_UNKNOWN;
        md_sex_parse(r->fields[3], &sex);
        md_case *c = md_case_new(kb);
        md_assessment a;
        bool ok = c && md_case_add_text(c, text, strlen(text), &err) == MD_OK;
        if (ok) {
            md_case_set_patient(c, age, sex);
            ok = md_assess(c, md_assess_default_params(), &a, &err) == MD_OK;
        }
        char fired[512] = "";
        bool pass = false;
        if (ok) {
            for (size_t k = 0; k < a.n_redflags; k++) {
                const char *id = md_kb_redflag_at(kb, a.redflags[k].redflag)->id;
                strncat(fired, k ? "," : "", sizeof fired - strlen(fired) - 1);
                strncat(fired, id, sizeof fired - strlen(fired) - 1);
            }
            if (strcmp(expected, "none") == 0) {
                pass = a.n_redflags == 0;
            } else {
                pass = true;
                char exp[256];
                snprintf(exp, sizeof exp, "%s", expected);
                char *save = NULL;
                for (char *id = strtok_r(exp, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
                    if (md_kb_redflag_find(kb, id) < 0) {
                        fprintf(stderr, "redflags.tsv:%d: unknown red flag '%s'\n", r->line, id);
                        pass = false;
                        continue;
                    }
                    bool hit = false;
                    for (size_t k = 0; k < a.n_redflags; k++)
                        if (strcmp(md_kb_redflag_at(kb, a.redflags[k].redflag)->id, id) == 0) hit = true;
                    if (!hit) pass = false;
                }
            }
            md_assessment_free(&a);
        }
        md_case_free(c);
        size_t ci;
        for (ci = 0; ci < n_cats; ci++)
            if (strcmp(cats[ci].name, cat) == 0) break;
        if (ci == n_cats && n_cats < 16) snprintf(cats[n_cats++].name, sizeof cats[0].name, "%s", cat);
        if (ci < 16) {
            cats[ci].total++;
            cats[ci].passed += pass;
        }
        if (!pass) {
            failed++;
            fprintf(stderr, "redflags.tsv:%d: [%s] expected %s, fired %s: %s\n", r->line, cat, expected,
                    fired[0] ? fired : "none", text);
        } else if (verbose) {
            printf("ok %d: %s -> %s\n", r->line, text, fired[0] ? fired : "none");
        }
    }
    printf("red-flag suite: %zu phrasings\n", t.n_rows);
    for (size_t ci = 0; ci < n_cats; ci++)
        printf("  %-14s %3d/%3d\n", cats[ci].name, cats[ci].passed, cats[ci].total);
    printf("%zu passed, %d failed\n", t.n_rows - (size_t)failed, failed);
    md_kb_free(kb);
    tsv_free(&t);
    return failed ? 1 : 0;
}
