/* fifo_queue.c: the bounded first-come-first-served queue in front of the model.
 *
 * A ticket lock (Mellor-Crummey & Scott 1991, sec. 2.2) under one mutex and condition
 * variable: admission takes the next ticket number, a ticket runs when `serving`
 * reaches it, and ending a turn advances `serving` and wakes the waiters. Admission
 * refuses a ticket when max_waiting tickets already wait behind the running one, so
 * the number of threads parked here is bounded by max_waiting + 1. Waiting is not
 * interruptible on purpose: a request that gives up still takes its turn and ends it
 * at once (see modelserver_internal.h), so no ticket is ever skipped.
 */
#include "modelserver/modelserver_internal.h"

void ms_fifo_init(ms_fifo *q, size_t max_waiting) {
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->next_ticket = 0;
    q->serving = 0;
    q->max_waiting = max_waiting;
}

void ms_fifo_destroy(ms_fifo *q) {
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

bool ms_fifo_admit(ms_fifo *q, uint64_t *ticket) {
    pthread_mutex_lock(&q->mu);
    uint64_t n_admitted = q->next_ticket - q->serving; /* running one included */
    bool ok = n_admitted <= q->max_waiting;
    if (ok) *ticket = q->next_ticket++;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void ms_fifo_wait(ms_fifo *q, uint64_t ticket) {
    pthread_mutex_lock(&q->mu);
    while (q->serving != ticket)
        pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

void ms_fifo_done(ms_fifo *q, uint64_t ticket) {
    pthread_mutex_lock(&q->mu);
    if (q->serving == ticket) q->serving++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t ms_fifo_n_waiting(ms_fifo *q) {
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->next_ticket - q->serving;
    pthread_mutex_unlock(&q->mu);
    return n ? (size_t)(n - 1) : 0;
}
