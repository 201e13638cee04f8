/* medify threadpool: a persistent pool of worker threads for data-parallel kernels
 * (base module).
 *
 * A pool of n threads is the caller plus n − 1 workers created once by md_pool_new.
 * md_pool_run(pool, fn, ctx) calls fn(ctx, ith, n) on every thread, the caller being
 * ith 0, and returns when all calls have returned. Work is split by (ith, nth) or
 * through an md_pool_counter that threads increment to claim chunks; md_pool_barrier
 * synchronises the threads inside one run (e.g. "quantise the activations, then
 * multiply").
 *
 * Between runs workers spin for a short while (MD_POOL_SPIN_ITERS polls, so the next
 * run of a token loop starts without a wake-up) and then sleep on a condition
 * variable. A run allocates nothing and makes no system call unless a worker sleeps.
 *
 * Ownership and threads: md_pool_run and md_pool_free are called by one thread at a
 * time (the pool's owner); fn must not call md_pool_run on the same pool.
 */
#ifndef MEDIFY_THREADPOOL_H
#define MEDIFY_THREADPOOL_H

#include <stdatomic.h>

#include "medify/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most threads a pool accepts (far above any machine medify targets). */
#define MD_POOL_MAX_THREADS 256
/* Polls of the run counter before an idle worker sleeps (about 50-100 µs). */
#define MD_POOL_SPIN_ITERS 20000

typedef struct md_pool md_pool;

/* Called on every thread of a run: ith in 0..nth-1 (0 is the caller). */
typedef void (*md_pool_fn)(void *ctx, int ith, int nth);

/* A shared counter for claiming chunks of work: reset it before the threads start
 * (or before a barrier), then each thread takes md_pool_counter_next until the value
 * reaches the number of chunks. */
typedef struct md_pool_counter {
    atomic_long value;
} md_pool_counter;

static inline void md_pool_counter_reset(md_pool_counter *c) {
    atomic_store_explicit(&c->value, 0, memory_order_relaxed);
}
static inline long md_pool_counter_next(md_pool_counter *c) {
    return atomic_fetch_add_explicit(&c->value, 1, memory_order_relaxed);
}

/* Number of online CPUs (at least 1). */
int md_pool_n_cpus(void);

/* A pool of n_threads (0 = md_pool_n_cpus()) threads including the caller. Errors:
 * MD_ERR_INVALID_ARG (n_threads < 0 or above MD_POOL_MAX_THREADS), MD_ERR_NOMEM,
 * MD_ERR_IO (a thread could not be created). Free with md_pool_free. */
md_status md_pool_new(int n_threads, md_pool **out, md_error *err);
/* Stops and joins the workers. NULL is a no-op. */
void md_pool_free(md_pool *pool);
int md_pool_n_threads(const md_pool *pool);

/* Runs fn(ctx, ith, nth) on all threads and waits for them. A NULL pool runs
 * fn(ctx, 0, 1) on the caller. */
void md_pool_run(md_pool *pool, md_pool_fn fn, void *ctx);
/* Inside a run: returns once every thread of the run has called it. A NULL pool (or
 * a one-thread pool) returns at once. Memory written before the barrier is visible
 * to every thread after it. */
void md_pool_barrier(md_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_THREADPOOL_H */
