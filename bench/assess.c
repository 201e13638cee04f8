/* bench/assess: assessments per second on one core for a ~600-character complaint,
 * and peak memory. Each iteration does the full path a request does: new case,
 * parse, red flags, inference, triage, next question, JSON rendering.
 * Prints one JSON line:
 *   {"bench":"assess","text_bytes":N,"iterations":N,"seconds":S,"per_second":R,
 *    "us_per_assessment":U,"peak_rss_kib":K}
 * Usage: bench_assess [SECONDS] [ITERATIONS]: runs SECONDS (default 3), or exactly
 * ITERATIONS assessments when given (for instruction counts under callgrind). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "medify/clinical.h"

static const char k_complaint[] =
    "I'm a 54 year old man. Since about 6 o'clock this morning I've had a heavy, tight pain in the "
    "middle of my chest that spreads to my left arm and jaw. It came on while I was walking the dog "
    "and it hasn't gone away with rest. It's about 7 out of 10. I feel sick and a bit sweaty and "
    "short of breath when I climb the stairs. No fever, no cough, I haven't coughed up any blood. "
    "I have type 2 diabetes and high blood pressure, I smoke about 10 a day and my father had a "
    "heart attack at 60. I took two paracetamol and some gaviscon but it didn't help. Never had "
    "anything like this before. What should I do if it gets worse tonight?";

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (seconds <= 0) seconds = 3.0;
    long fixed = argc > 2 ? atol(argv[2]) : 0;
    md_kb *kb = NULL;
    md_error err = {0};
    if (md_kb_load_default(NULL, &kb, &err) != MD_OK) {
        fprintf(stderr, "bench_assess: %s\n", err.message);
        return 1;
    }
    size_t n_bytes = strlen(k_complaint);
    md_buf out;
    md_buf_init(&out);
    uint64_t iterations = 0, t0 = md_clock_monotonic_ns(), deadline = t0 + (uint64_t)(seconds * 1e9);
    size_t checksum = 0;
    for (;;) {
        for (int k = 0; k < (fixed > 0 && fixed < 64 ? fixed : 64); k++) {
            md_case *c = md_case_new(kb);
            md_assessment a;
            if (!c || md_case_add_text(c, k_complaint, n_bytes, &err) != MD_OK ||
                md_assess(c, md_assess_default_params(), &a, &err) != MD_OK) {
                fprintf(stderr, "bench_assess: %s\n", err.message);
                return 1;
            }
            md_buf_clear(&out);
            md_assessment_to_json(c, &a, &out);
            checksum += out.len + a.n_redflags;
            md_assessment_free(&a);
            md_case_free(c);
            iterations++;
        }
        if (fixed > 0 ? iterations >= (uint64_t)fixed : md_clock_monotonic_ns() >= deadline) break;
    }
    double elapsed = (double)(md_clock_monotonic_ns() - t0) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"bench\":\"assess\",\"text_bytes\":%zu,\"iterations\":%llu,\"seconds\":%.3f,\"per_second\":%.0f,"
           "\"us_per_assessment\":%.1f,\"peak_rss_kib\":%ld,\"checksum\":%zu}\n",
           n_bytes, (unsigned long long)iterations, elapsed, (double)iterations / elapsed,
           1e6 * elapsed / (double)iterations, ru.ru_maxrss, checksum);
    md_buf_free(&out);
    md_kb_free(kb);
    return 0;
}
