/* The vector: pushes keep order and contents across growth, reserve avoids
 * reallocation, at() is NULL out of range, and a failed growth leaves the vector
 * intact. */
#include "check.h"
#include "medify/base.h"

#include <string.h>

typedef struct item {
    int id;
    double score;
    char code[8];
} item;

static void test_push_and_at(void) {
    md_vec v;
    md_vec_init(&v, sizeof(item));
    CHECK(md_vec_at(&v, 0) == NULL);
    for (int i = 0; i < 1000; i++) {
        item it = {.id = i, .score = i * 0.5};
        snprintf(it.code, sizeof(it.code), "C%d", i % 100);
        CHECK_EQ_INT(md_vec_push(&v, &it), MD_OK);
    }
    CHECK_EQ_INT(v.n, 1000);
    CHECK(v.cap >= 1000);
    int all_ok = 1;
    for (int i = 0; i < 1000; i++) {
        const item *it = md_vec_at(&v, (size_t)i);
        char code[8];
        snprintf(code, sizeof(code), "C%d", i % 100);
        all_ok &= it && it->id == i && it->score == i * 0.5 && strcmp(it->code, code) == 0;
    }
    CHECK(all_ok);
    CHECK(md_vec_at(&v, 1000) == NULL);
    CHECK(md_vec_at(&v, (size_t)-1) == NULL);
    /* at() returns a pointer into the storage: writes through it stick */
    ((item *)md_vec_at(&v, 5))->id = -5;
    CHECK_EQ_INT(((item *)v.data)[5].id, -5);

    md_vec_clear(&v);
    CHECK_EQ_INT(v.n, 0);
    CHECK(v.cap >= 1000);
    CHECK(md_vec_at(&v, 0) == NULL);
    md_vec_free(&v);
    CHECK(v.data == NULL && v.n == 0 && v.cap == 0);
}

static void test_reserve(void) {
    md_vec v;
    md_vec_init(&v, sizeof(int));
    CHECK_EQ_INT(md_vec_reserve(&v, 500), MD_OK);
    CHECK(v.cap >= 500);
    void *data = v.data;
    uint64_t before = md_alloc_count();
    for (int i = 0; i < 500; i++) {
        CHECK_EQ_INT(md_vec_push(&v, &i), MD_OK);
    }
    CHECK(v.data == data);
    CHECK_EQ_INT(md_alloc_count() - before, 0);
    CHECK_EQ_INT(md_vec_reserve(&v, 10), MD_OK); /* never shrinks */
    CHECK(v.cap >= 500);
    /* a count whose byte size overflows is refused */
    CHECK_EQ_INT(md_vec_reserve(&v, SIZE_MAX / 2), MD_ERR_NOMEM);
    CHECK_EQ_INT(v.n, 500);
    md_vec_free(&v);

    md_vec zero;
    md_vec_init(&zero, 0);
    int x = 1;
    CHECK_EQ_INT(md_vec_push(&zero, &x), MD_ERR_INVALID_ARG);
    md_vec_free(&zero);
}

static void test_oom_keeps_contents(void) {
    md_vec v;
    md_vec_init(&v, sizeof(int));
    int i = 0;
    for (; v.n < v.cap || v.n == 0; i++) { /* fill to capacity */
        CHECK_EQ_INT(md_vec_push(&v, &i), MD_OK);
    }
    size_t n = v.n;
    md_alloc_fail_after(1, false);
    CHECK_EQ_INT(md_vec_push(&v, &i), MD_ERR_NOMEM);
    md_alloc_fail_after(0, false);
    CHECK_EQ_INT(v.n, n);
    int intact = 1;
    for (size_t k = 0; k < n; k++) {
        intact &= *(int *)md_vec_at(&v, k) == (int)k;
    }
    CHECK(intact);
    CHECK_EQ_INT(md_vec_push(&v, &i), MD_OK);
    CHECK_EQ_INT(*(int *)md_vec_at(&v, n), i);
    md_vec_free(&v);
}

int main(void) {
    test_push_and_at();
    test_reserve();
    test_oom_keeps_contents();
    return check_report("test_base_vec");
}
