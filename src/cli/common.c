/* Option parsing and error reporting shared by the clinical subcommands. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_parse_clinical_opts(int argc, char **argv, cli_clinical_opts *o, const char *usage) {
    memset(o, 0, sizeof *o);
    o->age_years = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", usage);
            exit(0); /* the CLI's own help: nothing to clean up yet */
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--kb") == 0 && val) {
            o->kb_dir = val;
            i++;
        } else if (strcmp(a, "--condition") == 0 && val) {
            o->condition = val;
            i++;
        } else if (strcmp(a, "--age") == 0 && val) {
            char *end;
            double v = strtod(val, &end);
            if (end == val || *end != '\0' || v < 0 || v > 130) {
                fprintf(stderr, "medify: --age needs a number of years from 0 to 130, got '%s'\n", val);
                return md_status_exit_code(MD_ERR_INVALID_ARG);
            }
            o->age_years = v;
            i++;
        } else if (strcmp(a, "--sex") == 0 && val) {
            if (!md_sex_parse(val, &o->sex) || o->sex == MD_SEX_UNKNOWN) {
                fprintf(stderr, "medify: --sex must be male or female, got '%s'\n", val);
                return md_status_exit_code(MD_ERR_INVALID_ARG);
            }
            i++;
        } else {
            fprintf(stderr, "medify: unknown or incomplete option '%s'\n%s", a, usage);
            return md_status_exit_code(MD_ERR_INVALID_ARG);
        }
    }
    return 0;
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
    md_status st = md_kb_load_default(o->kb_dir, kb, &err);
    if (st != MD_OK) return cli_fail(&err, o->json);
    return 0;
}
