/* medify serve: the HTTP/JSON API (src/server, docs/openapi.yaml).
 *
 * Settings come from the table below, in rising precedence: defaults, a config file
 * (--config FILE or MEDIFY_CONFIG), MEDIFY_* environment variables (MEDIFY_PORT,
 * MEDIFY_THREADS, ...), flags (--port 8080 or --port=8080). SIGTERM and SIGINT start a
 * graceful stop: no new connections, in-flight requests finish within
 * shutdown-grace-ms, exit 0 (75, the timeout exit code, if some had to be cut off).
 *
 * Signals are blocked in every thread before the server starts (its threads inherit
 * the mask) and taken synchronously here with sigwait, so no handler runs in signal
 * context and no global flag is needed.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "medify/server.h"
#include "medify/accounts.h"
#include "medify/store.h"


static const char k_usage[] =
    "usage: medify serve [--host 127.0.0.1] [--port 8080] [--threads N] [--kb DIR] [--data-dir DIR]\n"
    "                    [--insecure-cookies] [--config FILE] [--OPTION VALUE]\n"
    "Serves the HTTP API (docs/openapi.yaml, also at GET /v1/openapi.yaml) until SIGTERM or SIGINT.\n";

static const md_config_option k_serve_options[] = {
    {"host", MD_CONFIG_TYPE_STRING, "127.0.0.1", 0, -1, "address to listen on"},
    {"port", MD_CONFIG_TYPE_INT, "8080", 0, 65535, "TCP port (0: any free port, printed in the 'listening' log line)"},
    {"threads", MD_CONFIG_TYPE_INT, "0", 0, 256, "worker threads (0: one per online CPU)"},
    {"kb", MD_CONFIG_TYPE_STRING, NULL, 0, -1, "knowledge-base directory (default: the built-in copy)"},
    {"log-level", MD_CONFIG_TYPE_STRING, "info", 0, -1, "debug, info, warn, error or off (JSON lines on stderr)"},
    {"max-body-bytes", MD_CONFIG_TYPE_INT, "65536", 1024, 16777216, "largest request body (larger: 413)"},
    {"max-header-bytes", MD_CONFIG_TYPE_INT, "32768", 4096, 1048576, "memory for a request's headers (larger: 431)"},
    {"max-connections", MD_CONFIG_TYPE_INT, "1024", 1, 65536, "concurrent connections"},
    {"idle-timeout-s", MD_CONFIG_TYPE_INT, "30", 1, 3600, "close a connection silent this long"},
    {"request-timeout-ms", MD_CONFIG_TYPE_INT, "30000", 100, 600000, "a request body must arrive within this"},
    {"shutdown-grace-ms", MD_CONFIG_TYPE_INT, "10000", 0, 600000, "time in-flight requests get after SIGTERM"},
    {"cors-origin", MD_CONFIG_TYPE_STRING, NULL, 0, -1, "allowed CORS origin (default: CORS off)"},
    {"data-dir", MD_CONFIG_TYPE_STRING, NULL, 0, -1,
     "the store of accounts, interviews and reports (default: $MEDIFY_DATA, else ./medify-data)"},
    {"insecure-cookies", MD_CONFIG_TYPE_BOOL, "false", 0, -1,
     "session cookie without Secure, for plain http://127.0.0.1 (never behind a real address)"},
    {"session-ttl-s", MD_CONFIG_TYPE_INT, "43200", 60, 2592000, "sign-in session lifetime"},
    {"rate-limit", MD_CONFIG_TYPE_DOUBLE, "50", 0, 1000000, "API requests per second per client address (0: off)"},
    {"rate-burst", MD_CONFIG_TYPE_DOUBLE, "500", 1, 1000000, "burst allowance per client address"},
    {"user-rate-limit", MD_CONFIG_TYPE_DOUBLE, "20", 0, 1000000, "requests per second per user or API key (0: off)"},
    {"user-rate-burst", MD_CONFIG_TYPE_DOUBLE, "200", 1, 1000000, "burst allowance per user or API key"},
    {"password-memory-kib", MD_CONFIG_TYPE_INT, "19456", 8, 4194304,
     "Argon2id memory per password hash (OWASP: 19 MiB with 2 iterations)"},
    {"password-iterations", MD_CONFIG_TYPE_INT, "2", 1, 16, "Argon2id iterations per password hash"},
    {"admin-email", MD_CONFIG_TYPE_STRING, NULL, 0, -1,
     "create this admin account at start when it does not exist (password from $MEDIFY_ADMIN_PASSWORD)"},
};

/* The first admin: created once from admin-email and $MEDIFY_ADMIN_PASSWORD (the
 * password is never a flag, so it stays out of process listings). */
static int bootstrap_admin(const md_server_params *p, const char *email) {
    if (!email || !*email) return 0;
    md_error err = {0};
    const char *password = getenv("MEDIFY_ADMIN_PASSWORD");
    if (!password || !*password) {
        md_error_set(&err, MD_ERR_CONFIG, "admin-email needs the password in MEDIFY_ADMIN_PASSWORD");
        return cli_fail(&err, false);
    }
    md_store *s = NULL;
    md_status st = md_store_open(p->data_dir, &s, &err);
    if (st == MD_OK) {
        md_password_params pp = md_password_default_params();
        if (p->password_memory_kib) pp.memory_kib = p->password_memory_kib;
        if (p->password_iterations) pp.iterations = p->password_iterations;
        md_account_set_password_params(s, pp);
        int64_t id = 0;
        st = md_account_create(s, email, password, "Administrator", MD_ROLE_ADMIN, &id, &err);
        if (st == MD_ERR_CONFLICT) st = MD_OK; /* exists already: left as it is */
    }
    md_store_close(s);
    return st == MD_OK ? 0 : cli_fail(&err, false);
}

/* Flags that may stand alone (meaning true). */
static const char *const k_serve_switches[] = {"insecure-cookies", NULL};

static void print_help(void) {
    printf("%s\nSettings (flags > MEDIFY_* environment > config file > defaults):\n", k_usage);
    for (size_t k = 0; k < MD_ARRAY_LEN(k_serve_options); k++) {
        const md_config_option *o = &k_serve_options[k];
        printf("  --%-20s %s%s%s%s\n", o->name, o->help, o->default_value ? " [" : "",
               o->default_value ? o->default_value : "", o->default_value ? "]" : "");
    }
    printf("\n%s\n", MD_CLINICAL_NOTICE);
}

static int serve(md_config *cfg) {
    md_error err = {0};
    md_logger log = md_logger_default();
    log.component = "server";
    const char *lv = md_config_get_str(cfg, "log-level");
    if (lv && !md_log_level_parse(lv, &log.min_level)) {
        md_error_set(&err, MD_ERR_CONFIG, "log-level must be debug, info, warn, error or off, got '%s'", lv);
        return cli_fail(&err, false);
    }
    md_kb *kb = NULL;
    const char *kb_dir = md_config_get_str(cfg, "kb");
    md_status st = kb_dir && *kb_dir ? md_kb_load_dir(kb_dir, &kb, &err) : md_kb_load_embedded(&kb, &err);
    if (st != MD_OK) return cli_fail(&err, false);

    md_server_params p = md_server_default_params();
    p.log = log;
    p.host = md_config_get_str(cfg, "host");
    p.port = (int)md_config_get_int(cfg, "port");
    p.n_threads = (int)md_config_get_int(cfg, "threads");
    if (p.n_threads == 0) {
        long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
        p.n_threads = n_cpu > 0 && n_cpu <= 256 ? (int)n_cpu : MD_SERVER_DEFAULT_THREADS;
    }
    p.max_body_bytes = (size_t)md_config_get_int(cfg, "max-body-bytes");
    p.max_header_bytes = (size_t)md_config_get_int(cfg, "max-header-bytes");
    p.max_connections = (int)md_config_get_int(cfg, "max-connections");
    p.idle_timeout_s = (int)md_config_get_int(cfg, "idle-timeout-s");
    p.request_timeout_ms = (int)md_config_get_int(cfg, "request-timeout-ms");
    p.cors_origin = md_config_get_str(cfg, "cors-origin");
    uint32_t grace_ms = (uint32_t)md_config_get_int(cfg, "shutdown-grace-ms");
    p.data_dir = md_store_data_dir(md_config_get_str(cfg, "data-dir"));
    p.insecure_cookies = md_config_get_bool(cfg, "insecure-cookies");
    p.session_ttl_ms = md_config_get_int(cfg, "session-ttl-s") * 1000;
    p.rate_ip_per_s = md_config_get_double(cfg, "rate-limit");
    p.rate_ip_burst = md_config_get_double(cfg, "rate-burst");
    p.rate_user_per_s = md_config_get_double(cfg, "user-rate-limit");
    p.rate_user_burst = md_config_get_double(cfg, "user-rate-burst");
    p.password_memory_kib = (uint32_t)md_config_get_int(cfg, "password-memory-kib");
    p.password_iterations = (uint32_t)md_config_get_int(cfg, "password-iterations");
    int brc = bootstrap_admin(&p, md_config_get_str(cfg, "admin-email"));
    if (brc) {
        md_kb_free(kb);
        return brc;
    }

    /* Block the stop signals before any server thread exists, so they inherit the mask
     * and only sigwait below sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    md_server *srv = NULL;
    st = md_server_new(kb, p, &srv, &err);
    if (st == MD_OK) st = md_server_start(srv, &err);
    if (st != MD_OK) {
        md_server_free(srv);
        md_kb_free(kb);
        return cli_fail(&err, false);
    }
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    md_log(&log, MD_LOG_LEVEL_INFO, "stopping", MD_LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
           MD_LOG_INT("in_flight", md_server_n_in_flight(srv)), MD_LOG_INT("grace_ms", grace_ms));
    st = md_server_stop(srv, grace_ms);
    md_server_free(srv);
    md_kb_free(kb);
    return st == MD_OK ? 0 : md_status_exit_code(st);
}

int cmd_serve(int argc, char **argv) {
    md_config *cfg = md_config_new(k_serve_options, MD_ARRAY_LEN(k_serve_options));
    if (!cfg) {
        fprintf(stderr, "medify: error: out of memory\n");
        return md_status_exit_code(MD_ERR_NOMEM);
    }
    bool help = false;
    int rc = cli_load_settings(argc, argv, cfg, k_serve_switches, k_usage, &help);
    if (rc == 0 && help)
        print_help();
    else if (rc == 0)
        rc = serve(cfg);
    md_config_free(cfg);
    return rc;
}
