/* The hash map: FNV-1a test vectors, many keys, forced probe collisions, replace,
 * keys with NUL bytes and the empty key, copies independent of the caller's buffer,
 * iteration that visits every key exactly once, and a failed put that changes nothing. */
#include "check.h"
#include "medify/base.h"

#include <stdlib.h>
#include <string.h>

static void test_fnv1a_vectors(void) {
    /* From the FNV reference test suite (isthe.com/chongo/src/fnv/test_fnv.c). */
    CHECK(md_hash_bytes("", 0) == UINT64_C(0xcbf29ce484222325));
    CHECK(md_hash_bytes("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    CHECK(md_hash_bytes("foobar", 6) == UINT64_C(0x85944171f73967e8));
}

static void test_many_keys(void) {
    enum { N_KEYS = 20000 };
    md_map m;
    md_map_init(&m);
    char key[32];
    for (int i = 0; i < N_KEYS; i++) {
        int n = snprintf(key, sizeof(key), "symptom-%d", i);
        CHECK_EQ_INT(md_map_put(&m, key, (size_t)n, (uint64_t)i * 3), MD_OK);
    }
    CHECK_EQ_INT(m.n_items, N_KEYS);
    CHECK(m.n_items * 10 <= m.n_slots * 7); /* load factor <= 0.7 */
    CHECK((m.n_slots & (m.n_slots - 1)) == 0);
    int found_all = 1;
    for (int i = 0; i < N_KEYS; i++) {
        int n = snprintf(key, sizeof(key), "symptom-%d", i);
        uint64_t v = 0;
        found_all &= md_map_get(&m, key, (size_t)n, &v) && v == (uint64_t)i * 3;
    }
    CHECK(found_all);
    CHECK(!md_map_get(&m, "symptom-20000", 13, NULL));
    CHECK(!md_map_get(&m, "symptom-1", 8, NULL)); /* a prefix of a key is not the key */
    CHECK(md_map_get(&m, "symptom-1", 9, NULL));  /* value pointer may be NULL */

    /* Iteration visits each key exactly once and hands back the stored copy. */
    unsigned char *seen = calloc(N_KEYS, 1);
    size_t i = 0, n_visited = 0;
    const char *k;
    size_t k_len;
    uint64_t v;
    int once = 1, consistent = 1;
    while (md_map_next(&m, &i, &k, &k_len, &v)) {
        n_visited++;
        size_t idx = (size_t)(v / 3);
        if (idx >= N_KEYS || seen[idx]) {
            once = 0;
            continue;
        }
        seen[idx] = 1;
        int n = snprintf(key, sizeof(key), "symptom-%zu", idx);
        consistent &= k_len == (size_t)n && memcmp(k, key, k_len) == 0 && k[k_len] == '\0';
    }
    CHECK_EQ_INT(n_visited, N_KEYS);
    CHECK(once);
    CHECK(consistent);
    free(seen);
    md_map_free(&m);
    CHECK(m.slots == NULL && m.n_items == 0 && m.n_slots == 0);
}

/* Keys whose hashes land in the same slot of a 16-slot table, so every insert after the
 * first probes past the others. */
static void test_forced_collisions(void) {
    char keys[8][16];
    size_t n_found = 0;
    uint64_t target = md_hash_bytes("k0", 2) & 15;
    for (int i = 0; n_found < 8 && i < 100000; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "k%d", i);
        if ((md_hash_bytes(key, (size_t)n) & 15) == target) {
            memcpy(keys[n_found++], key, (size_t)n + 1);
        }
    }
    CHECK_EQ_INT(n_found, 8);
    md_map m;
    md_map_init(&m);
    for (size_t i = 0; i < n_found; i++) {
        CHECK_EQ_INT(md_map_put(&m, keys[i], strlen(keys[i]), i + 100), MD_OK);
    }
    CHECK_EQ_INT(m.n_slots, 16); /* still the first table: collisions really happened */
    for (size_t i = 0; i < n_found; i++) {
        uint64_t v = 0;
        CHECK(md_map_get(&m, keys[i], strlen(keys[i]), &v));
        CHECK_EQ_INT(v, i + 100);
    }
    /* Replace one in the middle of the probe chain; the others are unaffected. */
    CHECK_EQ_INT(md_map_put(&m, keys[4], strlen(keys[4]), 7), MD_OK);
    CHECK_EQ_INT(m.n_items, n_found);
    for (size_t i = 0; i < n_found; i++) {
        uint64_t v = 0;
        CHECK(md_map_get(&m, keys[i], strlen(keys[i]), &v));
        CHECK_EQ_INT(v, i == 4 ? 7 : i + 100);
    }
    md_map_free(&m);
}

static void test_binary_keys_and_replace(void) {
    md_map m;
    md_map_init(&m);
    CHECK(!md_map_get(&m, "a", 1, NULL)); /* empty map */
    CHECK_EQ_INT(md_map_put(&m, "a", 1, 1), MD_OK);
    CHECK_EQ_INT(md_map_put(&m, "a\0", 2, 2), MD_OK);
    CHECK_EQ_INT(md_map_put(&m, "a\0b", 3, 3), MD_OK);
    CHECK_EQ_INT(md_map_put(&m, "a\0c", 3, 4), MD_OK);
    CHECK_EQ_INT(md_map_put(&m, "", 0, 5), MD_OK);
    CHECK_EQ_INT(md_map_put(&m, NULL, 0, 6), MD_OK); /* NULL with length 0 is the empty key */
    CHECK_EQ_INT(md_map_put(&m, NULL, 3, 6), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(m.n_items, 5);
    uint64_t v = 0;
    CHECK(md_map_get(&m, "a", 1, &v) && v == 1);
    CHECK(md_map_get(&m, "a\0", 2, &v) && v == 2);
    CHECK(md_map_get(&m, "a\0b", 3, &v) && v == 3);
    CHECK(md_map_get(&m, "a\0c", 3, &v) && v == 4);
    CHECK(md_map_get(&m, "", 0, &v) && v == 6);
    CHECK(!md_map_get(&m, "a\0d", 3, NULL));

    /* Keys are copied: changing the caller's buffer does not change the map. */
    char buf[8] = "fever";
    CHECK_EQ_INT(md_map_put(&m, buf, 5, 10), MD_OK);
    memcpy(buf, "xxxxx", 5);
    CHECK(md_map_get(&m, "fever", 5, &v) && v == 10);
    CHECK(!md_map_get(&m, buf, 5, NULL));

    /* Replacing keeps n_items and allocates nothing. */
    uint64_t before = md_alloc_count();
    CHECK_EQ_INT(md_map_put(&m, "fever", 5, 11), MD_OK);
    CHECK_EQ_INT(md_alloc_count() - before, 0);
    CHECK(md_map_get(&m, "fever", 5, &v) && v == 11);
    CHECK_EQ_INT(m.n_items, 6);

    /* Pointer-sized values survive unchanged. */
    CHECK_EQ_INT(md_map_put(&m, "ptr", 3, (uint64_t)(uintptr_t)&m), MD_OK);
    CHECK(md_map_get(&m, "ptr", 3, &v) && (md_map *)(uintptr_t)v == &m);
    CHECK_EQ_INT(md_map_put(&m, "max", 3, UINT64_MAX), MD_OK);
    CHECK(md_map_get(&m, "max", 3, &v) && v == UINT64_MAX);
    md_map_free(&m);
}

static void test_failed_put_changes_nothing(void) {
    md_map m;
    md_map_init(&m);
    char key[16];
    int i = 0;
    /* Fill until the next new key needs the table to grow. */
    for (;; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        if (m.n_slots && (m.n_items + 1) * 10 > m.n_slots * 7) {
            break;
        }
        CHECK_EQ_INT(md_map_put(&m, key, (size_t)n, (uint64_t)i), MD_OK);
    }
    size_t n_items = m.n_items, n_slots = m.n_slots;
    int n = snprintf(key, sizeof(key), "k%d", i);
    md_alloc_fail_after(1, true);
    CHECK_EQ_INT(md_map_put(&m, key, (size_t)n, 1), MD_ERR_NOMEM);
    md_alloc_fail_after(0, false);
    CHECK_EQ_INT(m.n_items, n_items);
    CHECK_EQ_INT(m.n_slots, n_slots);
    CHECK(!md_map_get(&m, key, (size_t)n, NULL));
    CHECK(md_map_get(&m, "k0", 2, NULL));
    /* Replacing an existing key needs no memory, so it works even under OOM. */
    md_alloc_fail_after(1, true);
    CHECK_EQ_INT(md_map_put(&m, "k0", 2, 99), MD_OK);
    md_alloc_fail_after(0, false);
    CHECK_EQ_INT(md_map_put(&m, key, (size_t)n, 1), MD_OK);
    CHECK_EQ_INT(m.n_items, n_items + 1);
    md_map_free(&m);
}

int main(void) {
    test_fnv1a_vectors();
    test_many_keys();
    test_forced_collisions();
    test_binary_keys_and_replace();
    test_failed_put_changes_nothing();
    return check_report("test_base_map");
}
