/* OOM loop over the allocating entry points of base (the SQLite/libuv technique): for
 * N = 1, 2, ... the Nth allocation and all after it fail. Each scenario must then
 * report the failure (a status, NULL, or a failed buffer), leave its object valid
 * (checked by finishing the work with memory available again) and leak nothing
 * (AddressSanitizer's leak check runs at exit). Once N exceeds the allocations a
 * scenario needs, it must succeed with no injected failure. */
#include "check.h"
#include "medify/base.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum outcome { OUTCOME_FAILED, OUTCOME_DONE } outcome;

/* Stops injecting and reports that the scenario saw a failure. */
static outcome failed_cleanly(void) {
    md_alloc_fail_after(0, false);
    return OUTCOME_FAILED;
}

/* ---- map ---- */

#define MAP_N_KEYS 300

/* "key\0-<i>": a NUL inside every key. Returns the key's length. */
static size_t map_key(int i, char key[32]) {
    memcpy(key, "key\0-", 5);
    return 5 + (size_t)snprintf(key + 5, 32 - 5, "%d", i);
}

static int map_has_first(const md_map *m, int n) {
    int ok = (int)m->n_items == n;
    for (int i = 0; i < MAP_N_KEYS; i++) {
        char key[32];
        size_t len = map_key(i, key);
        uint64_t v = 0;
        bool found = md_map_get(m, key, len, &v);
        ok &= i < n ? (found && v == (uint64_t)i) : !found;
    }
    return ok;
}

static outcome scenario_map(void) {
    md_map m;
    md_map_init(&m);
    outcome result = OUTCOME_DONE;
    for (int i = 0; i < MAP_N_KEYS; i++) {
        char key[32];
        size_t len = map_key(i, key);
        md_status st = md_map_put(&m, key, len, (uint64_t)i);
        if (st != MD_OK) {
            CHECK_EQ_INT(st, MD_ERR_NOMEM);
            result = failed_cleanly();
            CHECK_MSG(map_has_first(&m, i), "map inconsistent after failure at key %d", i);
            CHECK_EQ_INT(md_map_put(&m, key, len, (uint64_t)i), MD_OK); /* retry works */
        }
    }
    CHECK(map_has_first(&m, MAP_N_KEYS));
    md_map_free(&m);
    return result;
}

/* ---- buf ---- */

static outcome scenario_buf(void) {
    md_buf want;
    md_buf_init(&want);
    md_buf b;
    md_buf_init(&b);
    /* Build the same text twice: once under injection, once (below) without. */
    for (int i = 0; i < 300; i++) {
        md_buf_appendf(&b, "line %d: ", i);
        md_buf_append_json_str(&b, "caf\xc3\xa9 \"q\"\n", 11);
        md_buf_append_char(&b, '\n');
    }
    bool ok = md_buf_ok(&b);
    md_alloc_fail_after(0, false);
    for (int i = 0; i < 300; i++) {
        md_buf_appendf(&want, "line %d: ", i);
        md_buf_append_json_str(&want, "caf\xc3\xa9 \"q\"\n", 11);
        md_buf_append_char(&want, '\n');
    }
    CHECK(md_buf_ok(&want));
    if (ok) {
        CHECK(b.len == want.len && memcmp(b.data, want.data, b.len) == 0);
    } else {
        /* what was kept is a prefix of the full text, and NUL-terminated */
        CHECK(b.len < want.len);
        CHECK(b.data == NULL || (memcmp(b.data, want.data, b.len) == 0 && b.data[b.len] == '\0'));
        CHECK(md_buf_steal(&b) == NULL);
    }
    char *s = md_buf_steal(&want);
    CHECK(s != NULL);
    md_free(s);
    md_buf_free(&b);
    return ok ? OUTCOME_DONE : OUTCOME_FAILED;
}

/* The steal of an empty buffer allocates too. */
static outcome scenario_buf_steal_empty(void) {
    md_buf b;
    md_buf_init(&b);
    char *s = md_buf_steal(&b);
    if (!s) {
        return failed_cleanly();
    }
    CHECK_EQ_STR(s, "");
    md_free(s);
    return OUTCOME_DONE;
}

/* ---- arena ---- */

static outcome scenario_arena(void) {
    md_arena a;
    md_arena_init(&a, 1024);
    unsigned char *ptrs[60] = {0};
    size_t sizes[60];
    outcome result = OUTCOME_DONE;
    for (int i = 0; i < 60; i++) {
        sizes[i] = i % 10 == 9 ? 5000 : (size_t)(50 + i * 7); /* every tenth is oversized */
        ptrs[i] = md_arena_alloc(&a, sizes[i]);
        if (!ptrs[i]) {
            result = failed_cleanly();
            ptrs[i] = md_arena_alloc(&a, sizes[i]); /* the arena still works */
            CHECK(ptrs[i] != NULL);
        }
        if (ptrs[i]) {
            memset(ptrs[i], i, sizes[i]);
        }
    }
    char *s = md_arena_sprintf(&a, "%s-%d", "tail", 7);
    if (!s) {
        result = failed_cleanly();
        s = md_arena_sprintf(&a, "%s-%d", "tail", 7);
    }
    CHECK_EQ_STR(s, "tail-7");
    int intact = 1;
    for (int i = 0; i < 60; i++) {
        for (size_t k = 0; ptrs[i] && k < sizes[i]; k++) {
            intact &= ptrs[i][k] == (unsigned char)i;
        }
    }
    CHECK(intact);
    md_arena_free(&a);
    return result;
}

/* ---- vec ---- */

static outcome scenario_vec(void) {
    md_vec v;
    md_vec_init(&v, sizeof(int));
    outcome result = OUTCOME_DONE;
    for (int i = 0; i < 2000; i++) {
        md_status st = md_vec_push(&v, &i);
        if (st != MD_OK) {
            CHECK_EQ_INT(st, MD_ERR_NOMEM);
            CHECK_EQ_INT(v.n, (size_t)i);
            result = failed_cleanly();
            CHECK_EQ_INT(md_vec_push(&v, &i), MD_OK);
        }
    }
    int intact = (int)v.n == 2000;
    for (int i = 0; intact && i < 2000; i++) {
        intact &= *(int *)md_vec_at(&v, (size_t)i) == i;
    }
    CHECK(intact);
    md_vec_free(&v);
    return result;
}

/* ---- config ---- */

static const md_config_option config_options[] = {
    {"port", MD_CONFIG_TYPE_INT, "8080", 1, 65535, "TCP port"},
    {"data-dir", MD_CONFIG_TYPE_STRING, "/var/lib/medify", 0, -1, "data directory"},
    {"ratio", MD_CONFIG_TYPE_DOUBLE, "0.5", 0, 1, "a share"},
    {"debug", MD_CONFIG_TYPE_BOOL, "false", 0, -1, "debug mode"},
};
static char config_path[128];

static outcome scenario_config(void) {
    md_config *cfg = md_config_new(config_options, MD_ARRAY_LEN(config_options));
    if (!cfg) {
        return failed_cleanly();
    }
    outcome result = OUTCOME_DONE;
    md_error err;
    md_status st = md_config_set(cfg, "port", "9000", MD_CONFIG_SOURCE_FLAG, &err);
    if (st != MD_OK) {
        CHECK_EQ_INT(st, MD_ERR_NOMEM);
        result = failed_cleanly();
        CHECK_EQ_INT(md_config_get_int(cfg, "port"), 8080); /* old value still there */
        CHECK_EQ_INT(md_config_set(cfg, "port", "9000", MD_CONFIG_SOURCE_FLAG, &err), MD_OK);
    }
    st = md_config_load_file(cfg, config_path, &err);
    if (st != MD_OK) {
        CHECK_MSG(st == MD_ERR_NOMEM, "load_file under OOM: %s (%s)", md_status_name(st),
                  err.message);
        result = failed_cleanly();
        CHECK_EQ_INT(md_config_load_file(cfg, config_path, &err), MD_OK);
    }
    st = md_config_load_env(cfg, &err);
    if (st != MD_OK) {
        CHECK_EQ_INT(st, MD_ERR_NOMEM);
        result = failed_cleanly();
        CHECK_EQ_INT(md_config_load_env(cfg, &err), MD_OK);
    }
    CHECK_EQ_INT(md_config_get_int(cfg, "port"), 9000);
    CHECK_EQ_STR(md_config_get_str(cfg, "data-dir"), "/srv/oom");
    CHECK_NEAR(md_config_get_double(cfg, "ratio"), 0.125, 0);
    CHECK(md_config_get_bool(cfg, "debug"));
    md_config_free(cfg);
    return result;
}

/* ---- io ---- */

static outcome scenario_read_file(void) {
    char *out = NULL;
    size_t n = 0;
    md_status st = md_read_file(config_path, 1 << 20, &out, &n, NULL);
    if (st != MD_OK) {
        CHECK_EQ_INT(st, MD_ERR_NOMEM);
        CHECK(out == NULL);
        return failed_cleanly();
    }
    CHECK(n > 0 && out && strstr(out, "data-dir") != NULL);
    md_free(out);
    return OUTCOME_DONE;
}

/* ---- the loop ---- */

static void run_oom_loop(const char *name, outcome (*scenario)(void)) {
    enum { MAX_N = 100000 };
    uint64_t n;
    for (n = 1; n < MAX_N; n++) {
        md_alloc_fail_after(n, true);
        outcome result = scenario();
        bool injected = md_alloc_failed();
        md_alloc_fail_after(0, false);
        if (result == OUTCOME_DONE) {
            CHECK_MSG(!injected, "%s: an injected failure at N=%llu was swallowed", name,
                      (unsigned long long)n);
            break;
        }
    }
    CHECK_MSG(n > 1 && n < MAX_N, "%s: loop ended at N=%llu", name, (unsigned long long)n);
    fprintf(stderr, "%s: succeeds from N=%llu\n", name, (unsigned long long)n);
}

int main(void) {
    char dir[] = "/tmp/medify-test-oom-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(config_path, sizeof(config_path), "%s/oom.conf", dir);
    FILE *f = fopen(config_path, "wb");
    fputs("# for the OOM loop\nport = 7000\ndata-dir = /srv/oom\nratio = 0.25\n", f);
    fclose(f);
    setenv("MEDIFY_RATIO", "0.125", 1);
    setenv("MEDIFY_DEBUG", "on", 1);

    run_oom_loop("map", scenario_map);
    run_oom_loop("buf", scenario_buf);
    run_oom_loop("buf_steal_empty", scenario_buf_steal_empty);
    run_oom_loop("arena", scenario_arena);
    run_oom_loop("vec", scenario_vec);
    run_oom_loop("config", scenario_config);
    run_oom_loop("read_file", scenario_read_file);

    unlink(config_path);
    rmdir(dir);
    return check_report("test_base_oom");
}
