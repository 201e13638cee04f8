/* Fuzzes the knowledge-base loader with one arbitrary .kb file (plus a valid
 * observation file it may reference). Every input must load or be rejected with
 * diagnostics; nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "medify/clinical.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k_base[] =
    "observation cough\n  name: Cough\n  kind: symptom\n  synonyms: cough; coughing\n  question: Cough?\n"
    "observation fever\n  name: Fever\n  kind: symptom\n  synonyms: fever\n  question: Fever?\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    char *text = md_malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* loader input is a C string per file */
    const char *paths[] = {"base.kb", "fuzz.kb"};
    const char *texts[] = {k_base, text};
    md_kb *kb = NULL;
    md_error err;
    if (md_kb_load_files(2, paths, texts, &kb, &err) == MD_OK) md_kb_free(kb);
    md_free(text);
    return 0;
}
