/* medify demo: the embedded default. One command prepares a data directory and serves
 * the web UI on loopback:
 *
 *   1. the data directory (--data-dir, else $MEDIFY_DATA, else ./medify-data);
 *   2. the knowledge base (built in, or --kb DIR);
 *   3. a synthetic corpus (md_synth, fixed seed) imported into the case store, unless
 *      the store already holds cases;
 *   4. the search index snapshot (`medify index build`), unless one is current;
 *   5. three accounts (patient, clinician, admin) whose passwords are drawn from
 *      getrandom(2) the first time and kept in DATA_DIR/demo-accounts.txt (mode 0600),
 *      so every data directory has its own and a rerun prints the same ones; the demo
 *      patient is assigned to the demo clinician;
 *   6. `medify serve` on 127.0.0.1 with cookies allowed over plain http (loopback
 *      only), until Ctrl-C or SIGTERM, which stop it gracefully.
 *
 * Every step is idempotent, so a second run only serves. --no-serve stops after step 5
 * (tests prepare a directory with it and then run `medify serve` themselves). Reports
 * are written by a model when MEDIFY_LLM_MODEL or MEDIFY_LLM_URL is set, otherwise by
 * the deterministic writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "medify/accounts.h"
#include "medify/ingest.h"
#include "medify/llm.h"
#include "medify/search.h"
#include "medify/store.h"
#include "medify/synth.h"

static const char k_usage[] =
    "usage: medify demo [--data-dir DIR] [--port 8080] [--cases 2000] [--seed 42] [--kb DIR] [--no-serve]\n"
    "Prepares DIR (synthetic cases, search index, demo accounts) and serves the web UI on\n"
    "http://127.0.0.1:PORT/ until Ctrl-C. --no-serve prepares everything and exits.\n";

#define DEMO_DEFAULT_CASES  2000u
#define DEMO_MAX_CASES      1000000u
#define DEMO_DEFAULT_SEED   42u
#define DEMO_PASSWORD_CHARS 16 /* 16 symbols of a 32-letter alphabet: 80 bits */
#define DEMO_ACCOUNTS_FILE  "demo-accounts.txt"
#define DEMO_PATH_BYTES     4096

typedef struct demo_opts {
    const char *data_dir;
    const char *kb_dir;
    const char *port;
    uint64_t n_cases;
    uint64_t seed;
    bool serve;
} demo_opts;

typedef struct demo_account {
    md_role role;
    const char *email;
    const char *name;
    char password[DEMO_PASSWORD_CHARS + 1];
} demo_account;

static int usage_error(const char *what, const char *arg) {
    fprintf(stderr, "medify: %s '%s'\n%s", what, arg, k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!s || !*s || *s == '-') return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* Returns 0, or an exit code after printing why; *help when --help was asked. */
static int parse_opts(int argc, char **argv, demo_opts *o, bool *help) {
    *o = (demo_opts){.port = "8080", .n_cases = DEMO_DEFAULT_CASES, .seed = DEMO_DEFAULT_SEED, .serve = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            return 0;
        }
        if (strcmp(a, "--no-serve") == 0) {
            o->serve = false;
            continue;
        }
        if (!v) return usage_error("unknown or incomplete option", a);
        i++;
        if (strcmp(a, "--data-dir") == 0)
            o->data_dir = v;
        else if (strcmp(a, "--kb") == 0)
            o->kb_dir = v;
        else if (strcmp(a, "--port") == 0 && parse_u64(v, 0, 65535, &n))
            o->port = v;
        else if (strcmp(a, "--cases") == 0 && parse_u64(v, 1, DEMO_MAX_CASES, &n))
            o->n_cases = n;
        else if (strcmp(a, "--seed") == 0 && parse_u64(v, 0, UINT64_MAX, &n))
            o->seed = n;
        else
            return usage_error("unknown option or bad value for", a);
    }
    o->data_dir = md_store_data_dir(o->data_dir);
    return 0;
}

static bool path_join(char *buf, const char *dir, const char *name) {
    int n = snprintf(buf, DEMO_PATH_BYTES, "%s/%s", dir, name);
    return n > 0 && n < DEMO_PATH_BYTES;
}

/* Step 3: a synthetic corpus, written as PMC-Patients CSV and imported like any other
 * file (so the import is resumable and its rows are validated the same way). */
static md_status ensure_cases(const md_kb *kb, const demo_opts *o, md_error *err) {
    md_store *store = NULL;
    md_status st = md_store_open(o->data_dir, &store, err);
    if (st != MD_OK) return st;
    int64_t n = 0;
    st = md_store_case_count(store, &n, err);
    if (st == MD_OK && n > 0) {
        printf("  cases:          %lld already in the store\n", (long long)n);
        md_store_close(store);
        return MD_OK;
    }
    char dir[DEMO_PATH_BYTES], csv[DEMO_PATH_BYTES];
    if (st == MD_OK && (!path_join(dir, o->data_dir, "demo") || !path_join(csv, dir, "synthetic-cases.csv")))
        st = md_error_set(err, MD_ERR_INVALID_ARG, "the data directory path is too long");
    if (st == MD_OK && mkdir(dir, 0700) != 0 && errno != EEXIST)
        st = md_error_set(err, MD_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    FILE *f = st == MD_OK ? fopen(csv, "wb") : NULL;
    if (st == MD_OK && !f) st = md_error_set(err, MD_ERR_IO, "cannot write %s: %s", csv, strerror(errno));
    if (st == MD_OK) {
        md_synth_params sp = md_synth_default_params();
        sp.seed = o->seed;
        st = md_synth_write_csv(kb, sp, o->n_cases, f, err);
    }
    if (f && fclose(f) != 0 && st == MD_OK) st = md_error_set(err, MD_ERR_IO, "cannot write %s", csv);
    md_ingest_report rep;
    memset(&rep, 0, sizeof rep);
    if (st == MD_OK) {
        md_ingest_params ip = md_ingest_default_params();
        ip.format = MD_INGEST_FORMAT_PMC_CSV;
        ip.data_dir = o->data_dir;
        st = md_ingest_file(store, csv, ip, &rep, err);
    }
    if (st == MD_OK)
        printf("  cases:          %llu synthetic cases imported (seed %llu)\n", (unsigned long long)rep.n_imported,
               (unsigned long long)o->seed);
    md_store_close(store);
    return st;
}

/* Step 4: `medify index build` unless a snapshot is current. */
static int ensure_index(const char *data_dir) {
    md_snapshot_manifest m;
    md_error err = {0};
    if (md_snapshot_manifest_read(data_dir, NULL, &m, &err) == MD_OK) {
        printf("  search index:   %s (%llu cases)\n", m.version, (unsigned long long)m.n_cases);
        return 0;
    }
    printf("  search index:   ");
    fflush(stdout);
    char *args[] = {"index", "build", "--data-dir", (char *)data_dir, NULL};
    return cmd_index(4, args);
}

static md_status random_password(char out[DEMO_PASSWORD_CHARS + 1], md_error *err) {
    /* No 0/O, 1/l/I: the password is read off a terminal and typed. */
    static const char k_alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
    unsigned char bytes[DEMO_PASSWORD_CHARS];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return md_error_set(err, MD_ERR_IO, "getrandom failed: %s", strerror(errno));
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        out[i] = k_alphabet[bytes[i] & 31u];
    out[DEMO_PASSWORD_CHARS] = '\0';
    return MD_OK;
}

/* Reads "role email password" lines written by a previous run. false when absent. */
static bool accounts_read(const char *path, demo_account *acc, size_t n_acc) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[512];
    size_t n_found = 0;
    while (fgets(line, sizeof line, f)) {
        char role[32], email[256], pw[64];
        if (line[0] == '#' || sscanf(line, "%31s %255s %63s", role, email, pw) != 3) continue;
        for (size_t i = 0; i < n_acc; i++) {
            if (strcmp(role, md_role_name(acc[i].role)) != 0 || strcmp(email, acc[i].email) != 0) continue;
            if (strlen(pw) != DEMO_PASSWORD_CHARS) continue;
            memcpy(acc[i].password, pw, DEMO_PASSWORD_CHARS + 1);
            n_found++;
        }
    }
    fclose(f);
    return n_found == n_acc;
}

static md_status accounts_write(const char *path, const demo_account *acc, size_t n_acc, md_error *err) {
    char tmp[DEMO_PATH_BYTES];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return md_error_set(err, MD_ERR_INVALID_ARG, "the data directory path is too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return md_error_set(err, MD_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return md_error_set(err, MD_ERR_IO, "cannot write %s", tmp);
    }
    fprintf(f, "# medify demo accounts of this data directory: role e-mail password\n");
    for (size_t i = 0; i < n_acc; i++)
        fprintf(f, "%s %s %s\n", md_role_name(acc[i].role), acc[i].email, acc[i].password);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return md_error_set(err, MD_ERR_IO, "cannot write %s", path);
    }
    return MD_OK;
}

/* Step 5: the accounts, created once per data directory. */
static md_status ensure_accounts(const char *data_dir, demo_account *acc, size_t n_acc, md_error *err) {
    char path[DEMO_PATH_BYTES];
    if (!path_join(path, data_dir, DEMO_ACCOUNTS_FILE))
        return md_error_set(err, MD_ERR_INVALID_ARG, "the data directory path is too long");
    if (accounts_read(path, acc, n_acc)) return MD_OK;
    md_store *store = NULL;
    md_status st = md_store_open(data_dir, &store, err);
    int64_t ids[MD_ROLE_COUNT] = {0};
    for (size_t i = 0; st == MD_OK && i < n_acc; i++) {
        st = random_password(acc[i].password, err);
        if (st == MD_OK)
            st = md_account_create(store, acc[i].email, acc[i].password, acc[i].name, acc[i].role, &ids[acc[i].role],
                                   err);
        if (st == MD_ERR_CONFLICT)
            st = md_error_set(err, MD_ERR_CONFLICT,
                              "the demo account %s exists but %s is missing, so its password is unknown; "
                              "use a new --data-dir",
                              acc[i].email, path);
    }
    if (st == MD_OK && ids[MD_ROLE_PATIENT] && ids[MD_ROLE_CLINICIAN]) {
        md_user_update u = {.set_clinician_id = true, .clinician_id = ids[MD_ROLE_CLINICIAN]};
        st = md_account_update(store, ids[MD_ROLE_PATIENT], &u, err);
    }
    if (st == MD_OK) st = accounts_write(path, acc, n_acc, err);
    if (store) md_store_close(store);
    return st;
}

/* The model the environment configures for `medify serve`, which inherits it. Opening
 * it here checks the settings before anything listens, so a wrong path fails at once
 * with its reason; the server opens its own handle. */
static md_status describe_llm(md_error *err) {
    md_llm *llm = NULL;
    md_status st = md_llm_open_from_env(&llm, err);
    if (st != MD_OK) return st;
    printf("  model:          %s\n",
           llm ? md_llm_name(llm) : "none (deterministic reports; set MEDIFY_LLM_MODEL or MEDIFY_LLM_URL for a model)");
    md_llm_free(llm);
    return MD_OK;
}

static int demo_run(const demo_opts *o) {
    md_error err = {0};
    md_kb *kb = NULL;
    md_status st = o->kb_dir ? md_kb_load_dir(o->kb_dir, &kb, &err) : md_kb_load_embedded(&kb, &err);
    if (st != MD_OK) return cli_fail(&err, false);
    printf("medify demo\n  data directory: %s\n  knowledge base: %s (%zu conditions)\n", o->data_dir,
           o->kb_dir ? o->kb_dir : "built in", md_kb_n_conditions(kb));
    fflush(stdout);
    if (mkdir(o->data_dir, 0700) != 0 && errno != EEXIST) {
        md_error_set(&err, MD_ERR_IO, "cannot create %s: %s", o->data_dir, strerror(errno));
        md_kb_free(kb);
        return cli_fail(&err, false);
    }
    st = ensure_cases(kb, o, &err);
    md_kb_free(kb);
    if (st != MD_OK) return cli_fail(&err, false);
    fflush(stdout);
    int rc = ensure_index(o->data_dir);
    if (rc) return rc;
    demo_account acc[] = {
        {MD_ROLE_PATIENT, "patient@medify.test", "Demo Patient", ""},
        {MD_ROLE_CLINICIAN, "clinician@medify.test", "Demo Clinician", ""},
        {MD_ROLE_ADMIN, "admin@medify.test", "Demo Admin", ""},
    };
    st = ensure_accounts(o->data_dir, acc, MD_ARRAY_LEN(acc), &err);
    if (st == MD_OK) st = describe_llm(&err);
    if (st != MD_OK) return cli_fail(&err, false);
    printf("\nAccounts (random passwords of this data directory, kept in %s/%s):\n", o->data_dir, DEMO_ACCOUNTS_FILE);
    for (size_t i = 0; i < MD_ARRAY_LEN(acc); i++)
        printf("  %-10s %-22s %s\n", md_role_name(acc[i].role), acc[i].email, acc[i].password);
    if (!o->serve) {
        printf("\nReady. Serve it with: medify serve --data-dir %s --insecure-cookies\n%s\n", o->data_dir,
               MD_CLINICAL_NOTICE);
        return 0;
    }
    printf("\nOpen http://127.0.0.1:%s/ in a browser. Ctrl-C stops the server.\n%s\n\n", o->port, MD_CLINICAL_NOTICE);
    fflush(stdout);
    char *args[] = {"serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    (char *)o->port,
                    "--data-dir",
                    (char *)o->data_dir,
                    "--insecure-cookies",
                    NULL};
    if (o->kb_dir) setenv("MEDIFY_KB", o->kb_dir, 1);
    return cmd_serve((int)MD_ARRAY_LEN(args) - 1, args);
}

int cmd_demo(int argc, char **argv) {
    demo_opts o;
    bool help = false;
    int rc = parse_opts(argc, argv, &o, &help);
    if (rc) return rc;
    if (help) {
        printf("%s\n%s\n", k_usage, MD_CLINICAL_NOTICE);
        return 0;
    }
    return demo_run(&o);
}
