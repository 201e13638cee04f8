#include "tsv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "medify/base.h"

int tsv_load(const char *name, size_t n_fields, tsv *out) {
    memset(out, 0, sizeof *out);
    const char *dir = getenv("MEDIFY_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/%s", dir ? dir : ".", name);
    size_t n = 0;
    md_error err = {0};
    if (md_read_file(path, 16u << 20, &out->data, &n, &err) != MD_OK) {
        fprintf(stderr, "cannot read %s: %s\n", path, err.message);
        return -1;
    }
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        if (out->data[i] == '\n') cap++;
    out->rows = calloc(cap, sizeof *out->rows);
    if (!out->rows) return -1;
    int line = 0;
    char *save = NULL;
    for (char *l = strtok_r(out->data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t len = strlen(l);
        if (len && l[len - 1] == '\r') l[len - 1] = '\0';
        if (line == 1 || l[0] == '\0' || l[0] == '#') continue; /* header, blanks, comments */
        tsv_row *r = &out->rows[out->n_rows];
        r->line = line;
        char *p = l;
        while (p && r->n_fields < 8) {
            char *tab = strchr(p, '\t');
            if (tab) *tab = '\0';
            r->fields[r->n_fields++] = p;
            p = tab ? tab + 1 : NULL;
        }
        if (r->n_fields != n_fields) {
            fprintf(stderr, "%s:%d: expected %zu fields, got %zu\n", path, line, n_fields, r->n_fields);
            return -1;
        }
        out->n_rows++;
    }
    return 0;
}

void tsv_free(tsv *t) {
    md_free(t->data);
    free(t->rows);
    memset(t, 0, sizeof *t);
}
