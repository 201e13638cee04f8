/* threadpool.c: the persistent worker pool of medify/threadpool.h.
 *
 * Runs are numbered: md_pool_run publishes fn/ctx, then increments `run_gen` (under
 * the mutex, so a worker that is about to sleep cannot miss it) and wakes sleepers;
 * each worker waits for run_gen to change, first by polling (MD_POOL_SPIN_ITERS
 * times, with a pause instruction), then on the condition variable. A worker that
 * finishes increments `n_done`; the caller runs its own share (ith 0) and then polls
 * n_done. The release/acquire pairs on run_gen and n_done order fn/ctx and whatever
 * fn wrote.
 *
 * The barrier is a counter and a generation: the last thread to arrive resets the
 * counter and bumps the generation, the others poll the generation. Every wait inside
 * a run (barrier, the caller waiting for the workers) polls MD_POOL_SPIN_ITERS times,
 * yielding the CPU every POOL_YIELD_EVERY polls, and then sleeps on `cv_sync`: on a
 * machine shared with other work a descheduled thread would otherwise keep its
 * partner spinning for whole time slices. Whoever completes a barrier or a run takes
 * the mutex and broadcasts when anyone sleeps; sleepers re-check under the mutex, so
 * no wake-up is lost.
 */
#include "medify/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* Polls between sched_yield calls while waiting inside a run (barrier, run end). */
#define POOL_YIELD_EVERY 64

typedef struct pool_worker {
    struct md_pool *pool;
    int ith;
} pool_worker;

struct md_pool {
    int n_threads;
    int n_started; /* workers actually created */
    pthread_t *threads;
    pool_worker *workers;
    md_pool_fn fn;
    void *ctx;
    atomic_uint run_gen;
    atomic_int n_done;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_sleeping; /* guarded by mu */
    pthread_cond_t cv_sync; /* barrier and end-of-run waits */
    int n_sync_sleeping;    /* guarded by mu */
    atomic_int barrier_count;
    atomic_uint barrier_gen;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

int md_pool_n_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > MD_POOL_MAX_THREADS ? MD_POOL_MAX_THREADS : (int)n;
}

static void wake_sync_sleepers(md_pool *p) {
    pthread_mutex_lock(&p->mu);
    if (p->n_sync_sleeping > 0) pthread_cond_broadcast(&p->cv_sync);
    pthread_mutex_unlock(&p->mu);
}

/* Waits until done(p, arg) holds: polls, then sleeps on cv_sync. */
static void sync_wait(md_pool *p, bool (*done)(md_pool *, unsigned), unsigned arg) {
    for (unsigned spins = 1; spins <= MD_POOL_SPIN_ITERS; spins++) {
        if (done(p, arg)) return;
        cpu_relax();
        if (spins % POOL_YIELD_EVERY == 0) sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    while (!done(p, arg)) {
        p->n_sync_sleeping++;
        pthread_cond_wait(&p->cv_sync, &p->mu);
        p->n_sync_sleeping--;
    }
    pthread_mutex_unlock(&p->mu);
}

static bool run_finished(md_pool *p, unsigned want) {
    return (unsigned)atomic_load_explicit(&p->n_done, memory_order_acquire) >= want;
}

static bool barrier_passed(md_pool *p, unsigned gen) {
    return atomic_load_explicit(&p->barrier_gen, memory_order_acquire) != gen;
}

static void *worker_main(void *arg) {
    pool_worker *w = arg;
    md_pool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->run_gen, memory_order_acquire);
        for (int spins = 0; g == seen && spins < MD_POOL_SPIN_ITERS; spins++) {
            cpu_relax();
            g = atomic_load_explicit(&p->run_gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->run_gen, memory_order_acquire)) == seen) {
                p->n_sleeping++;
                pthread_cond_wait(&p->cv, &p->mu);
                p->n_sleeping--;
            }
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        p->fn(p->ctx, w->ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
        wake_sync_sleepers(p);
    }
}

/* Wakes every worker for a new run (or to stop). */
static void publish_run(md_pool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->run_gen, 1, memory_order_release);
    if (p->n_sleeping > 0) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void pool_stop(md_pool *p) {
    atomic_store_explicit(&p->stop, true, memory_order_release);
    publish_run(p);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    p->n_started = 0;
}

md_status md_pool_new(int n_threads, md_pool **out, md_error *err) {
    if (!out) return md_error_set(err, MD_ERR_INVALID_ARG, "thread pool: NULL argument");
    *out = NULL;
    if (n_threads == 0) n_threads = md_pool_n_cpus();
    if (n_threads < 1 || n_threads > MD_POOL_MAX_THREADS)
        return md_error_set(err, MD_ERR_INVALID_ARG, "thread pool: %d threads is outside 1..%d", n_threads,
                            MD_POOL_MAX_THREADS);
    md_pool *p = md_calloc(1, sizeof *p);
    if (!p) return md_error_set(err, MD_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    atomic_init(&p->run_gen, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->barrier_count, 0);
    atomic_init(&p->barrier_gen, 0);
    if (n_threads > 1) {
        p->threads = md_calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->workers = md_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            md_free(p->threads);
            md_free(p->workers);
            md_free(p);
            return md_error_set(err, MD_ERR_NOMEM, "thread pool: out of memory");
        }
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        md_free(p->threads);
        md_free(p->workers);
        md_free(p);
        return md_error_set(err, MD_ERR_INTERNAL, "thread pool: cannot create a mutex");
    }
    if (pthread_cond_init(&p->cv, NULL) != 0 || pthread_cond_init(&p->cv_sync, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        md_free(p->threads);
        md_free(p->workers);
        md_free(p);
        return md_error_set(err, MD_ERR_INTERNAL, "thread pool: cannot create a condition variable");
    }
    for (int i = 0; i < n_threads - 1; i++) {
        p->workers[i] = (pool_worker){.pool = p, .ith = i + 1};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
            md_pool_free(p);
            return md_error_set(err, MD_ERR_IO, "thread pool: cannot create thread %d of %d", i + 2, n_threads);
        }
        p->n_started = i + 1;
    }
    *out = p;
    return MD_OK;
}

void md_pool_free(md_pool *pool) {
    if (!pool) return;
    pool_stop(pool);
    pthread_cond_destroy(&pool->cv);
    pthread_cond_destroy(&pool->cv_sync);
    pthread_mutex_destroy(&pool->mu);
    md_free(pool->threads);
    md_free(pool->workers);
    md_free(pool);
}

int md_pool_n_threads(const md_pool *pool) { return pool ? pool->n_threads : 1; }

void md_pool_run(md_pool *pool, md_pool_fn fn, void *ctx) {
    if (!pool || pool->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed);
    publish_run(pool);
    fn(ctx, 0, pool->n_threads);
    sync_wait(pool, run_finished, (unsigned)pool->n_threads - 1);
}

void md_pool_barrier(md_pool *pool) {
    if (!pool || pool->n_threads == 1) return;
    const unsigned gen = atomic_load_explicit(&pool->barrier_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&pool->barrier_count, 1, memory_order_acq_rel) == pool->n_threads - 1) {
        atomic_store_explicit(&pool->barrier_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&pool->barrier_gen, 1, memory_order_release);
        wake_sync_sleepers(pool);
        return;
    }
    sync_wait(pool, barrier_passed, gen);
}
