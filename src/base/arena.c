/* arena.c: bump allocation over a chain of blocks, with marks to roll back to.
 *
 * The arena keeps a singly linked chain of blocks, newest first (a->head). An
 * allocation rounds the current block's fill point up to ARENA_ALIGN and bumps it; when
 * the block is full a new one is pushed on the chain. A request larger than the
 * default block size gets a block of its own, pushed the same way, so the chain order
 * is always the allocation order.
 *
 * That order is what makes marks work: a mark records (head block, its fill point,
 * statistics). md_arena_reset_to frees every block pushed after the mark's block and
 * restores its fill point. Marks nest like a stack; resetting to a mark invalidates
 * marks taken after it. A mark taken on an empty arena (block == NULL) means "empty".
 *
 * Invariants:
 *   - every block in the chain satisfies used <= cap;
 *   - a->n_bytes_used is the sum of the sizes handed out since the last reset;
 *   - md_arena_reset keeps the oldest block (if it has the default size) so a
 *     per-request arena does not go back to malloc on every request.
 * Blocks come from md_malloc, so fault injection reaches arena users; a failed
 * allocation returns NULL and leaves the arena exactly as it was.
 */
#include "medify/base.h"

#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_BLOCK_BYTES (64u * 1024u)

struct md_arena_block {
    md_arena_block *prev; /* the block pushed before this one, NULL for the oldest */
    size_t cap;           /* usable bytes in data, counted from its aligned start */
    size_t used;          /* bytes consumed from the aligned start */
    unsigned char data[]; /* cap + ARENA_ALIGN - 1 bytes, so an aligned start fits */
};

/* The first 16-byte-aligned address in the block's data. */
static unsigned char *block_base(md_arena_block *b) {
    uintptr_t p = (uintptr_t)b->data;
    uintptr_t aligned = (p + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
    return b->data + (aligned - p);
}

static size_t arena_block_bytes(const md_arena *a) {
    return a->block_bytes ? a->block_bytes : ARENA_DEFAULT_BLOCK_BYTES;
}

void md_arena_init(md_arena *a, size_t block_bytes) {
    a->head = NULL;
    a->block_bytes = block_bytes ? block_bytes : ARENA_DEFAULT_BLOCK_BYTES;
    a->n_bytes_used = 0;
}

static md_arena_block *block_new(size_t cap) {
    size_t header = sizeof(md_arena_block) + (ARENA_ALIGN - 1);
    if (cap > SIZE_MAX - header) {
        return NULL;
    }
    md_arena_block *b = md_malloc(header + cap);
    if (!b) {
        return NULL;
    }
    b->prev = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

void *md_arena_alloc(md_arena *a, size_t n_bytes) {
    if (n_bytes == 0) {
        n_bytes = 1; /* NULL means failure only; each allocation is a distinct address */
    }
    if (n_bytes > SIZE_MAX - ARENA_ALIGN) {
        return NULL;
    }
    md_arena_block *b = a->head;
    if (b) {
        size_t start = (b->used + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
        if (start <= b->cap && n_bytes <= b->cap - start) {
            b->used = start + n_bytes;
            a->n_bytes_used += n_bytes;
            return block_base(b) + start;
        }
    }
    size_t block_bytes = arena_block_bytes(a);
    md_arena_block *fresh = block_new(n_bytes > block_bytes ? n_bytes : block_bytes);
    if (!fresh) {
        return NULL;
    }
    fresh->prev = a->head;
    fresh->used = n_bytes;
    a->head = fresh;
    a->n_bytes_used += n_bytes;
    return block_base(fresh);
}

void *md_arena_calloc(md_arena *a, size_t n_items, size_t item_bytes) {
    if (item_bytes && n_items > SIZE_MAX / item_bytes) {
        return NULL;
    }
    size_t n_bytes = n_items * item_bytes;
    void *p = md_arena_alloc(a, n_bytes);
    if (p) {
        memset(p, 0, n_bytes);
    }
    return p;
}

char *md_arena_strndup(md_arena *a, const char *s, size_t n_bytes) {
    if (!s) {
        return NULL;
    }
    size_t len = strnlen(s, n_bytes);
    char *copy = md_arena_alloc(a, len + 1);
    if (!copy) {
        return NULL;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *md_arena_strdup(md_arena *a, const char *s) {
    if (!s) {
        return NULL;
    }
    return md_arena_strndup(a, s, strlen(s));
}

char *md_arena_sprintf(md_arena *a, const char *fmt, ...) {
    va_list ap, ap_measure;
    va_start(ap, fmt);
    va_copy(ap_measure, ap);
    int n = vsnprintf(NULL, 0, fmt, ap_measure);
    va_end(ap_measure);
    char *out = NULL;
    if (n >= 0) {
        out = md_arena_alloc(a, (size_t)n + 1);
        if (out) {
            vsnprintf(out, (size_t)n + 1, fmt, ap);
        }
    }
    va_end(ap);
    return out;
}

md_arena_mark md_arena_get_mark(const md_arena *a) {
    md_arena_mark mark = {.block = a->head, .used = a->head ? a->head->used : 0,
                          .n_bytes_used = a->n_bytes_used};
    return mark;
}

void md_arena_reset_to(md_arena *a, md_arena_mark mark) {
    if (!mark.block) {
        md_arena_reset(a);
        return;
    }
    while (a->head && a->head != mark.block) {
        md_arena_block *prev = a->head->prev;
        md_free(a->head);
        a->head = prev;
    }
    if (a->head) {
        a->head->used = mark.used;
    }
    a->n_bytes_used = mark.n_bytes_used;
}

void md_arena_reset(md_arena *a) {
    md_arena_block *b = a->head;
    md_arena_block *oldest = NULL;
    while (b) {
        md_arena_block *prev = b->prev;
        if (prev) {
            md_free(b);
        } else {
            oldest = b;
        }
        b = prev;
    }
    /* Keep the oldest block only when it is an ordinary one; a one-off oversized block
     * would otherwise pin its memory for the arena's whole life. */
    if (oldest && oldest->cap != arena_block_bytes(a)) {
        md_free(oldest);
        oldest = NULL;
    }
    if (oldest) {
        oldest->used = 0;
    }
    a->head = oldest;
    a->n_bytes_used = 0;
}

void md_arena_free(md_arena *a) {
    while (a->head) {
        md_arena_block *prev = a->head->prev;
        md_free(a->head);
        a->head = prev;
    }
    a->n_bytes_used = 0;
}
