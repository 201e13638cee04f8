/* Config: defaults < file < MEDIFY_* env < flags whatever the call order; values are
 * validated for type and bounds from every source, with errors naming the option and
 * the source; file errors carry path:line and leave the config unchanged. */
#include "check.h"
#include "medify/base.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const md_config_option options[] = {
    {"port", MD_CONFIG_TYPE_INT, "8080", 1, 65535, "TCP port"},
    {"data-dir", MD_CONFIG_TYPE_STRING, "/var/lib/medify", 0, -1, "data directory"},
    {"ratio", MD_CONFIG_TYPE_DOUBLE, "0.5", 0, 1, "a share"},
    {"debug", MD_CONFIG_TYPE_BOOL, "false", 0, -1, "debug mode"},
    {"api-key", MD_CONFIG_TYPE_STRING, NULL, 0, -1, "remote LLM key"},
    {"log.level", MD_CONFIG_TYPE_STRING, "info", 0, -1, "log level"},
    {"threads", MD_CONFIG_TYPE_INT, "4", 1, 0, "unbounded: min > max"},
};

static char tmp_dir[64];

static const char *write_file(const char *name, const char *text) {
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(text, 1, strlen(text), f);
        fclose(f);
    }
    return path;
}

static int contains(const char *haystack, const char *needle) {
    return haystack && strstr(haystack, needle) != NULL;
}

static void clear_env(void) {
    static const char *const names[] = {"MEDIFY_PORT", "MEDIFY_DATA_DIR", "MEDIFY_RATIO",
                                        "MEDIFY_DEBUG", "MEDIFY_API_KEY", "MEDIFY_LOG_LEVEL",
                                        "MEDIFY_THREADS"};
    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++) {
        unsetenv(names[i]);
    }
}

static void test_defaults(void) {
    md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
    CHECK(cfg != NULL);
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 8080);
    CHECK_EQ_STR(md_config_get_str(cfg, "port"), "8080"); /* text form for every type */
    CHECK_EQ_STR(md_config_get_str(cfg, "data-dir"), "/var/lib/medify");
    CHECK_NEAR(md_config_get_double(cfg, "ratio"), 0.5, 0);
    CHECK(!md_config_get_bool(cfg, "debug"));
    CHECK(md_config_get_str(cfg, "api-key") == NULL);
    CHECK_EQ_INT(md_config_get_source(cfg, "port"), MD_CONFIG_SOURCE_DEFAULT);
    CHECK_NEAR(md_config_get_double(cfg, "port"), 8080.0, 0); /* INT read as double */
    /* unknown names read as zero values */
    CHECK(md_config_get_str(cfg, "nope") == NULL);
    CHECK_EQ_INT(md_config_get_int(cfg, "nope"), 0);
    CHECK(!md_config_get_bool(cfg, "nope"));
    md_config_free(cfg);
    md_config_free(NULL);

    /* A default that does not validate is a programming error: no config. */
    static const md_config_option bad[] = {{"port", MD_CONFIG_TYPE_INT, "eighty", 1, 10, ""}};
    CHECK(md_config_new(bad, 1) == NULL);
    static const md_config_option out_of_bounds[] = {{"n", MD_CONFIG_TYPE_INT, "11", 1, 10, ""}};
    CHECK(md_config_new(out_of_bounds, 1) == NULL);
}

/* The same four layers applied in every one of the 6 orders of file/env/flag give the
 * same result. */
static void test_precedence_any_order(void) {
    const char *path = write_file("prec.conf",
                                  "port = 7000\n"
                                  "ratio = 0.25\n"
                                  "data-dir = /srv/file\n"
                                  "debug = yes\n");
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (size_t o = 0; o < 6; o++) {
        clear_env();
        setenv("MEDIFY_PORT", "8000", 1);
        setenv("MEDIFY_RATIO", "0.75", 1);
        setenv("MEDIFY_DEBUG", "off", 1);
        setenv("MEDIFY_UNRELATED", "ignored", 1);
        md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
        CHECK(cfg != NULL);
        if (!cfg) {
            continue;
        }
        for (int step = 0; step < 3; step++) {
            md_error err;
            md_error_clear(&err);
            switch (orders[o][step]) {
            case 0:
                CHECK_EQ_INT(md_config_load_file(cfg, path, &err), MD_OK);
                break;
            case 1:
                CHECK_EQ_INT(md_config_load_env(cfg, &err), MD_OK);
                break;
            case 2:
                CHECK_EQ_INT(md_config_set(cfg, "port", "9000", MD_CONFIG_SOURCE_FLAG, &err),
                             MD_OK);
                break;
            }
            CHECK_MSG(err.status == MD_OK, "order %zu step %d: %s", o, step, err.message);
        }
        /* port: flag > env > file */
        CHECK_EQ_INT(md_config_get_int(cfg, "port"), 9000);
        CHECK_EQ_INT(md_config_get_source(cfg, "port"), MD_CONFIG_SOURCE_FLAG);
        /* ratio and debug: env > file */
        CHECK_NEAR(md_config_get_double(cfg, "ratio"), 0.75, 0);
        CHECK_EQ_INT(md_config_get_source(cfg, "ratio"), MD_CONFIG_SOURCE_ENV);
        CHECK(!md_config_get_bool(cfg, "debug"));
        CHECK_EQ_INT(md_config_get_source(cfg, "debug"), MD_CONFIG_SOURCE_ENV);
        /* data-dir: file > default */
        CHECK_EQ_STR(md_config_get_str(cfg, "data-dir"), "/srv/file");
        CHECK_EQ_INT(md_config_get_source(cfg, "data-dir"), MD_CONFIG_SOURCE_FILE);
        /* untouched */
        CHECK_EQ_INT(md_config_get_int(cfg, "threads"), 4);
        CHECK_EQ_INT(md_config_get_source(cfg, "threads"), MD_CONFIG_SOURCE_DEFAULT);
        md_config_free(cfg);
    }
    clear_env();
    unsetenv("MEDIFY_UNRELATED");
}

static void test_same_source_replaces(void) {
    md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
    CHECK_EQ_INT(md_config_set(cfg, "port", "1", MD_CONFIG_SOURCE_FLAG, NULL), MD_OK);
    CHECK_EQ_INT(md_config_set(cfg, "port", "2", MD_CONFIG_SOURCE_FLAG, NULL), MD_OK);
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 2); /* last flag wins */
    CHECK_EQ_INT(md_config_set(cfg, "port", "3", MD_CONFIG_SOURCE_DEFAULT, NULL), MD_OK);
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 2); /* accepted but outranked */
    md_config_free(cfg);
}

static void test_env_names(void) {
    clear_env();
    setenv("MEDIFY_DATA_DIR", "/env/data", 1);
    setenv("MEDIFY_LOG_LEVEL", "debug", 1);
    setenv("MEDIFY_API_KEY", "", 1); /* empty string is a value for a string option */
    setenv("medify_port", "1234", 1); /* wrong case: not ours */
    md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
    CHECK_EQ_INT(md_config_load_env(cfg, NULL), MD_OK);
    CHECK_EQ_STR(md_config_get_str(cfg, "data-dir"), "/env/data");
    CHECK_EQ_STR(md_config_get_str(cfg, "log.level"), "debug");
    CHECK_EQ_STR(md_config_get_str(cfg, "api-key"), "");
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 8080);
    md_config_free(cfg);
    unsetenv("medify_port");
    clear_env();
}

static void test_validation_errors(void) {
    md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
    md_error err;
    static const struct {
        const char *name, *value;
        md_config_source source;
        const char *want_in_message;
    } bad[] = {
        {"port", "70000", MD_CONFIG_SOURCE_FLAG, "maximum"},
        {"port", "0", MD_CONFIG_SOURCE_FLAG, "minimum"},
        {"port", "80x", MD_CONFIG_SOURCE_FLAG, "integer"},
        {"port", "", MD_CONFIG_SOURCE_FLAG, "integer"},
        {"port", " 80", MD_CONFIG_SOURCE_FLAG, "integer"},
        {"port", "99999999999999999999999", MD_CONFIG_SOURCE_FLAG, "integer"},
        {"ratio", "1.5", MD_CONFIG_SOURCE_FILE, "maximum"},
        {"ratio", "nan", MD_CONFIG_SOURCE_FLAG, "number"},
        {"ratio", "inf", MD_CONFIG_SOURCE_FLAG, "number"},
        {"ratio", "0.5.1", MD_CONFIG_SOURCE_FLAG, "number"},
        {"debug", "maybe", MD_CONFIG_SOURCE_ENV, "boolean"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_error_clear(&err);
        md_status st = md_config_set(cfg, bad[i].name, bad[i].value, bad[i].source, &err);
        CHECK_MSG(st == MD_ERR_CONFIG, "%s=%s gave %s", bad[i].name, bad[i].value,
                  md_status_name(st));
        CHECK_EQ_INT(err.status, MD_ERR_CONFIG);
        CHECK_MSG(contains(err.message, bad[i].name), "message does not name the option: %s",
                  err.message);
        CHECK_MSG(contains(err.message, bad[i].want_in_message), "message: %s", err.message);
    }
    /* the source appears in the message; for env, the variable's name */
    md_config_set(cfg, "port", "x", MD_CONFIG_SOURCE_FLAG, &err);
    CHECK_MSG(contains(err.message, "flag --port"), "%s", err.message);
    md_config_set(cfg, "debug", "x", MD_CONFIG_SOURCE_ENV, &err);
    CHECK_MSG(contains(err.message, "MEDIFY_DEBUG"), "%s", err.message);
    /* rejected values leave the previous one in place */
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 8080);
    CHECK_NEAR(md_config_get_double(cfg, "ratio"), 0.5, 0);
    CHECK_EQ_INT(md_config_get_source(cfg, "port"), MD_CONFIG_SOURCE_DEFAULT);

    /* a lower-precedence value is still validated */
    CHECK_EQ_INT(md_config_set(cfg, "port", "1", MD_CONFIG_SOURCE_FLAG, NULL), MD_OK);
    CHECK_EQ_INT(md_config_set(cfg, "port", "-5", MD_CONFIG_SOURCE_FILE, NULL), MD_ERR_CONFIG);

    /* valid edge values */
    CHECK_EQ_INT(md_config_set(cfg, "port", "65535", MD_CONFIG_SOURCE_FLAG, NULL), MD_OK);
    CHECK_EQ_INT(md_config_set(cfg, "ratio", "1", MD_CONFIG_SOURCE_FLAG, NULL), MD_OK);
    CHECK_EQ_INT(md_config_set(cfg, "ratio", "0", MD_CONFIG_SOURCE_FLAG, NULL), MD_OK);
    CHECK_EQ_INT(md_config_set(cfg, "threads", "-1000000", MD_CONFIG_SOURCE_FLAG, NULL), MD_OK);
    CHECK_EQ_INT(md_config_get_int(cfg, "threads"), -1000000); /* min > max: unbounded */
    static const struct {
        const char *text;
        bool value;
    } bools[] = {{"true", true}, {"FALSE", false}, {"1", true}, {"0", false}, {"yes", true},
                 {"No", false},  {"on", true},     {"off", false}};
    for (size_t i = 0; i < MD_ARRAY_LEN(bools); i++) {
        md_status st = md_config_set(cfg, "debug", bools[i].text, MD_CONFIG_SOURCE_FLAG, NULL);
        CHECK_EQ_INT(st, MD_OK);
        CHECK_EQ_INT(md_config_get_bool(cfg, "debug"), bools[i].value);
    }

    md_error_clear(&err);
    CHECK_EQ_INT(md_config_set(cfg, "colour", "red", MD_CONFIG_SOURCE_FLAG, &err),
                 MD_ERR_NOT_FOUND);
    CHECK(contains(err.message, "colour"));
    CHECK_EQ_INT(md_config_set(cfg, "port", NULL, MD_CONFIG_SOURCE_FLAG, NULL), MD_ERR_INVALID_ARG);
    md_config_free(cfg);
}

static void test_env_error(void) {
    clear_env();
    setenv("MEDIFY_PORT", "not-a-port", 1);
    md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
    md_error err;
    md_error_clear(&err);
    CHECK_EQ_INT(md_config_load_env(cfg, &err), MD_ERR_CONFIG);
    CHECK_MSG(contains(err.message, "MEDIFY_PORT") && contains(err.message, "port"), "%s",
              err.message);
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 8080);
    md_config_free(cfg);
    clear_env();
}

static void test_file_syntax(void) {
    const char *path = write_file("ok.conf",
                                  "# medify configuration\n"
                                  "\n"
                                  "   port=1234   \r\n"
                                  "\tdata-dir =  /srv/with space  \n"
                                  "  # indented comment\n"
                                  "api-key = \"  padded  \"\n"
                                  "log.level = a=b#c\n"
                                  "debug = on"); /* no final newline */
    md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
    md_error err;
    md_error_clear(&err);
    CHECK_EQ_INT(md_config_load_file(cfg, path, &err), MD_OK);
    CHECK_MSG(err.status == MD_OK, "%s", err.message);
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 1234);
    CHECK_EQ_STR(md_config_get_str(cfg, "data-dir"), "/srv/with space");
    CHECK_EQ_STR(md_config_get_str(cfg, "api-key"), "  padded  ");
    CHECK_EQ_STR(md_config_get_str(cfg, "log.level"), "a=b#c"); /* split at the first '=' */
    CHECK(md_config_get_bool(cfg, "debug"));
    md_config_free(cfg);
}

/* Each bad file gives MD_ERR_CONFIG with "path:line:" and changes nothing. */
static void test_file_errors(void) {
    static const struct {
        const char *text;
        int line;
        const char *want;
    } cases[] = {
        {"port = 1000\n# ok\ncolour = red\n", 3, "unknown option 'colour'"},
        {"port = 1000\nthis line has no equals sign\n", 2, "expected"},
        {"port = 1000\n = 5\n", 2, "missing option name"},
        {"port = 1000\n\n\nratio = 2\n", 4, "ratio"},
        {"port = 1000\nport = 123456\n", 2, "maximum"},
        {"debug = perhaps\n", 1, "boolean"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        const char *path = write_file("bad.conf", cases[i].text);
        char prefix[160];
        snprintf(prefix, sizeof(prefix), "%s:%d: ", path, cases[i].line);
        md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
        md_error err;
        md_error_clear(&err);
        CHECK_EQ_INT(md_config_load_file(cfg, path, &err), MD_ERR_CONFIG);
        CHECK_MSG(strncmp(err.message, prefix, strlen(prefix)) == 0,
                  "case %zu: \"%s\" lacks \"%s\"", i, err.message, prefix);
        CHECK_MSG(contains(err.message, cases[i].want), "case %zu: %s", i, err.message);
        /* the good first line was not applied either */
        CHECK_EQ_INT(md_config_get_int(cfg, "port"), 8080);
        CHECK_EQ_INT(md_config_get_source(cfg, "port"), MD_CONFIG_SOURCE_DEFAULT);
        md_config_free(cfg);
    }

    md_config *cfg = md_config_new(options, MD_ARRAY_LEN(options));
    md_error err;
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/does-not-exist.conf", tmp_dir);
    CHECK_EQ_INT(md_config_load_file(cfg, missing, &err), MD_ERR_NOT_FOUND);
    CHECK(contains(err.message, "does-not-exist.conf"));

    char with_nul[] = "port = 1\0\n";
    char nul_path[160];
    snprintf(nul_path, sizeof(nul_path), "%s/nul.conf", tmp_dir);
    FILE *f = fopen(nul_path, "wb");
    fwrite(with_nul, 1, sizeof(with_nul) - 1, f);
    fclose(f);
    CHECK_EQ_INT(md_config_load_file(cfg, nul_path, &err), MD_ERR_CONFIG);
    CHECK(contains(err.message, "nul.conf"));
    md_config_free(cfg);
}

int main(void) {
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/medify-test-config-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_precedence_any_order();
    test_same_source_replaces();
    test_env_names();
    test_validation_errors();
    test_env_error();
    test_file_syntax();
    test_file_errors();

    static const char *const files[] = {"prec.conf", "ok.conf", "bad.conf", "nul.conf"};
    for (size_t i = 0; i < MD_ARRAY_LEN(files); i++) {
        char path[160];
        snprintf(path, sizeof(path), "%s/%s", tmp_dir, files[i]);
        unlink(path);
    }
    rmdir(tmp_dir);
    return check_report("test_base_config");
}
