/* Shared helpers of the medify command-line tool. */
#ifndef MEDIFY_CLI_H
#define MEDIFY_CLI_H

#include "medify/base.h"
#include "medify/clinical.h"

/* One subcommand: name, one-line help, entry point (argv[0] is the subcommand). */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

int cmd_assess(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_kb(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_llm(int argc, char **argv);
int cmd_cases(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_model(int argc, char **argv);

/* Options common to the clinical commands. Settings come from, in rising precedence:
 * built-in defaults, a config file (--config FILE or MEDIFY_CONFIG), MEDIFY_* environment
 * variables, command-line flags (see k_cli_options in common.c). */
typedef struct cli_clinical_opts {
    md_config *config;    /* owned; freed by cli_opts_free */
    md_logger log;        /* JSON lines on stderr at the configured level */
    const char *kb_dir;   /* resolved "kb" setting, or NULL for the built-in copy */
    bool json;            /* --json */
    bool fhir;            /* --fhir (assess): a FHIR R4 Bundle instead */
    double age_years;     /* --age N, < 0 when not given */
    md_sex sex;           /* --sex male|female */
    const char *condition;/* --condition ID (explain) */
} cli_clinical_opts;

/* Parses the options above; returns 0 or a usage/config exit code after printing the
 * error. On 0 the caller must call cli_opts_free. */
int cli_parse_clinical_opts(int argc, char **argv, cli_clinical_opts *o, const char *usage);
void cli_opts_free(cli_clinical_opts *o);

/* Prints "medify: <message>" on stderr (and a JSON error object on stdout when json),
 * returns the exit code of the status. */
int cli_fail(const md_error *err, bool json);

/* Settings of a server command into cfg, rising precedence: defaults, config file
 * (--config FILE or MEDIFY_CONFIG), MEDIFY_* environment, flags (--name VALUE or
 * --name=VALUE; a name listed in `switches`, NULL-terminated or NULL, may stand alone
 * and means true). Returns 0 (with *help set for --help) or an exit code after
 * printing why, with `usage`. */
int cli_load_settings(int argc, char **argv, md_config *cfg, const char *const *switches, const char *usage,
                      bool *help);

/* Loads the knowledge base per the options; prints and returns an exit code on error. */
int cli_load_kb(const cli_clinical_opts *o, md_kb **kb);

#endif
