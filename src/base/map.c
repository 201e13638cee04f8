/* map.c: string-keyed hash map with open addressing and linear probing.
 *
 * Keys are arbitrary byte strings (NUL bytes allowed) hashed with FNV-1a 64
 * (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/). Slots form a power-
 * of-two table probed linearly from hash & (n_slots - 1); a slot with key == NULL is
 * empty. There is no deletion, so probe chains never have holes and a lookup stops at
 * the first empty slot.
 *
 * Keys are copied into the map's arena (each copy NUL-terminated for convenience);
 * a replaced value keeps its key copy. The table grows (doubling, rehash using the
 * stored hashes) before an insert would push the load factor above MAP_MAX_LOAD.
 *
 * Failure: growth allocates the new table before touching the old one, and the key is
 * copied before the slot is filled, so md_map_put returning MD_ERR_NOMEM leaves the map
 * exactly as valid as before (a grown table or an unused arena byte at most).
 */
#include "medify/base.h"

#include <string.h>

#define MAP_MIN_SLOTS 16
#define MAP_MAX_LOAD_NUM 7 /* load factor <= 7/10 */
#define MAP_MAX_LOAD_DEN 10
#define MAP_KEYS_BLOCK_BYTES 4096

#define FNV1A_64_OFFSET_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV1A_64_PRIME UINT64_C(0x100000001b3)

struct md_map_slot {
    const char *key; /* NULL: empty slot */
    size_t key_len;
    uint64_t hash;
    uint64_t value;
};

uint64_t md_hash_bytes(const void *bytes, size_t n_bytes) {
    const unsigned char *p = bytes;
    uint64_t h = FNV1A_64_OFFSET_BASIS;
    for (size_t i = 0; i < n_bytes; i++) {
        h ^= p[i];
        h *= FNV1A_64_PRIME;
    }
    return h;
}

void md_map_init(md_map *m) {
    m->slots = NULL;
    m->n_slots = 0;
    m->n_items = 0;
    md_arena_init(&m->keys, MAP_KEYS_BLOCK_BYTES);
}

void md_map_free(md_map *m) {
    md_free(m->slots);
    md_arena_free(&m->keys);
    m->slots = NULL;
    m->n_slots = 0;
    m->n_items = 0;
}

/* The slot holding key, or the empty slot where it would go. n_slots must be > 0. */
static struct md_map_slot *map_probe(struct md_map_slot *slots, size_t n_slots, const char *key,
                                     size_t key_len, uint64_t hash) {
    size_t mask = n_slots - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        struct md_map_slot *s = &slots[i];
        if (!s->key) {
            return s;
        }
        if (s->hash == hash && s->key_len == key_len &&
            (key_len == 0 || memcmp(s->key, key, key_len) == 0)) {
            return s;
        }
    }
}

static md_status map_grow(md_map *m) {
    size_t n_slots = m->n_slots ? m->n_slots * 2 : MAP_MIN_SLOTS;
    if (n_slots < m->n_slots) {
        return MD_ERR_NOMEM;
    }
    struct md_map_slot *slots = md_calloc(n_slots, sizeof(*slots));
    if (!slots) {
        return MD_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->n_slots; i++) {
        const struct md_map_slot *old = &m->slots[i];
        if (old->key) {
            *map_probe(slots, n_slots, old->key, old->key_len, old->hash) = *old;
        }
    }
    md_free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    return MD_OK;
}

md_status md_map_put(md_map *m, const char *key, size_t key_len, uint64_t value) {
    if (!key && key_len > 0) {
        return MD_ERR_INVALID_ARG;
    }
    uint64_t hash = md_hash_bytes(key, key_len);
    if (m->n_slots) {
        struct md_map_slot *s = map_probe(m->slots, m->n_slots, key, key_len, hash);
        if (s->key) {
            s->value = value;
            return MD_OK;
        }
    }
    /* A new key: make room first, so a failure below changes nothing visible. */
    if (m->n_slots == 0 ||
        (m->n_items + 1) * MAP_MAX_LOAD_DEN > m->n_slots * MAP_MAX_LOAD_NUM) {
        md_status st = map_grow(m);
        if (st != MD_OK) {
            return st;
        }
    }
    char *copy = md_arena_alloc(&m->keys, key_len + 1);
    if (!copy) {
        return MD_ERR_NOMEM;
    }
    if (key_len) {
        memcpy(copy, key, key_len);
    }
    copy[key_len] = '\0';
    struct md_map_slot *s = map_probe(m->slots, m->n_slots, key, key_len, hash);
    s->key = copy;
    s->key_len = key_len;
    s->hash = hash;
    s->value = value;
    m->n_items++;
    return MD_OK;
}

bool md_map_get(const md_map *m, const char *key, size_t key_len, uint64_t *value) {
    if (m->n_slots == 0 || (!key && key_len > 0)) {
        return false;
    }
    uint64_t hash = md_hash_bytes(key, key_len);
    const struct md_map_slot *s = map_probe(m->slots, m->n_slots, key, key_len, hash);
    if (!s->key) {
        return false;
    }
    if (value) {
        *value = s->value;
    }
    return true;
}

bool md_map_next(const md_map *m, size_t *i, const char **key, size_t *key_len, uint64_t *value) {
    for (; *i < m->n_slots; (*i)++) {
        const struct md_map_slot *s = &m->slots[*i];
        if (s->key) {
            if (key) {
                *key = s->key;
            }
            if (key_len) {
                *key_len = s->key_len;
            }
            if (value) {
                *value = s->value;
            }
            (*i)++;
            return true;
        }
    }
    return false;
}
