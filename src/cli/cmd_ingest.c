/* medify ingest FILE: import case files (PMC-Patients CSV/JSON, JSONL, mapped CSV)
 * into the store. The import itself is md_ingest_file (include/medify/ingest.h); this
 * file parses flags, opens the store and prints the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "medify/ingest.h"
#include "medify/store.h"

static const char k_usage[] =
    "usage: medify ingest FILE [--format auto|pmc-csv|pmc-json|jsonl|csv] [--data-dir DIR] [--json]\n"
    "                          [--quarantine FILE] [--max-bad-fraction F] [--max-bad-rows N]\n"
    "                          [--batch-rows N] [--columns text=COL,id=COL,age=COL,sex=COL,title=COL,pmid=COL]\n"
    "                          [--restart] [--log-level debug|info|warn|error|off]\n"
    "Imports cases into DIR (default $MEDIFY_DATA, else ./medify-data). Bad rows go to the\n"
    "quarantine file (default DIR/quarantine/<file name>.tsv) with line and reason; when more\n"
    "than F of the rows (default 0.01) or N rows are bad, nothing is imported. An interrupted\n"
    "import resumes where its last batch committed; a finished one is not re-read (--restart\n"
    "offers every row again; stored texts count as duplicates).\n";

static int usage_fail(const char *fmt, const char *arg) {
    fprintf(stderr, "medify: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

/* "text=note,id=uid": fills cols with pointers into the (modifiable) spec. */
static bool parse_columns(char *spec, md_ingest_columns *cols) {
    for (char *item = strtok(spec, ","); item; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1]) return false;
        *eq = '\0';
        const char *name = eq + 1;
        if (strcmp(item, "text") == 0) cols->text = name;
        else if (strcmp(item, "id") == 0) cols->id = name;
        else if (strcmp(item, "age") == 0) cols->age = name;
        else if (strcmp(item, "sex") == 0) cols->sex = name;
        else if (strcmp(item, "title") == 0) cols->title = name;
        else if (strcmp(item, "pmid") == 0) cols->pmid = name;
        else return false;
    }
    return true;
}

static void print_report(const md_ingest_report *r, md_status st, const md_error *err, bool json) {
    if (json) {
        md_buf b;
        md_buf_init(&b);
        md_buf_appendf(&b, "{\"ok\":%s,\"format\":\"%s\",\"rows\":%llu,\"imported\":%llu,\"duplicates\":%llu,"
                           "\"quarantined\":%llu,\"imported_this_run\":%llu,\"resumed\":%s,\"resumed_at_line\":%llu,"
                           "\"already_done\":%s,\"seconds\":%.3f,\"peak_rss_bytes\":%llu,\"quarantine\":",
                       st == MD_OK ? "true" : "false", md_ingest_format_name(r->format), (unsigned long long)r->n_rows,
                       (unsigned long long)r->n_imported, (unsigned long long)r->n_duplicates,
                       (unsigned long long)r->n_quarantined, (unsigned long long)r->n_imported_this_run,
                       r->resumed ? "true" : "false", (unsigned long long)r->resumed_at_line,
                       r->already_done ? "true" : "false", r->seconds, (unsigned long long)r->peak_rss_bytes);
        md_buf_append_json_str(&b, r->quarantine_path, strlen(r->quarantine_path));
        if (st != MD_OK) {
            const char *msg = err->message[0] ? err->message : md_status_message(st);
            md_buf_append_str(&b, ",\"error\":{\"code\":");
            md_buf_append_json_str(&b, md_status_name(st), strlen(md_status_name(st)));
            md_buf_append_str(&b, ",\"message\":");
            md_buf_append_json_str(&b, msg, strlen(msg));
            md_buf_append_char(&b, '}');
        }
        md_buf_append_str(&b, "}\n");
        if (md_buf_ok(&b)) fputs(b.data, stdout);
        md_buf_free(&b);
        return;
    }
    if (r->already_done) {
        printf("already imported: %llu cases, %llu duplicates, %llu quarantined (nothing read; --restart to re-read)\n",
               (unsigned long long)r->n_imported, (unsigned long long)r->n_duplicates,
               (unsigned long long)r->n_quarantined);
        return;
    }
    printf("%s: %llu rows, %llu imported (%llu this run%s), %llu duplicates, %llu quarantined; %.2f s, peak RSS %.1f MiB\n",
           md_ingest_format_name(r->format), (unsigned long long)r->n_rows, (unsigned long long)r->n_imported,
           (unsigned long long)r->n_imported_this_run, r->resumed ? ", resumed" : "",
           (unsigned long long)r->n_duplicates, (unsigned long long)r->n_quarantined, r->seconds,
           (double)r->peak_rss_bytes / (1024.0 * 1024.0));
    if (r->n_quarantined > 0 && r->quarantine_path[0]) printf("bad rows: %s\n", r->quarantine_path);
}

/* Declared in cli/cli.h too, once the command table lists it; repeated here so this
 * file compiles (-Wmissing-prototypes) before that line lands. */

int cmd_ingest(int argc, char **argv) {
    md_ingest_params p = md_ingest_default_params();
    const char *file = NULL, *data_dir = NULL;
    bool json = false;
    char *columns = NULL;
    md_logger log = md_logger_default();
    log.min_level = MD_LOG_LEVEL_WARN;
    log.component = "ingest";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--format") == 0 || strcmp(a, "--data-dir") == 0 || strcmp(a, "--quarantine") == 0 ||
                     strcmp(a, "--max-bad-fraction") == 0 || strcmp(a, "--max-bad-rows") == 0 ||
                     strcmp(a, "--batch-rows") == 0 || strcmp(a, "--columns") == 0 || strcmp(a, "--log-level") == 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(k_usage, stdout);
            md_free(columns);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--restart") == 0) {
            p.restart = true;
        } else if (takes && !val) {
            md_free(columns);
            return usage_fail("option '%s' needs a value", a);
        } else if (takes) {
            i++;
            char *end = NULL;
            if (strcmp(a, "--format") == 0) {
                if (!md_ingest_format_parse(val, &p.format)) {
                    md_free(columns);
                    return usage_fail("unknown format '%s'", val);
                }
            } else if (strcmp(a, "--data-dir") == 0) {
                data_dir = val;
            } else if (strcmp(a, "--quarantine") == 0) {
                p.quarantine_path = val;
            } else if (strcmp(a, "--max-bad-fraction") == 0) {
                p.max_bad_fraction = strtod(val, &end);
                if (end == val || *end || !(p.max_bad_fraction >= 0 && p.max_bad_fraction <= 1)) {
                    md_free(columns);
                    return usage_fail("--max-bad-fraction needs a number from 0 to 1, got '%s'", val);
                }
            } else if (strcmp(a, "--max-bad-rows") == 0 || strcmp(a, "--batch-rows") == 0) {
                unsigned long long n = strtoull(val, &end, 10);
                if (end == val || *end || val[0] == '-') {
                    md_free(columns);
                    return usage_fail("expected a whole number, got '%s'", val);
                }
                if (strcmp(a, "--max-bad-rows") == 0) p.max_bad_rows = n;
                else p.batch_rows = n > MD_INGEST_MAX_BATCH_ROWS ? 0 : (size_t)n;
            } else if (strcmp(a, "--columns") == 0) {
                md_free(columns);
                columns = md_strdup(val);
                if (!columns || !parse_columns(columns, &p.columns)) {
                    md_free(columns);
                    return usage_fail("--columns wants ROLE=COLUMN pairs (text, id, age, sex, title, pmid), got '%s'",
                                      val);
                }
            } else if (strcmp(a, "--log-level") == 0) {
                if (!md_log_level_parse(val, &log.min_level)) {
                    md_free(columns);
                    return usage_fail("unknown log level '%s'", val);
                }
            }
        } else if (a[0] == '-' && a[1]) {
            md_free(columns);
            return usage_fail("unknown option '%s'", a);
        } else if (!file) {
            file = a;
        } else {
            md_free(columns);
            return usage_fail("more than one file given ('%s')", a);
        }
    }
    if (!file) {
        md_free(columns);
        return usage_fail("%s", "no FILE given");
    }
    p.data_dir = md_store_data_dir(data_dir);
    p.log = &log;
    md_error err = {0};
    md_store *store = NULL;
    md_status st = md_store_open(p.data_dir, &store, &err);
    if (st != MD_OK) {
        md_free(columns);
        return cli_fail(&err, json);
    }
    md_ingest_report report;
    st = md_ingest_file(store, file, p, &report, &err);
    md_store_close(store);
    md_free(columns);
    md_log(&log, MD_LOG_LEVEL_INFO, "import finished", MD_LOG_STR("status", md_status_name(st)),
           MD_LOG_INT("rows", report.n_rows), MD_LOG_INT("imported", report.n_imported),
           MD_LOG_INT("duplicates", report.n_duplicates), MD_LOG_INT("quarantined", report.n_quarantined));
    if (st != MD_OK && st != MD_ERR_LIMIT) return cli_fail(&err, json);
    print_report(&report, st, &err, json);
    if (st != MD_OK) {
        fprintf(stderr, "medify: error: %s\n", err.message[0] ? err.message : md_status_message(st));
        return md_status_exit_code(st);
    }
    return 0;
}
