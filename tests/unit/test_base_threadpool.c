/* The persistent thread pool: every thread of a run gets its own ith and the right
 * nth; work claimed through a counter is done exactly once; a barrier separates
 * phases (no thread reads phase-2 input before all phase-1 writes); runs repeat
 * thousands of times on the same workers, also after the workers fell asleep; NULL
 * and one-thread pools run on the caller; bad thread counts are refused. */
#include "check.h"
#include "medify/threadpool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_ITEMS 1000

typedef struct job {
    md_pool *pool;
    atomic_int seen_ith[MD_POOL_MAX_THREADS];
    atomic_int bad_nth;
    int want_nth;
    md_pool_counter next;
    atomic_int done[N_ITEMS];
    int phase1[MD_POOL_MAX_THREADS];
    atomic_int phase_errors;
} job;

static void job_fn(void *ctx, int ith, int nth) {
    job *j = ctx;
    atomic_fetch_add(&j->seen_ith[ith], 1);
    if (nth != j->want_nth) atomic_fetch_add(&j->bad_nth, 1);
    for (long c = md_pool_counter_next(&j->next); c < N_ITEMS; c = md_pool_counter_next(&j->next))
        atomic_fetch_add(&j->done[c], 1);
    /* phase 1: each thread writes its slot; phase 2: every thread reads all slots */
    j->phase1[ith] = ith + 1;
    md_pool_barrier(j->pool);
    for (int i = 0; i < nth; i++)
        if (j->phase1[i] != i + 1) atomic_fetch_add(&j->phase_errors, 1);
    md_pool_barrier(j->pool);
    j->phase1[ith] = 0; /* reset for the next run, only after everyone read */
}

static void run_many(md_pool *pool, int nth, int n_runs, bool sleep_between) {
    static job j;
    memset(&j, 0, sizeof j);
    j.pool = pool;
    j.want_nth = nth;
    int done_errors = 0;
    for (int r = 0; r < n_runs; r++) {
        md_pool_counter_reset(&j.next);
        for (int i = 0; i < N_ITEMS; i++)
            atomic_store(&j.done[i], 0);
        if (sleep_between) nanosleep(&(struct timespec){.tv_nsec = 3 * 1000 * 1000}, NULL);
        md_pool_run(pool, job_fn, &j);
        for (int i = 0; i < N_ITEMS; i++)
            if (atomic_load(&j.done[i]) != 1) done_errors++;
    }
    for (int t = 0; t < nth; t++)
        CHECK_EQ_INT(atomic_load(&j.seen_ith[t]), n_runs);
    CHECK_EQ_INT(atomic_load(&j.seen_ith[nth]), 0);
    CHECK_EQ_INT(atomic_load(&j.bad_nth), 0);
    CHECK_EQ_INT(done_errors, 0);
    CHECK_EQ_INT(atomic_load(&j.phase_errors), 0);
}

int main(void) {
    CHECK(md_pool_n_cpus() >= 1);
    md_pool *p = NULL;
    CHECK(md_pool_new(-1, &p, NULL) == MD_ERR_INVALID_ARG && p == NULL);
    CHECK(md_pool_new(MD_POOL_MAX_THREADS + 1, &p, NULL) == MD_ERR_INVALID_ARG && p == NULL);
    CHECK(md_pool_new(1, NULL, NULL) == MD_ERR_INVALID_ARG);

    run_many(NULL, 1, 10, false);
    CHECK_EQ_INT(md_pool_n_threads(NULL), 1);

    static const int k_threads[] = {1, 2, 3, 4};
    for (size_t i = 0; i < MD_ARRAY_LEN(k_threads); i++) {
        md_pool *pool = NULL;
        CHECK(md_pool_new(k_threads[i], &pool, NULL) == MD_OK);
        if (!pool) continue;
        CHECK_EQ_INT(md_pool_n_threads(pool), k_threads[i]);
        run_many(pool, k_threads[i], k_threads[i] <= 2 ? 2000 : 200, false);
        run_many(pool, k_threads[i], 5, true); /* workers asleep between runs */
        md_pool_free(pool);
    }
    md_pool *all = NULL;
    CHECK(md_pool_new(0, &all, NULL) == MD_OK);
    CHECK_EQ_INT(md_pool_n_threads(all), md_pool_n_cpus());
    md_pool_free(all);
    md_pool_free(NULL);
    return check_report("test_base_threadpool");
}
