/* Fuzzes the whole clinical path on arbitrary bytes: parse → case → assessment →
 * JSON and text summary, against the built-in knowledge base. Any input must give
 * MD_OK or a clean error; the sanitizers catch the rest. */
#include <stddef.h>
#include <stdint.h>

#include "medify/clinical.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static md_kb *kb;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!kb) {
        md_error err;
        if (md_kb_load_embedded(&kb, &err) != MD_OK) return 0;
    }
    md_case *c = md_case_new(kb);
    if (!c) return 0;
    md_error err;
    if (md_case_add_text(c, (const char *)data, size, &err) == MD_OK) {
        md_assessment a;
        if (md_assess(c, md_assess_default_params(), &a, &err) == MD_OK) {
            md_buf b;
            md_buf_init(&b);
            md_assessment_to_json(c, &a, &b);
            md_buf_clear(&b);
            md_summary_to_text(c, &a, &b);
            if (a.has_question) md_case_answer(c, &a.question, (const char *)data, size < 200 ? size : 200, &err);
            md_buf_free(&b);
            md_assessment_free(&a);
        }
    }
    md_case_free(c);
    return 0;
}
