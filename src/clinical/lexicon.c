/* The scanners' word lists indexed by first word (see lex_list in internal.h). */
#include <string.h>

#include "clinical/internal.h"

md_status lexicon_add(md_map *lx, int bit, const char *const *first, size_t n, size_t stride_bytes) {
    for (size_t i = 0; i < n; i++) {
        const char *entry = *(const char *const *)((const char *)first + i * stride_bytes);
        const char *sp = strchr(entry, ' ');
        size_t len = sp ? (size_t)(sp - entry) : strlen(entry);
        uint64_t bits = 0;
        md_map_get(lx, entry, len, &bits);
        bits |= (uint64_t)1 << bit;
        md_status st = md_map_put(lx, entry, len, bits);
        if (st != MD_OK) return st;
    }
    return MD_OK;
}

void lexicon_mark(const md_map *lx, tok_list *toks) {
    for (size_t i = 0; i < toks->n; i++) {
        tok *t = &toks->items[i];
        uint64_t bits = 0;
        if (t->kind != TOK_PUNCT) md_map_get(lx, t->norm, strlen(t->norm), &bits);
        t->lex = bits;
    }
}
