/* Out-of-order synonym matching (see matcher_bag.c). */
#ifndef MEDIFY_CLINICAL_MATCHER_BAG_H
#define MEDIFY_CLINICAL_MATCHER_BAG_H

#include "clinical/internal.h"

typedef struct bag_phrase {
    uint32_t obs;
    uint32_t first;     /* index into bag_index.words */
    uint16_t n_content; /* content words (fillers left out), already class-mapped */
    bool usable;        /* at least two content words and no negation word */
} bag_phrase;

typedef struct bag_index {
    bag_phrase *phrases;
    size_t n_phrases, cap_phrases;
    int32_t *words;     /* content word ids of all phrases, back to back */
    size_t n_words, cap_words;
    int32_t *word_class;    /* word id → class id (pain words share one), n_vocab */
    uint32_t *post_offsets; /* CSR: class id → phrases containing it */
    uint32_t *postings;
    size_t n_vocab;
} bag_index;

typedef int32_t (*bag_lookup_fn)(const matcher *m, const char *stem);

void bag_init(bag_index *b);
void bag_free(bag_index *b);
/* Records a phrase (word ids as interned by the matcher). Word ids may be raw; they
 * are classified in bag_finish. */
md_status bag_add(bag_index *b, const int32_t *words, size_t n_words, uint32_t obs);
/* function_word and negation flag word ids (n_vocab each). */
md_status bag_finish(bag_index *b, size_t n_vocab, const uint8_t *function_word, const uint8_t *negation,
                     bag_lookup_fn lookup, const matcher *m);
/* Adds matches for phrases whose content words all occur, in any order, among the
 * unclaimed tokens of one clause. `out` has room after n_done; returns how many were
 * added. flags are the scanner's per-token flags (FLAG_NEGATION = 2). */
size_t bag_scan(const bag_index *b, const tok_list *toks, match *out, size_t n_done, const uint8_t *flags);

#endif
