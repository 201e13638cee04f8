/* The logger: every line it writes is one valid JSON object (parsed back with
 * jansson) with ts/level/msg/component and typed fields; hostile strings cannot break
 * the line; levels filter; OOM still yields a valid line; concurrent writers never
 * interleave within a line. */
#include "check.h"
#include "medify/base.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Reads every line of f (from the start) and parses each as a JSON object. Returns the
 * number of lines; objects go to out[0..max). Checks each line parses. */
static size_t read_json_lines(FILE *f, json_t **out, size_t max) {
    rewind(f);
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        CHECK_MSG(line[len - 1] == '\n', "line without newline: %s", line);
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)len, 0, &jerr);
        CHECK_MSG(obj && json_is_object(obj), "not a JSON object: %s (%s)", line, jerr.text);
        if (n < max) {
            out[n] = obj;
        } else {
            json_decref(obj);
        }
        n++;
    }
    free(line);
    return n;
}

static void free_lines(json_t **objs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        json_decref(objs[i]);
    }
}

static int looks_like_timestamp(const char *ts) {
    /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (!ts || strlen(ts) != strlen(shape)) {
        return 0;
    }
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)ts[i]) : ts[i] != shape[i]) {
            return 0;
        }
    }
    return 1;
}

static const char *str_field(json_t *obj, const char *key) {
    return json_string_value(json_object_get(obj, key));
}

static void test_fields_round_trip(void) {
    FILE *f = tmpfile();
    CHECK(f != NULL);
    md_logger lg = md_logger_default();
    CHECK(lg.out == stderr);
    CHECK_EQ_INT(lg.min_level, MD_LOG_LEVEL_INFO);
    lg.out = f;
    lg.component = "server";
    const char *hostile = "quote\" backslash\\ newline\n tab\t bell\x07 nul-free \xc3\xa9 bad\xff";
    md_log(&lg, MD_LOG_LEVEL_INFO, "request done", MD_LOG_STR("request_id", "r-42"),
           MD_LOG_INT("status", 200), MD_LOG_INT("big", INT64_MIN), MD_LOG_DOUBLE("ms", 12.5),
           MD_LOG_BOOL("cached", true), MD_LOG_BOOL("stale", 0), MD_LOG_STR("nothing", NULL),
           MD_LOG_DOUBLE("nan", NAN), MD_LOG_STR("weird", hostile));
    md_log0(&lg, MD_LOG_LEVEL_ERROR, hostile);
    md_log0(&lg, MD_LOG_LEVEL_WARN, NULL);

    json_t *lines[8] = {0};
    size_t n = read_json_lines(f, lines, 8);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        json_t *a = lines[0];
        CHECK(looks_like_timestamp(str_field(a, "ts")));
        CHECK_EQ_STR(str_field(a, "level"), "info");
        CHECK_EQ_STR(str_field(a, "msg"), "request done");
        CHECK_EQ_STR(str_field(a, "component"), "server");
        CHECK_EQ_STR(str_field(a, "request_id"), "r-42");
        CHECK(json_is_integer(json_object_get(a, "status")));
        CHECK_EQ_INT(json_integer_value(json_object_get(a, "status")), 200);
        CHECK(json_integer_value(json_object_get(a, "big")) == INT64_MIN);
        CHECK(json_is_real(json_object_get(a, "ms")));
        CHECK_NEAR(json_real_value(json_object_get(a, "ms")), 12.5, 0.0);
        CHECK(json_is_true(json_object_get(a, "cached")));
        CHECK(json_is_false(json_object_get(a, "stale")));
        CHECK(json_is_null(json_object_get(a, "nothing")));
        CHECK(json_is_null(json_object_get(a, "nan"))); /* JSON has no NaN */
        /* the hostile string comes back byte for byte, except the invalid byte */
        const char *w = str_field(a, "weird");
        CHECK(w && strncmp(w, hostile, strlen(hostile) - 1) == 0);
        CHECK(w && strcmp(w + strlen(hostile) - 1, "\xef\xbf\xbd") == 0);

        CHECK_EQ_STR(str_field(lines[1], "level"), "error");
        CHECK(strncmp(str_field(lines[1], "msg"), hostile, 20) == 0);
        CHECK_EQ_STR(str_field(lines[2], "level"), "warn");
        CHECK_EQ_STR(str_field(lines[2], "msg"), "");
    }
    free_lines(lines, n < 8 ? n : 8);
    fclose(f);
}

static void test_levels(void) {
    FILE *f = tmpfile();
    md_logger lg = {.out = f, .min_level = MD_LOG_LEVEL_WARN, .component = NULL};
    md_log0(&lg, MD_LOG_LEVEL_DEBUG, "hidden");
    md_log0(&lg, MD_LOG_LEVEL_INFO, "hidden");
    md_log0(&lg, MD_LOG_LEVEL_WARN, "shown");
    md_log0(&lg, MD_LOG_LEVEL_ERROR, "shown");
    md_log0(&lg, MD_LOG_LEVEL_OFF, "OFF is a threshold, not a level to write at");
    lg.min_level = MD_LOG_LEVEL_OFF;
    md_log0(&lg, MD_LOG_LEVEL_ERROR, "hidden");
    json_t *lines[8] = {0};
    size_t n = read_json_lines(f, lines, 8);
    CHECK_EQ_INT(n, 2);
    for (size_t i = 0; i < n && i < 8; i++) {
        CHECK_EQ_STR(str_field(lines[i], "msg"), "shown");
        CHECK(json_object_get(lines[i], "component") == NULL); /* absent when NULL */
    }
    free_lines(lines, n < 8 ? n : 8);
    fclose(f);

    md_log_level level = MD_LOG_LEVEL_OFF;
    CHECK(md_log_level_parse("debug", &level) && level == MD_LOG_LEVEL_DEBUG);
    CHECK(md_log_level_parse("INFO", &level) && level == MD_LOG_LEVEL_INFO);
    CHECK(md_log_level_parse("warn", &level) && level == MD_LOG_LEVEL_WARN);
    CHECK(md_log_level_parse("warning", &level) && level == MD_LOG_LEVEL_WARN);
    CHECK(md_log_level_parse("error", &level) && level == MD_LOG_LEVEL_ERROR);
    CHECK(md_log_level_parse("off", &level) && level == MD_LOG_LEVEL_OFF);
    CHECK(!md_log_level_parse("verbose", &level));
    CHECK(!md_log_level_parse(NULL, &level));
    for (int l = MD_LOG_LEVEL_DEBUG; l <= MD_LOG_LEVEL_OFF; l++) {
        md_log_level back;
        CHECK(md_log_level_parse(md_log_level_name((md_log_level)l), &back) && (int)back == l);
    }
    CHECK_EQ_STR(md_log_level_name((md_log_level)99), "unknown");
}

static void test_oom_still_logs(void) {
    FILE *f = tmpfile();
    md_logger lg = {.out = f, .min_level = MD_LOG_LEVEL_DEBUG, .component = "cli"};
    md_alloc_fail_after(1, true);
    md_log(&lg, MD_LOG_LEVEL_ERROR, "disk full", MD_LOG_INT("n", 1));
    CHECK(md_alloc_failed());
    md_alloc_fail_after(0, false);
    json_t *lines[2] = {0};
    size_t n = read_json_lines(f, lines, 2);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_STR(str_field(lines[0], "level"), "error");
        CHECK(looks_like_timestamp(str_field(lines[0], "ts")));
        CHECK(str_field(lines[0], "msg") != NULL);
        json_decref(lines[0]);
    }
    fclose(f);
}

/* ---- concurrent writers ---- */

#define N_WRITERS 4
#define N_LINES_EACH 500

static void *log_worker(void *arg) {
    md_logger *lg = arg;
    char pad[300];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (int i = 0; i < N_LINES_EACH; i++) {
        md_log(lg, MD_LOG_LEVEL_INFO, "tick", MD_LOG_INT("i", i), MD_LOG_STR("pad", pad));
    }
    return NULL;
}

static void test_concurrent_lines(void) {
    FILE *f = tmpfile();
    md_logger lg = {.out = f, .min_level = MD_LOG_LEVEL_INFO, .component = "pool"};
    pthread_t threads[N_WRITERS];
    for (int t = 0; t < N_WRITERS; t++) {
        pthread_create(&threads[t], NULL, log_worker, &lg);
    }
    for (int t = 0; t < N_WRITERS; t++) {
        pthread_join(threads[t], NULL);
    }
    json_t *none[1];
    size_t n = read_json_lines(f, none, 0); /* each line is checked to parse */
    CHECK_EQ_INT(n, N_WRITERS * N_LINES_EACH);
    fclose(f);
}

int main(void) {
    test_fields_round_trip();
    test_levels();
    test_oom_still_logs();
    test_concurrent_lines();
    return check_report("test_base_log");
}
