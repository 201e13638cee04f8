/* The arena: 16-byte alignment for every size, bytes stay intact across block
 * boundaries, marks roll back exactly, large requests get their own block, reset keeps
 * the first block, and sizes that overflow are refused. */
#include "check.h"
#include "medify/base.h"

#include <stdint.h>
#include <string.h>

static int aligned16(const void *p) {
    return ((uintptr_t)p & 15u) == 0;
}

static void test_alignment_and_contents(void) {
    md_arena a;
    md_arena_init(&a, 256); /* small blocks: forces many block changes */
    unsigned char *ptrs[200];
    size_t sizes[200];
    size_t total = 0;
    for (size_t i = 0; i < 200; i++) {
        sizes[i] = 1 + (i * 37) % 100;
        ptrs[i] = md_arena_alloc(&a, sizes[i]);
        CHECK(ptrs[i] != NULL);
        CHECK_MSG(aligned16(ptrs[i]), "allocation %zu (size %zu) at %p", i, sizes[i],
                  (void *)ptrs[i]);
        memset(ptrs[i], (int)(i & 0xFF), sizes[i]);
        total += sizes[i];
    }
    CHECK_EQ_INT(a.n_bytes_used, total);
    /* No allocation overlapped another: every byte still holds its owner's pattern. */
    int intact = 1;
    for (size_t i = 0; i < 200; i++) {
        for (size_t k = 0; k < sizes[i]; k++) {
            intact &= ptrs[i][k] == (unsigned char)(i & 0xFF);
        }
    }
    CHECK(intact);
    md_arena_free(&a);
    CHECK(a.head == NULL);
    CHECK_EQ_INT(a.n_bytes_used, 0);
}

static void test_strings(void) {
    md_arena a;
    md_arena_init(&a, 0);
    char *s = md_arena_strdup(&a, "fever");
    CHECK_EQ_STR(s, "fever");
    CHECK(aligned16(s));
    CHECK_EQ_STR(md_arena_strndup(&a, "headache", 4), "head");
    CHECK_EQ_STR(md_arena_sprintf(&a, "%s=%d", "age", 42), "age=42");
    CHECK(md_arena_strdup(&a, NULL) == NULL);
    int *zeros = md_arena_calloc(&a, 100, sizeof(int));
    CHECK(zeros != NULL);
    int all_zero = 1;
    for (int i = 0; zeros && i < 100; i++) {
        all_zero &= zeros[i] == 0;
    }
    CHECK(all_zero);
    /* a long formatted string (longer than any internal guess) */
    char *long_s = md_arena_sprintf(&a, "%0500d", 7);
    CHECK(long_s != NULL && strlen(long_s) == 500 && long_s[499] == '7');
    md_arena_free(&a);
}

static void test_mark_reset(void) {
    md_arena a;
    md_arena_init(&a, 1024);
    char *keep = md_arena_strdup(&a, "kept across the reset");
    md_arena_mark mark = md_arena_get_mark(&a);
    size_t used_at_mark = a.n_bytes_used;
    md_arena_block *head_at_mark = a.head;

    void *first_after = md_arena_alloc(&a, 100);
    for (int i = 0; i < 50; i++) { /* spill over several new blocks */
        CHECK(md_arena_alloc(&a, 500) != NULL);
    }
    CHECK(a.head != head_at_mark);
    md_arena_reset_to(&a, mark);
    CHECK(a.head == head_at_mark);
    CHECK_EQ_INT(a.n_bytes_used, used_at_mark);
    CHECK_EQ_STR(keep, "kept across the reset");
    /* The space after the mark is handed out again: same address as before. */
    CHECK(md_arena_alloc(&a, 100) == first_after);

    /* Nested marks roll back innermost first. */
    md_arena_mark outer = md_arena_get_mark(&a);
    char *x = md_arena_strdup(&a, "x");
    md_arena_mark inner = md_arena_get_mark(&a);
    md_arena_strdup(&a, "y");
    md_arena_reset_to(&a, inner);
    CHECK_EQ_STR(x, "x");
    md_arena_reset_to(&a, outer);
    CHECK(md_arena_strdup(&a, "z") == x);
    md_arena_free(&a);
}

static void test_mark_on_empty_arena(void) {
    md_arena a;
    md_arena_init(&a, 512);
    md_arena_mark empty = md_arena_get_mark(&a);
    for (int i = 0; i < 20; i++) {
        CHECK(md_arena_alloc(&a, 200) != NULL);
    }
    md_arena_reset_to(&a, empty);
    CHECK_EQ_INT(a.n_bytes_used, 0);
    CHECK(md_arena_alloc(&a, 10) != NULL);
    md_arena_free(&a);
}

static void test_reset_keeps_first_block(void) {
    md_arena a;
    md_arena_init(&a, 1024);
    void *first = md_arena_alloc(&a, 64);
    for (int i = 0; i < 10; i++) {
        CHECK(md_arena_alloc(&a, 800) != NULL);
    }
    md_arena_reset(&a);
    CHECK(a.head != NULL);
    CHECK_EQ_INT(a.n_bytes_used, 0);
    uint64_t count_before = md_alloc_count();
    void *again = md_arena_alloc(&a, 64);
    CHECK(again == first);                         /* first block reused */
    CHECK_EQ_INT(md_alloc_count() - count_before, 0); /* without calling the allocator */
    md_arena_free(&a);
}

static void test_large_allocations(void) {
    md_arena a;
    md_arena_init(&a, 4096);
    char *small = md_arena_strdup(&a, "small");
    size_t big_bytes = 1u << 20;
    unsigned char *big = md_arena_alloc(&a, big_bytes);
    CHECK(big != NULL);
    CHECK(aligned16(big));
    memset(big, 0xAB, big_bytes); /* ASan catches any overrun of the dedicated block */
    CHECK_EQ_STR(small, "small");
    CHECK(md_arena_alloc(&a, 16) != NULL);
    CHECK_EQ_INT(a.n_bytes_used, 6 + big_bytes + 16);

    /* A mark before the big block frees it on reset_to. */
    md_arena_mark m = md_arena_get_mark(&a);
    CHECK(md_arena_alloc(&a, 3 * big_bytes) != NULL);
    md_arena_reset_to(&a, m);
    CHECK_EQ_INT(a.n_bytes_used, 6 + big_bytes + 16);
    md_arena_reset(&a);

    /* An arena whose first block was oversized does not keep it after reset. */
    md_arena b;
    md_arena_init(&b, 128);
    CHECK(md_arena_alloc(&b, 10000) != NULL);
    md_arena_reset(&b);
    CHECK(b.head == NULL);
    md_arena_free(&b);
    md_arena_free(&a);
}

static void test_overflow_and_oom(void) {
    md_arena a;
    md_arena_init(&a, 1024);
    CHECK(md_arena_alloc(&a, SIZE_MAX) == NULL);
    CHECK(md_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    CHECK(md_arena_calloc(&a, SIZE_MAX / 4, 8) == NULL);
    CHECK(a.head == NULL); /* nothing was allocated for the refused requests */
    /* zero bytes: a valid, distinct pointer */
    void *z1 = md_arena_alloc(&a, 0);
    void *z2 = md_arena_alloc(&a, 0);
    CHECK(z1 != NULL && z2 != NULL && z1 != z2);

    /* OOM on a new block: NULL, and the arena still works afterwards. */
    md_arena_alloc(&a, 1000); /* fill the current block */
    size_t used = a.n_bytes_used;
    md_arena_block *head = a.head;
    md_alloc_fail_after(1, false);
    CHECK(md_arena_alloc(&a, 900) == NULL);
    CHECK(md_alloc_failed());
    CHECK(a.head == head);
    CHECK_EQ_INT(a.n_bytes_used, used);
    md_alloc_fail_after(0, false);
    CHECK(md_arena_alloc(&a, 900) != NULL);
    md_arena_free(&a);
}

static void test_zero_initialised(void) {
    md_arena a = {0}; /* usable without init: default block size applies */
    CHECK(md_arena_strdup(&a, "ok") != NULL);
    md_arena_free(&a);
}

int main(void) {
    test_alignment_and_contents();
    test_strings();
    test_mark_reset();
    test_mark_on_empty_arena();
    test_reset_keeps_first_block();
    test_large_allocations();
    test_overflow_and_oom();
    test_zero_initialised();
    return check_report("test_base_arena");
}
