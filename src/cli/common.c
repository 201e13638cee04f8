/* Option parsing and error reporting shared by the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Settings of the clinical commands: name, type, default, bounds, help. The environment
 * variable of each is MEDIFY_ + its name in upper case (MEDIFY_KB, MEDIFY_LOG_LEVEL). */
static const md_config_option k_cli_options[] = {
    {"kb", MD_CONFIG_TYPE_STRING, NULL, 0, -1, "knowledge-base directory (default: the built-in copy)"},
    {"log-level", MD_CONFIG_TYPE_STRING, "warn", 0, -1, "debug, info, warn, error or off (JSON lines on stderr)"},
};

static int config_fail(const md_error *err) {
    fprintf(stderr, "medify: error: %s\n", err->message[0] ? err->message : md_status_message(err->status));
    return md_status_exit_code(err->status == MD_ERR_NOT_FOUND ? MD_ERR_CONFIG : err->status);
}

int cli_parse_clinical_opts(int argc, char **argv, cli_clinical_opts *o, const char *usage) {
    memset(o, 0, sizeof *o);
    o->age_years = -1;
    o->log = md_logger_default();
    o->config = md_config_new(k_cli_options, MD_ARRAY_LEN(k_cli_options));
    if (!o->config) {
        fprintf(stderr, "medify: error: out of memory\n");
        return md_status_exit_code(MD_ERR_NOMEM);
    }
    md_error err = {0};
    const char *config_file = getenv("MEDIFY_CONFIG");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        md_status st = MD_OK;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s\nSettings: --config FILE (or MEDIFY_CONFIG) with 'name = value' lines; MEDIFY_* environment\n"
                   "variables override the file and flags override both:\n",
                   usage);
            for (size_t k = 0; k < MD_ARRAY_LEN(k_cli_options); k++)
                printf("  --%-10s %s\n", k_cli_options[k].name, k_cli_options[k].help);
            cli_opts_free(o);
            exit(0); /* the CLI's own help: nothing else to clean up */
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--fhir") == 0) {
            o->fhir = true;
        } else if (strcmp(a, "--config") == 0 && val) {
            config_file = val;
            i++;
        } else if ((strcmp(a, "--kb") == 0 || strcmp(a, "--log-level") == 0) && val) {
            st = md_config_set(o->config, a + 2, val, MD_CONFIG_SOURCE_FLAG, &err);
            i++;
        } else if (strcmp(a, "--condition") == 0 && val) {
            o->condition = val;
            i++;
        } else if (strcmp(a, "--age") == 0 && val) {
            char *end;
            double v = strtod(val, &end);
            if (end == val || *end != '\0' || v < 0 || v > 130) {
                fprintf(stderr, "medify: --age needs a number of years from 0 to 130, got '%s'\n", val);
                cli_opts_free(o);
                return md_status_exit_code(MD_ERR_INVALID_ARG);
            }
            o->age_years = v;
            i++;
        } else if (strcmp(a, "--sex") == 0 && val) {
            if (!md_sex_parse(val, &o->sex) || o->sex == MD_SEX_UNKNOWN) {
                fprintf(stderr, "medify: --sex must be male or female, got '%s'\n", val);
                cli_opts_free(o);
                return md_status_exit_code(MD_ERR_INVALID_ARG);
            }
            i++;
        } else {
            fprintf(stderr, "medify: unknown or incomplete option '%s'\n%s", a, usage);
            cli_opts_free(o);
            return md_status_exit_code(MD_ERR_INVALID_ARG);
        }
        if (st != MD_OK) {
            cli_opts_free(o);
            return config_fail(&err);
        }
    }
    md_status st = MD_OK;
    if (config_file && *config_file) st = md_config_load_file(o->config, config_file, &err);
    if (st == MD_OK) st = md_config_load_env(o->config, &err);
    md_log_level level = MD_LOG_LEVEL_WARN;
    const char *lv = md_config_get_str(o->config, "log-level");
    if (st == MD_OK && lv && !md_log_level_parse(lv, &level))
        st = md_error_set(&err, MD_ERR_CONFIG, "log-level must be debug, info, warn, error or off, got '%s'", lv);
    if (st != MD_OK) {
        cli_opts_free(o);
        return config_fail(&err);
    }
    o->log.min_level = level;
    o->log.component = "cli";
    const char *kb = md_config_get_str(o->config, "kb");
    o->kb_dir = kb && *kb ? kb : NULL;
    return 0;
}

void cli_opts_free(cli_clinical_opts *o) {
    md_config_free(o->config);
    o->config = NULL;
}

int cli_fail(const md_error *err, bool json) {
    const char *msg = err->message[0] ? err->message : md_status_message(err->status);
    fprintf(stderr, "medify: error: %s\n", msg);
    if (json) {
        md_buf b;
        md_buf_init(&b);
        md_buf_append_str(&b, "{\"error\":{\"code\":");
        md_buf_append_json_str(&b, md_status_name(err->status), strlen(md_status_name(err->status)));
        md_buf_append_str(&b, ",\"message\":");
        md_buf_append_json_str(&b, msg, strlen(msg));
        md_buf_append_str(&b, "}}\n");
        if (md_buf_ok(&b)) fputs(b.data, stdout);
        md_buf_free(&b);
    }
    return md_status_exit_code(err->status);
}

int cli_load_kb(const cli_clinical_opts *o, md_kb **kb) {
    md_error err = {0};
    uint64_t t0 = md_clock_monotonic_ns();
    md_status st = o->kb_dir ? md_kb_load_dir(o->kb_dir, kb, &err) : md_kb_load_embedded(kb, &err);
    if (st != MD_OK) {
        md_log(&o->log, MD_LOG_LEVEL_ERROR, "knowledge base failed to load", MD_LOG_STR("status", md_status_name(st)));
        return cli_fail(&err, o->json);
    }
    md_log(&o->log, MD_LOG_LEVEL_DEBUG, "knowledge base loaded", MD_LOG_STR("source", o->kb_dir ? "dir" : "built-in"),
           MD_LOG_INT("conditions", md_kb_n_conditions(*kb)), MD_LOG_INT("observations", md_kb_n_observations(*kb)),
           MD_LOG_DOUBLE("ms", (double)(md_clock_monotonic_ns() - t0) / 1e6));
    return 0;
}

/* Prints "medify: <fmt with arg>" and the usage; returns the usage exit code. */
static int settings_usage_error(const char *usage, const char *fmt, const char *arg) {
    fprintf(stderr, "medify: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

int cli_load_settings(int argc, char **argv, md_config *cfg, const char *const *switches, const char *usage,
                      bool *help) {
    md_error err = {0};
    const char *config_file = getenv("MEDIFY_CONFIG");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) return settings_usage_error(usage, "unexpected argument '%s'", a);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t n_name = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (n_name == 0 || n_name >= sizeof name) return settings_usage_error(usage, "unknown option '%s'", a);
        memcpy(name, a + 2, n_name);
        name[n_name] = '\0';
        bool is_switch = false;
        for (size_t k = 0; switches && switches[k]; k++)
            if (strcmp(name, switches[k]) == 0) is_switch = true;
        /* A bare boolean switch means true. */
        const char *val = eq ? eq + 1 : is_switch ? "true" : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return settings_usage_error(usage, "option '%s' needs a value", a);
        if (strcmp(name, "config") == 0) {
            config_file = val;
            continue;
        }
        md_status st = md_config_set(cfg, name, val, MD_CONFIG_SOURCE_FLAG, &err);
        if (st == MD_ERR_NOT_FOUND) return settings_usage_error(usage, "unknown option '%s'", a);
        if (st != MD_OK) return cli_fail(&err, false);
    }
    if (config_file && *config_file && md_config_load_file(cfg, config_file, &err) != MD_OK)
        return cli_fail(&err, false);
    if (md_config_load_env(cfg, &err) != MD_OK) return cli_fail(&err, false);
    return 0;
}
