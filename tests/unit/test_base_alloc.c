/* The allocation hook: the countdown fails exactly the Nth allocation (or every one
 * from the Nth), counts attempts, reports injected failures, and stays exact when
 * several threads allocate at once. */
#include "check.h"
#include "medify/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

static void test_countdown_once(void) {
    md_alloc_fail_after(3, false);
    CHECK(!md_alloc_failed());
    void *a = md_malloc(8);
    void *b = md_calloc(2, 8);
    CHECK(a != NULL);
    CHECK(b != NULL);
    CHECK(!md_alloc_failed());
    void *c = md_malloc(8); /* the third: fails */
    CHECK(c == NULL);
    CHECK(md_alloc_failed());
    void *d = md_malloc(8); /* not repeating: works again */
    CHECK(d != NULL);
    CHECK(md_alloc_failed()); /* the flag stays set until the next plan */
    md_free(a);
    md_free(b);
    md_free(d);
    md_alloc_fail_after(0, false);
    CHECK(!md_alloc_failed());
}

static void test_countdown_repeat(void) {
    md_alloc_fail_after(2, true);
    char *a = md_malloc(4);
    CHECK(a != NULL);
    CHECK(md_malloc(4) == NULL);
    CHECK(md_calloc(1, 1) == NULL);
    CHECK(md_strdup("x") == NULL);
    /* realloc failure leaves the old block owned by the caller, contents intact */
    memcpy(a, "abc", 4);
    CHECK(md_realloc(a, 1024) == NULL);
    CHECK_EQ_STR(a, "abc");
    md_alloc_fail_after(0, false);
    char *grown = md_realloc(a, 1024);
    CHECK(grown != NULL);
    CHECK_EQ_STR(grown, "abc");
    md_free(grown);
}

static void test_count(void) {
    uint64_t before = md_alloc_count();
    void *a = md_malloc(1);
    void *b = md_realloc(a, 100);
    char *c = md_strndup("hello", 3);
    uint64_t after = md_alloc_count();
    CHECK_EQ_INT(after - before, 3);
    CHECK_EQ_STR(c, "hel");
    md_free(b);
    md_free(c);
    md_free(NULL); /* no-op */
}

static void test_edge_cases(void) {
    /* zero bytes still gives a distinct, freeable pointer: NULL only means failure */
    void *z = md_malloc(0);
    CHECK(z != NULL);
    md_free(z);
    z = md_calloc(0, 16);
    CHECK(z != NULL);
    md_free(z);
    /* n_items * item_bytes overflow is refused rather than wrapped */
    CHECK(md_calloc(SIZE_MAX / 2 + 2, 2) == NULL);
    CHECK(md_calloc(SIZE_MAX, SIZE_MAX) == NULL);
    unsigned char *zeros = md_calloc(64, 4);
    CHECK(zeros != NULL);
    int all_zero = 1;
    for (size_t i = 0; zeros && i < 256; i++) {
        all_zero &= zeros[i] == 0;
    }
    CHECK(all_zero);
    md_free(zeros);
    CHECK(md_strdup(NULL) == NULL);
    char *s = md_strndup("abc", 10); /* n larger than the string stops at the NUL */
    CHECK_EQ_STR(s, "abc");
    md_free(s);
    char not_terminated[3] = {'x', 'y', 'z'};
    s = md_strndup(not_terminated, 2);
    CHECK_EQ_STR(s, "xy");
    md_free(s);
}

/* ---- concurrency: tickets are exact across threads ---- */

#define N_THREADS 4
#define N_PER_THREAD 2000

static atomic_int n_null;

static void *alloc_worker(void *arg) {
    (void)arg;
    for (int i = 0; i < N_PER_THREAD; i++) {
        void *p = md_malloc(16);
        if (!p) {
            atomic_fetch_add(&n_null, 1);
        }
        md_free(p);
    }
    return NULL;
}

static int run_workers(void) {
    atomic_store(&n_null, 0);
    pthread_t threads[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        pthread_create(&threads[t], NULL, alloc_worker, NULL);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(threads[t], NULL);
    }
    return atomic_load(&n_null);
}

static void test_threads(void) {
    const int total = N_THREADS * N_PER_THREAD;
    md_alloc_fail_after(total / 2, false);
    CHECK_EQ_INT(run_workers(), 1);
    CHECK(md_alloc_failed());

    md_alloc_fail_after((uint64_t)total / 2, true);
    CHECK_EQ_INT(run_workers(), total - (total / 2 - 1));

    md_alloc_fail_after(0, false);
    CHECK_EQ_INT(run_workers(), 0);
    CHECK(!md_alloc_failed());
}

int main(void) {
    test_countdown_once();
    test_countdown_repeat();
    test_count();
    test_edge_cases();
    test_threads();
    return check_report("test_base_alloc");
}
