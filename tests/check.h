/* A minimal test harness: CHECK records a failure and continues, so one run reports
 * every broken expectation; the test's exit status is the failure count (capped). */
#ifndef MEDIFY_TESTS_CHECK_H
#define MEDIFY_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                    \
    do {                                                                                      \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                       \
        CHECK_MSG(check_a_ == check_b_, "%s = %lld, %s = %lld", #a, check_a_, #b, check_b_); \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                 \
    do {                                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                                       \
        CHECK_MSG(check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0, "\"%s\" != \"%s\"", \
                  check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double check_a_ = (double)(a), check_b_ = (double)(b);                             \
        CHECK_MSG(fabs(check_a_ - check_b_) <= (tol), "%s = %g, %s = %g (tol %g)", #a,     \
                  check_a_, #b, check_b_, (double)(tol));                                  \
    } while (0)

static inline int check_report(const char *name) {
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures > 100 ? 100 : check_failures;
}

#endif
