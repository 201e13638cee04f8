/* medify: one executable, many roles (see docs/architecture.md). This file only
 * dispatches to the subcommand table; each subcommand lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const cli_command k_commands[] = {
    {"assess", "assess free-text symptoms from stdin: red flags, triage, conditions, next question", cmd_assess},
    {"chat", "run the symptom interview in the terminal (works with a pipe)", cmd_chat},
    {"explain", "evidence for and against one condition, for text on stdin", cmd_explain},
    {"kb", "knowledge base: 'kb check' validates, 'kb stats' prints counts", cmd_kb},
#ifndef MEDIFY_NO_ENGINE
    {"llm", "GGUF models: 'llm info' describes a file, 'llm tokenize' runs its tokenizer", cmd_llm},
    {"model", "'model serve': a GGUF model behind the OpenAI API (chat, completions, embeddings)", cmd_model},
#endif
    {"ingest", "import case files (PMC-Patients CSV/JSON, JSONL, CSV) into the store", cmd_ingest},
    {"cases", "synthetic cases ('cases synth') and similar-case search ('cases search', query on stdin)", cmd_cases},
    {"index", "search index snapshots: 'index build', 'index info', 'index verify'", cmd_index},
    {"eval", "'eval retrieval': MRR, P@10, nDCG@10, Recall@1k from TREC qrels", cmd_eval},
    {"serve", "the HTTP API (docs/openapi.yaml): clinical endpoints, /healthz, /readyz, /metrics", cmd_serve},
    {"demo", "the embedded default: demo data, accounts and the web UI on http://127.0.0.1:8080/", cmd_demo},
    {"version", "print the version", cmd_version},
    {"help", "list the commands", cmd_help},
};

static int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("medify 0.1.0\n");
    return 0;
}

static int cmd_help(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("usage: medify <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < MD_ARRAY_LEN(k_commands); i++) printf("  %-9s %s\n", k_commands[i].name, k_commands[i].summary);
    printf("\nRun 'medify <command> --help' for a command's options.\n"
           "Environment: MEDIFY_KB=DIR loads the knowledge base from DIR instead of the built-in copy.\n\n%s\n",
           MD_CLINICAL_NOTICE);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(argc, argv);
    if (strcmp(argv[1], "--version") == 0) return cmd_version(argc, argv);
    for (size_t i = 0; i < MD_ARRAY_LEN(k_commands); i++)
        if (strcmp(argv[1], k_commands[i].name) == 0) return k_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "medify: unknown command '%s' (try 'medify help')\n", argv[1]);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}
