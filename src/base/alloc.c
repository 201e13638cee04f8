/* alloc.c: the one allocation hook, with fault injection for tests.
 *
 * Every allocation in medify passes through md_malloc/md_calloc/md_realloc so that a
 * test can make the Nth one fail (the SQLite and libuv OOM-loop technique) and prove
 * that each public entry point returns an error and leaks nothing instead of
 * crashing.
 *
 * State is process-wide and lock-free (C11 atomics), since allocation happens on every
 * thread:
 *   n_attempts   allocations attempted since start; each attempt takes a ticket with
 *                one fetch_add, so concurrent threads get distinct numbers.
 *   fail_plan    0 (off) or the ticket number that must fail, with the top bit set
 *                when every later ticket fails too. Packing both into one word means a
 *                reader never sees a new ticket with an old repeat flag.
 *   failed       set when an injected failure has happened; md_alloc_fail_after
 *                clears it so each loop iteration asks about its own run.
 *
 * Zero-byte requests allocate one byte so that NULL always and only means failure.
 */
#include "medify/base.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_PLAN_REPEAT (UINT64_C(1) << 63)

static atomic_uint_fast64_t n_attempts;
static atomic_uint_fast64_t fail_plan;
static atomic_bool failed;

/* Takes a ticket for this attempt; true when the plan says it must fail. */
static bool alloc_should_fail(void) {
    uint64_t ticket = (uint64_t)atomic_fetch_add(&n_attempts, 1) + 1;
    uint64_t plan = (uint64_t)atomic_load(&fail_plan);
    if (plan == 0) {
        return false;
    }
    uint64_t fail_at = plan & ~FAIL_PLAN_REPEAT;
    bool fail = ticket == fail_at || ((plan & FAIL_PLAN_REPEAT) && ticket > fail_at);
    if (fail) {
        atomic_store(&failed, true);
    }
    return fail;
}

void *md_malloc(size_t n_bytes) {
    if (alloc_should_fail()) {
        return NULL;
    }
    return malloc(n_bytes ? n_bytes : 1);
}

void *md_calloc(size_t n_items, size_t item_bytes) {
    if (alloc_should_fail()) {
        return NULL;
    }
    if (item_bytes && n_items > SIZE_MAX / item_bytes) {
        return NULL;
    }
    if (n_items == 0 || item_bytes == 0) {
        return calloc(1, 1);
    }
    return calloc(n_items, item_bytes);
}

void *md_realloc(void *ptr, size_t n_bytes) {
    if (alloc_should_fail()) {
        return NULL; /* like realloc: ptr is untouched and still owned by the caller */
    }
    return realloc(ptr, n_bytes ? n_bytes : 1);
}

void md_free(void *ptr) {
    free(ptr);
}

char *md_strdup(const char *s) {
    if (!s) {
        return NULL;
    }
    return md_strndup(s, strlen(s));
}

char *md_strndup(const char *s, size_t n_bytes) {
    if (!s) {
        return NULL;
    }
    size_t len = strnlen(s, n_bytes);
    char *copy = md_malloc(len + 1);
    if (!copy) {
        return NULL;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void md_alloc_fail_after(uint64_t n, bool repeat) {
    uint64_t plan = 0;
    if (n != 0) {
        uint64_t fail_at = (uint64_t)atomic_load(&n_attempts) + n;
        plan = (fail_at & ~FAIL_PLAN_REPEAT) | (repeat ? FAIL_PLAN_REPEAT : 0);
    }
    atomic_store(&failed, false);
    atomic_store(&fail_plan, plan);
}

uint64_t md_alloc_count(void) {
    return (uint64_t)atomic_load(&n_attempts);
}

bool md_alloc_failed(void) {
    return atomic_load(&failed);
}
