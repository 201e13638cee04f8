/* Reading the golden TSV suites: header line, then tab-separated rows. */
#ifndef MEDIFY_TESTS_TSV_H
#define MEDIFY_TESTS_TSV_H

#include <stddef.h>

typedef struct tsv_row {
    char *fields[8];
    size_t n_fields;
    int line;
} tsv_row;

typedef struct tsv {
    char *data;
    tsv_row *rows;
    size_t n_rows;
} tsv;

/* Loads $MEDIFY_SOURCE_DIR/tests/golden/<name> (or ./tests/golden/<name>). Returns 0 on
 * success; prints the reason and returns -1 otherwise. Free with tsv_free. */
int tsv_load(const char *name, size_t n_fields, tsv *out);
void tsv_free(tsv *t);

#endif
