/* medify kb check|stats: validate the knowledge base, print its counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char k_usage[] =
    "usage: medify kb check [--kb DIR] [--json]\n"
    "       medify kb stats [--kb DIR] [--json]\n"
    "check reports every schema and reference error as file:line: message and exits\n"
    "non-zero when there is any; stats prints counts. Without --kb (or MEDIFY_KB) the\n"
    "built-in knowledge base is used.\n";

static int kb_check(const cli_clinical_opts *o) {
    md_arena a;
    md_arena_init(&a, 0);
    md_kb_diag *diags = NULL;
    size_t n = 0;
    md_error err = {0};
    const char *dir = o->kb_dir;
    md_status st = dir && *dir ? md_kb_check_dir(dir, &a, &diags, &n, &err) : md_kb_check_embedded(&a, &diags, &n, &err);
    if (st != MD_OK && st != MD_ERR_KB) {
        md_arena_free(&a);
        return cli_fail(&err, o->json);
    }
    if (o->json) {
        md_buf b;
        md_buf_init(&b);
        md_buf_appendf(&b, "{\"ok\":%s,\"errors\":[", n == 0 ? "true" : "false");
        for (size_t i = 0; i < n; i++) {
            if (i) md_buf_append_char(&b, ',');
            md_buf_append_str(&b, "{\"file\":");
            md_buf_append_json_str(&b, diags[i].file, strlen(diags[i].file));
            md_buf_appendf(&b, ",\"line\":%d,\"message\":", diags[i].line);
            md_buf_append_json_str(&b, diags[i].message, strlen(diags[i].message));
            md_buf_append_char(&b, '}');
        }
        md_buf_append_str(&b, "]}\n");
        if (md_buf_ok(&b)) fputs(b.data, stdout);
        md_buf_free(&b);
    } else {
        for (size_t i = 0; i < n; i++) printf("%s:%d: %s\n", diags[i].file, diags[i].line, diags[i].message);
        if (n == 0) printf("knowledge base OK\n");
        else fprintf(stderr, "medify: %zu problem%s in the knowledge base\n", n, n == 1 ? "" : "s");
    }
    md_arena_free(&a);
    return n == 0 ? 0 : md_status_exit_code(MD_ERR_KB);
}

static int kb_stats(const cli_clinical_opts *o) {
    md_kb *kb = NULL;
    int rc = cli_load_kb(o, &kb);
    if (rc) return rc;
    size_t n_links = 0, by_level[MD_TRIAGE_COUNT] = {0}, kinds[4] = {0};
    for (size_t i = 0; i < md_kb_n_conditions(kb); i++) {
        const md_kb_condition *c = md_kb_condition_at(kb, i);
        n_links += c->n_evidence;
        by_level[c->triage]++;
    }
    for (size_t i = 0; i < md_kb_n_observations(kb); i++) kinds[md_kb_observation_at(kb, i)->kind]++;
    /* conditions per body system */
    const char *systems[64];
    size_t counts[64], n_sys = 0;
    for (size_t i = 0; i < md_kb_n_conditions(kb); i++) {
        const char *s = md_kb_condition_at(kb, i)->system;
        size_t k;
        for (k = 0; k < n_sys; k++)
            if (strcmp(systems[k], s) == 0) break;
        if (k == n_sys && n_sys < 64) {
            systems[n_sys] = s;
            counts[n_sys++] = 0;
        }
        if (k < 64) counts[k]++;
    }
    if (o->json) {
        printf("{\"conditions\":%zu,\"observations\":%zu,\"synonyms\":%zu,\"questions\":%zu,\"red_flags\":%zu,"
               "\"evidence_links\":%zu,\"observation_kinds\":{\"symptom\":%zu,\"sign\":%zu,\"risk_factor\":%zu,\"history\":%zu},"
               "\"conditions_by_triage\":{",
               md_kb_n_conditions(kb), md_kb_n_observations(kb), md_kb_n_synonyms(kb), md_kb_n_questions(kb),
               md_kb_n_redflags(kb), n_links, kinds[0], kinds[1], kinds[2], kinds[3]);
        for (int l = 0; l < MD_TRIAGE_COUNT; l++)
            printf("%s\"%s\":%zu", l ? "," : "", md_triage_level_name((md_triage_level)l), by_level[l]);
        printf("},\"conditions_by_system\":{");
        for (size_t k = 0; k < n_sys; k++) printf("%s\"%s\":%zu", k ? "," : "", systems[k], counts[k]);
        printf("}}\n");
    } else {
        printf("conditions      %zu\nobservations    %zu (symptom %zu, sign %zu, risk factor %zu, history %zu)\n"
               "synonyms        %zu\nquestions       %zu\nred flags       %zu\nevidence links  %zu\n",
               md_kb_n_conditions(kb), md_kb_n_observations(kb), kinds[0], kinds[1], kinds[2], kinds[3],
               md_kb_n_synonyms(kb), md_kb_n_questions(kb), md_kb_n_redflags(kb), n_links);
        printf("conditions by default triage:\n");
        for (int l = MD_TRIAGE_COUNT - 1; l >= 0; l--)
            printf("  %-20s %zu\n", md_triage_level_name((md_triage_level)l), by_level[l]);
        printf("conditions by system:\n");
        for (size_t k = 0; k < n_sys; k++) printf("  %-20s %zu\n", systems[k], counts[k]);
    }
    md_kb_free(kb);
    return 0;
}

int cmd_kb(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s", k_usage);
        return argc < 2 ? md_status_exit_code(MD_ERR_INVALID_ARG) : 0;
    }
    cli_clinical_opts o;
    int rc = cli_parse_clinical_opts(argc - 1, argv + 1, &o, k_usage);
    if (rc) return rc;
    if (strcmp(argv[1], "check") == 0) rc = kb_check(&o);
    else if (strcmp(argv[1], "stats") == 0) rc = kb_stats(&o);
    else {
        fprintf(stderr, "medify: unknown kb command '%s'\n%s", argv[1], k_usage);
        rc = md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    cli_opts_free(&o);
    return rc;
}
