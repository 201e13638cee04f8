/* tokenizer.c: loading a tokenizer from GGUF metadata, the vocabulary hash map, the
 * special-token split, and the md_tokenize / md_detokenize entry points.
 *
 * Loading follows llama.cpp's llama_vocab::load (src/llama-vocab.cpp) so that the same
 * file yields the same behaviour: each model type has default special ids and flags
 * (k_type_defaults), GGUF keys override them when in range, an empty token text becomes
 * "[EMPTY_<id>]", token types become attribute bits, tokens whose text marks the end of
 * a turn (<|eot_id|>, <|im_end|>, ...) are forced to CONTROL and listed as
 * end-of-generation, and the special-token cache holds every CONTROL, USER_DEFINED and
 * UNKNOWN token, longest text first.
 *
 * md_tokenize first cuts the text at occurrences of special-token texts (for each
 * special token in cache order, every raw fragment is scanned left to right; control
 * and unknown tokens only when parse_special is set), then hands each raw fragment to
 * the model's encoder (tokenizer_bpe.c, tokenizer_spm.c, tokenizer_wpm.c) and adds
 * BOS/EOS or CLS/SEP when add_special is set.
 *
 * Invariants: tokens[i].text is NUL-terminated and n_bytes long; vocab maps every text
 * to its id (texts are unique: a duplicate is a load error); specials, eog and the
 * merges map are immutable after loading, so every read path is thread-safe.
 */
#include "engine/tokenizer_internal.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define TOK_STRINGS_BLOCK_BYTES   (256 * 1024)
#define TOK_MAX_TOKENS            ((size_t)INT32_MAX) /* ids are int32_t */
#define TOK_MERGE_KEY_STACK_BYTES 512

/* ---------------------------------------------------------------- UTF-8 ---- */

size_t md_tok_utf8_len(unsigned char lead) {
    static const uint8_t k_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return k_len[lead >> 4];
}

uint32_t md_tok_utf8_decode(const char *s, size_t n, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c = u[0];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    size_t need;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        need = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4;
        cp = c & 0x07;
    } else {
        *len = 1; /* stray continuation byte or 0xF8..0xFF */
        return 0xFFFD;
    }
    if (need > n) {
        *len = 1;
        return 0xFFFD;
    }
    for (size_t i = 1; i < need; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    if (cp > 0x10FFFF) { /* llama.cpp would throw while re-encoding; treat as malformed */
        *len = 1;
        return 0xFFFD;
    }
    *len = need;
    return cp;
}

size_t md_tok_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0x110000) {
        cp = 0xFFFD;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------ id output ---- */

void md_tok_out_push(md_tok_out *o, int32_t id) {
    if (o->failed) {
        return;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        if (cap < o->cap || cap > SIZE_MAX / sizeof(int32_t)) {
            o->failed = true;
            return;
        }
        int32_t *ids = md_realloc(o->ids, cap * sizeof(int32_t));
        if (!ids) {
            o->failed = true;
            return;
        }
        o->ids = ids;
        o->cap = cap;
    }
    o->ids[o->n++] = id;
}

/* ----------------------------------------------------------- vocabulary ---- */

int32_t md_tok_find(const md_tokenizer *tok, const char *s, size_t n) {
    uint64_t v;
    return md_map_get(&tok->vocab, s, n, &v) ? (int32_t)v : MD_TOKEN_NULL;
}

size_t md_tok_merge_key(char *buf, size_t cap, const char *left, size_t n_left, const char *right, size_t n_right) {
    if (n_left > UINT32_MAX || n_right > cap || n_left > cap - n_right || 4 > cap - n_left - n_right) {
        return 0;
    }
    buf[0] = (char)(n_left & 0xFF);
    buf[1] = (char)((n_left >> 8) & 0xFF);
    buf[2] = (char)((n_left >> 16) & 0xFF);
    buf[3] = (char)((n_left >> 24) & 0xFF);
    memcpy(buf + 4, left, n_left);
    memcpy(buf + 4 + n_left, right, n_right);
    return 4 + n_left + n_right;
}

/* Per model type, what llama.cpp assumes when a key is absent. */
typedef struct type_defaults {
    const char *model;
    md_tokenizer_specials ids;
    bool add_bos, add_eos, add_sep, add_space_prefix;
} type_defaults;

#define NO MD_TOKEN_NULL
/* clang-format off */
static const type_defaults k_type_defaults[MD_TOKENIZER_TYPE_COUNT] = {
    [MD_TOKENIZER_TYPE_BPE] = {.model = "gpt2",
        .ids = {.bos = 11, .eos = 11, .eot = NO, .eom = NO, .unk = NO, .sep = NO, .pad = NO, .cls = NO, .mask = NO},
        .add_bos = false, .add_eos = false, .add_sep = false, .add_space_prefix = false},
    [MD_TOKENIZER_TYPE_SPM] = {.model = "llama",
        .ids = {.bos = 1, .eos = 2, .eot = NO, .eom = NO, .unk = 0, .sep = NO, .pad = NO, .cls = NO, .mask = NO},
        .add_bos = true, .add_eos = false, .add_sep = false, .add_space_prefix = true},
    [MD_TOKENIZER_TYPE_WPM] = {.model = "bert",
        .ids = {.bos = 101, .eos = NO, .eot = NO, .eom = NO, .unk = 100, .sep = 102, .pad = 0, .cls = 101, .mask = 103},
        .add_bos = true, .add_eos = false, .add_sep = true, .add_space_prefix = false},
};
/* clang-format on */
#undef NO
static_assert(MD_ARRAY_LEN(k_type_defaults) == MD_TOKENIZER_TYPE_COUNT, "one defaults row per tokenizer type");

/* tokenizer.ggml.pre values medify implements; llama.cpp accepts more, but each of
 * those needs its own split and must not silently fall back to another one. */
static const struct {
    const char *name;
    md_tokenizer_pre pre;
} k_pres[] = {
    {"default", MD_TOKENIZER_PRE_DEFAULT},
    {"llama3", MD_TOKENIZER_PRE_LLAMA3},
    {"llama-v3", MD_TOKENIZER_PRE_LLAMA3},
    {"llama-bpe", MD_TOKENIZER_PRE_LLAMA3},
};

/* GGUF keys of the special ids. The separator key is misspelt in llama.cpp's writer
 * ("seperator"); the correct spelling is accepted too. */
static const struct {
    const char *key;
    size_t offset;
} k_special_keys[] = {
    {"tokenizer.ggml.bos_token_id", offsetof(md_tokenizer_specials, bos)},
    {"tokenizer.ggml.eos_token_id", offsetof(md_tokenizer_specials, eos)},
    {"tokenizer.ggml.eot_token_id", offsetof(md_tokenizer_specials, eot)},
    {"tokenizer.ggml.eom_token_id", offsetof(md_tokenizer_specials, eom)},
    {"tokenizer.ggml.unknown_token_id", offsetof(md_tokenizer_specials, unk)},
    {"tokenizer.ggml.seperator_token_id", offsetof(md_tokenizer_specials, sep)},
    {"tokenizer.ggml.separator_token_id", offsetof(md_tokenizer_specials, sep)},
    {"tokenizer.ggml.padding_token_id", offsetof(md_tokenizer_specials, pad)},
    {"tokenizer.ggml.cls_token_id", offsetof(md_tokenizer_specials, cls)},
    {"tokenizer.ggml.mask_token_id", offsetof(md_tokenizer_specials, mask)},
};

/* Texts llama.cpp takes for end-of-turn tokens (its EOT auto-detection list). */
static const char *const k_eot_texts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<EOT>",
    "_<EOT>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81"
    "of\xe2\x96\x81"
    "sentence\xef\xbd\x9c>", /* <｜end▁of▁sentence｜> (DeepSeek) */
};
/* Texts llama.cpp treats as end of generation besides eos/eot/eom. */
static const char *const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
};

static int32_t *specials_slot(md_tokenizer_specials *ids, size_t offset) {
    return (int32_t *)(void *)((char *)ids + offset);
}

/* Options that come from GGUF keys or from a spec; -1 / MD_TOKEN_NULL = not given. */
typedef struct tok_options {
    md_tokenizer_specials ids;
    int add_bos, add_eos, add_space_prefix;
    const char *chat_template;
    size_t chat_template_bytes;
} tok_options;

static tok_options tok_options_none(void) {
    tok_options o;
    o.ids = (md_tokenizer_specials){MD_TOKEN_NULL, MD_TOKEN_NULL, MD_TOKEN_NULL, MD_TOKEN_NULL, MD_TOKEN_NULL,
                                    MD_TOKEN_NULL, MD_TOKEN_NULL, MD_TOKEN_NULL, MD_TOKEN_NULL};
    o.add_bos = o.add_eos = o.add_space_prefix = -1;
    o.chat_template = NULL;
    o.chat_template_bytes = 0;
    return o;
}

static bool str_eq(const char *s, size_t n, const char *lit) {
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, n) == 0;
}

/* Allocates the tokenizer for `model`/`pre` and n_tokens (texts still unset). */
static md_status tok_begin(const char *model, size_t n_model, const char *pre, size_t n_pre, bool has_pre,
                           size_t n_tokens, md_tokenizer **out, md_error *err) {
    *out = NULL;
    int type = -1;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_type_defaults); i++) {
        if (str_eq(model, n_model, k_type_defaults[i].model)) {
            type = (int)i;
        }
    }
    if (type < 0) {
        return md_error_set(err, MD_ERR_UNSUPPORTED,
                            "tokenizer.ggml.model '%.*s' is not supported (medify reads gpt2, llama, bert)",
                            (int)(n_model > 64 ? 64 : n_model), model);
    }
    md_tokenizer_pre pre_kind = MD_TOKENIZER_PRE_NONE;
    if (type == MD_TOKENIZER_TYPE_BPE) {
        pre_kind = MD_TOKENIZER_PRE_DEFAULT; /* llama.cpp: missing pre → "default" (with a warning) */
        if (has_pre) {
            bool found = false;
            for (size_t i = 0; i < MD_ARRAY_LEN(k_pres); i++) {
                if (str_eq(pre, n_pre, k_pres[i].name)) {
                    pre_kind = k_pres[i].pre;
                    found = true;
                }
            }
            if (!found) {
                return md_error_set(err, MD_ERR_UNSUPPORTED,
                                    "tokenizer.ggml.pre '%.*s' is not supported: medify implements the "
                                    "'llama-bpe'/'llama3' and 'default' BPE pre-tokenizers; tokenizing with "
                                    "another model's split would silently change its input",
                                    (int)(n_pre > 64 ? 64 : n_pre), pre);
            }
        }
    }
    if (n_tokens == 0) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.tokens is empty");
    }
    if (n_tokens > TOK_MAX_TOKENS) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.tokens has %zu entries, more than int32 ids allow",
                            n_tokens);
    }
    md_tokenizer *tok = md_calloc(1, sizeof(*tok));
    if (!tok) {
        return md_error_set(err, MD_ERR_NOMEM, "out of memory allocating the tokenizer");
    }
    tok->type = (md_tokenizer_type)type;
    tok->pre = pre_kind;
    md_arena_init(&tok->strings, TOK_STRINGS_BLOCK_BYTES);
    md_map_init(&tok->vocab);
    md_map_init(&tok->merges);
    tok->tokens = md_calloc(n_tokens, sizeof(md_tok_entry));
    if (!tok->tokens) {
        md_tokenizer_free(tok);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory allocating %zu tokens", n_tokens);
    }
    tok->n_tokens = n_tokens;
    const type_defaults *d = &k_type_defaults[type];
    tok->ids = d->ids;
    tok->add_bos = d->add_bos;
    tok->add_eos = d->add_eos;
    tok->add_sep = d->add_sep;
    tok->add_space_prefix = d->add_space_prefix;
    if (pre_kind == MD_TOKENIZER_PRE_LLAMA3) {
        tok->ignore_merges = true;
        tok->add_bos = true;
    }
    *out = tok;
    return MD_OK;
}

/* A NUL-terminated copy of n bytes that may themselves contain NUL bytes. */
static char *arena_copy(md_arena *a, const char *s, size_t n) {
    if (n == SIZE_MAX) {
        return NULL;
    }
    char *copy = md_arena_alloc(a, n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

static uint32_t attr_from_type(int32_t type) {
    switch (type) {
    case 1: return MD_TOKEN_ATTR_NORMAL;
    case 2: return MD_TOKEN_ATTR_UNKNOWN;
    case 3: return MD_TOKEN_ATTR_CONTROL;
    case 4: return MD_TOKEN_ATTR_USER_DEFINED;
    case 5: return MD_TOKEN_ATTR_UNUSED;
    case 6: return MD_TOKEN_ATTR_BYTE;
    default: return 0; /* undefined */
    }
}

static md_status tok_set_token(md_tokenizer *tok, size_t i, const char *text, size_t n, float score, int32_t type,
                               md_error *err) {
    char empty[40];
    if (n == 0) { /* llama.cpp renames empty tokens so that they cannot match anything */
        n = (size_t)snprintf(empty, sizeof(empty), "[EMPTY_%zu]", i);
        text = empty;
    }
    if (n > UINT32_MAX) {
        return md_error_set(err, MD_ERR_PARSE, "token %zu is %zu bytes long", i, n);
    }
    char *copy = arena_copy(&tok->strings, text, n);
    if (!copy) {
        return md_error_set(err, MD_ERR_NOMEM, "out of memory copying token %zu", i);
    }
    if (md_map_get(&tok->vocab, copy, n, NULL)) {
        uint64_t other = 0;
        md_map_get(&tok->vocab, copy, n, &other);
        return md_error_set(err, MD_ERR_PARSE, "duplicate token in vocabulary: ids %llu and %zu have the same text",
                            (unsigned long long)other, i);
    }
    if (md_map_put(&tok->vocab, copy, n, (uint64_t)i) != MD_OK) {
        return md_error_set(err, MD_ERR_NOMEM, "out of memory indexing token %zu", i);
    }
    tok->tokens[i] = (md_tok_entry){.text = copy, .n_bytes = (uint32_t)n, .attr = attr_from_type(type), .score = score};
    if (n > tok->max_token_bytes) {
        tok->max_token_bytes = n;
    }
    return MD_OK;
}

/* A merge line is "left right", split at the first space after the first byte; a line
 * without one merges ("", ""), as in llama.cpp. The first rank of a pair wins. */
static md_status tok_add_merge(md_tokenizer *tok, size_t rank, const char *s, size_t n, md_error *err) {
    const char *left = "", *right = "";
    size_t n_left = 0, n_right = 0;
    const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
    if (sp) {
        left = s;
        n_left = (size_t)(sp - s);
        right = sp + 1;
        n_right = n - n_left - 1;
    }
    char stack_key[TOK_MERGE_KEY_STACK_BYTES];
    char *key = stack_key;
    size_t cap = sizeof(stack_key);
    if (n + 4 > cap) {
        cap = n + 4;
        key = md_malloc(cap);
        if (!key) {
            return md_error_set(err, MD_ERR_NOMEM, "out of memory reading merge %zu", rank);
        }
    }
    size_t n_key = md_tok_merge_key(key, cap, left, n_left, right, n_right);
    md_status st = MD_OK;
    if (!md_map_get(&tok->merges, key, n_key, NULL)) {
        st = md_map_put(&tok->merges, key, n_key, (uint64_t)rank);
    }
    if (key != stack_key) {
        md_free(key);
    }
    return st == MD_OK ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory indexing merge %zu", rank);
}

static int cmp_special(const void *a, const void *b, const md_tokenizer *tok) {
    int32_t ia = *(const int32_t *)a, ib = *(const int32_t *)b;
    uint32_t na = tok->tokens[ia].n_bytes, nb = tok->tokens[ib].n_bytes;
    if (na != nb) {
        return na > nb ? -1 : 1;
    }
    return ia < ib ? -1 : ia > ib;
}

/* Insertion sort keeps this free of a global comparator context; the special cache
 * is small (hundreds of tokens). */
static void sort_specials(md_tokenizer *tok) {
    for (size_t i = 1; i < tok->n_specials; i++) {
        int32_t v = tok->specials[i];
        size_t j = i;
        while (j > 0 && cmp_special(&tok->specials[j - 1], &v, tok) > 0) {
            tok->specials[j] = tok->specials[j - 1];
            j--;
        }
        tok->specials[j] = v;
    }
}

static md_status push_eog(md_tokenizer *tok, int32_t id, size_t cap) {
    if (id == MD_TOKEN_NULL) {
        return MD_OK;
    }
    for (size_t i = 0; i < tok->n_eog; i++) {
        if (tok->eog[i] == id) {
            return MD_OK;
        }
    }
    if (tok->n_eog >= cap) {
        return MD_ERR_INTERNAL;
    }
    tok->eog[tok->n_eog++] = id;
    return MD_OK;
}

/* Everything that depends on the whole vocabulary: ids, flags, EOT/EOG detection,
 * special cache, byte tokens, chat template. */
static md_status tok_finish(md_tokenizer *tok, const tok_options *o, md_error *err) {
    /* defaults that fall outside the vocabulary are disabled; given ids in range win */
    md_tokenizer_specials given_ids = o->ids;
    for (size_t k = 0; k < MD_ARRAY_LEN(k_special_keys); k++) {
        int32_t *slot = specials_slot(&tok->ids, k_special_keys[k].offset);
        int32_t given = *specials_slot(&given_ids, k_special_keys[k].offset);
        if (*slot != MD_TOKEN_NULL && (size_t)*slot >= tok->n_tokens) {
            *slot = MD_TOKEN_NULL;
        }
        if (given != MD_TOKEN_NULL && given >= 0 && (size_t)given < tok->n_tokens) {
            *slot = given;
        }
    }
    if (o->add_bos >= 0) tok->add_bos = o->add_bos != 0;
    if (o->add_eos >= 0) tok->add_eos = o->add_eos != 0;
    if (o->add_space_prefix >= 0) tok->add_space_prefix = o->add_space_prefix != 0;
    if (tok->add_bos && tok->ids.bos == MD_TOKEN_NULL && tok->type != MD_TOKENIZER_TYPE_WPM) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.add_bos_token is true but there is no BOS token");
    }
    if (tok->add_eos && tok->ids.eos == MD_TOKEN_NULL) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.add_eos_token is true but there is no EOS token");
    }
    if (tok->type == MD_TOKENIZER_TYPE_WPM && tok->ids.cls == MD_TOKEN_NULL && tok->ids.bos == MD_TOKEN_NULL) {
        return md_error_set(err, MD_ERR_PARSE, "WordPiece vocabulary without a [CLS]/BOS token");
    }
    if (tok->type == MD_TOKENIZER_TYPE_WPM && tok->ids.sep == MD_TOKEN_NULL) {
        return md_error_set(err, MD_ERR_PARSE, "WordPiece vocabulary without a [SEP] token");
    }

    /* end-of-turn tokens by text, as llama.cpp detects them; they become CONTROL */
    if (tok->ids.eot == MD_TOKEN_NULL) {
        for (size_t k = 0; k < MD_ARRAY_LEN(k_eot_texts) && tok->ids.eot == MD_TOKEN_NULL; k++) {
            tok->ids.eot = md_tok_find(tok, k_eot_texts[k], strlen(k_eot_texts[k]));
        }
    }
    if (tok->ids.eom == MD_TOKEN_NULL) {
        tok->ids.eom = md_tok_find(tok, "<|eom_id|>", strlen("<|eom_id|>"));
    }
    size_t eog_cap = MD_ARRAY_LEN(k_eog_texts) + 3;
    tok->eog = md_calloc(eog_cap, sizeof(int32_t));
    if (!tok->eog) {
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < MD_ARRAY_LEN(k_eog_texts); k++) {
        int32_t id = md_tok_find(tok, k_eog_texts[k], strlen(k_eog_texts[k]));
        if (id != MD_TOKEN_NULL) {
            tok->tokens[id].attr |= MD_TOKEN_ATTR_CONTROL;
            (void)push_eog(tok, id, eog_cap);
        }
    }
    if (tok->ids.eot != MD_TOKEN_NULL) tok->tokens[tok->ids.eot].attr |= MD_TOKEN_ATTR_CONTROL;
    if (tok->ids.eom != MD_TOKEN_NULL) tok->tokens[tok->ids.eom].attr |= MD_TOKEN_ATTR_CONTROL;
    (void)push_eog(tok, tok->ids.eos, eog_cap);
    (void)push_eog(tok, tok->ids.eot, eog_cap);
    (void)push_eog(tok, tok->ids.eom, eog_cap);

    /* the special-token cache */
    size_t n_specials = 0;
    const uint32_t special_attrs = MD_TOKEN_ATTR_CONTROL | MD_TOKEN_ATTR_USER_DEFINED | MD_TOKEN_ATTR_UNKNOWN;
    for (size_t i = 0; i < tok->n_tokens; i++) {
        n_specials += (tok->tokens[i].attr & special_attrs) != 0;
    }
    if (n_specials) {
        tok->specials = md_calloc(n_specials, sizeof(int32_t));
        if (!tok->specials) {
            return md_error_set(err, MD_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < tok->n_tokens; i++) {
            if (tok->tokens[i].attr & special_attrs) {
                tok->specials[tok->n_specials++] = (int32_t)i;
            }
        }
        sort_specials(tok);
    }

    /* byte fallback tokens */
    for (int b = 0; b < 256; b++) {
        char one = (char)b;
        int32_t id = MD_TOKEN_NULL;
        if (tok->type == MD_TOKENIZER_TYPE_SPM) {
            char hex[7];
            snprintf(hex, sizeof(hex), "<0x%02X>", b);
            id = md_tok_find(tok, hex, 6);
        }
        if (id == MD_TOKEN_NULL) {
            id = md_tok_find(tok, &one, 1);
        }
        tok->byte_ids[b] = id;
    }

    if (o->chat_template) {
        tok->chat_template = arena_copy(&tok->strings, o->chat_template, o->chat_template_bytes);
        if (!tok->chat_template) {
            return md_error_set(err, MD_ERR_NOMEM, "out of memory copying the chat template");
        }
        tok->chat_kind = md_chat_template_detect(o->chat_template, o->chat_template_bytes);
    }
    return MD_OK;
}

/* ------------------------------------------------------------ from a spec ---- */

md_tokenizer_spec md_tokenizer_default_spec(void) {
    md_tokenizer_spec s;
    memset(&s, 0, sizeof(s));
    s.ids = tok_options_none().ids;
    s.add_bos = s.add_eos = s.add_space_prefix = -1;
    return s;
}

md_status md_tokenizer_new(const md_tokenizer_spec *spec, md_tokenizer **out, md_error *err) {
    if (!out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_tokenizer_new: out is NULL");
    }
    *out = NULL;
    if (!spec || !spec->model || !spec->tokens || (spec->n_merges && !spec->merges)) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_tokenizer_new: incomplete spec");
    }
    md_tokenizer *tok = NULL;
    md_status st = tok_begin(spec->model, strlen(spec->model), spec->pre ? spec->pre : "",
                             spec->pre ? strlen(spec->pre) : 0, spec->pre != NULL, spec->n_tokens, &tok, err);
    if (st != MD_OK) {
        return st;
    }
    for (size_t i = 0; i < spec->n_tokens && st == MD_OK; i++) {
        const char *t = spec->tokens[i] ? spec->tokens[i] : "";
        size_t n = spec->token_bytes ? spec->token_bytes[i] : strlen(t);
        st = tok_set_token(tok, i, t, n, spec->scores ? spec->scores[i] : 0.0f,
                           spec->token_types ? spec->token_types[i] : 1, err);
    }
    if (tok->type == MD_TOKENIZER_TYPE_BPE) {
        for (size_t i = 0; i < spec->n_merges && st == MD_OK; i++) {
            const char *m = spec->merges[i] ? spec->merges[i] : "";
            st = tok_add_merge(tok, i, m, strlen(m), err);
        }
    }
    if (st == MD_OK) {
        tok_options o = tok_options_none();
        o.ids = spec->ids;
        o.add_bos = spec->add_bos;
        o.add_eos = spec->add_eos;
        o.add_space_prefix = spec->add_space_prefix;
        o.chat_template = spec->chat_template;
        o.chat_template_bytes = spec->chat_template ? strlen(spec->chat_template) : 0;
        st = tok_finish(tok, &o, err);
    }
    if (st != MD_OK) {
        md_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return MD_OK;
}

/* ------------------------------------------------------------ from GGUF ---- */

/* An optional array key: absent is fine, present with another element type or fewer
 * than n_min elements is an error. */
static md_status gguf_opt_array(const md_gguf *g, const char *key, md_gguf_type want, uint64_t n_min, bool *present,
                                md_error *err) {
    *present = false;
    if (md_gguf_find_key(g, key) < 0) {
        return MD_OK;
    }
    md_gguf_type et;
    uint64_t n;
    if (!md_gguf_get_arr(g, key, &et, &n) || et != want) {
        return md_error_set(err, MD_ERR_PARSE, "%s has the wrong type", key);
    }
    if (n < n_min) {
        return md_error_set(err, MD_ERR_PARSE, "%s has %llu entries for %llu tokens", key, (unsigned long long)n,
                            (unsigned long long)n_min);
    }
    *present = true;
    return MD_OK;
}

static md_status gguf_opt_bool(const md_gguf *g, const char *key, int *out, md_error *err) {
    if (md_gguf_find_key(g, key) < 0) {
        return MD_OK;
    }
    bool b;
    if (!md_gguf_get_bool(g, key, &b)) {
        return md_error_set(err, MD_ERR_PARSE, "%s is not a boolean", key);
    }
    *out = b ? 1 : 0;
    return MD_OK;
}

static md_status gguf_read_options(const md_gguf *g, tok_options *o, md_error *err) {
    for (size_t k = 0; k < MD_ARRAY_LEN(k_special_keys); k++) {
        const char *key = k_special_keys[k].key;
        if (md_gguf_find_key(g, key) < 0) {
            continue;
        }
        uint32_t v;
        if (!md_gguf_get_u32(g, key, &v)) {
            return md_error_set(err, MD_ERR_PARSE, "%s is not an unsigned integer", key);
        }
        /* out of range ids keep the default, as llama.cpp does (tok_finish checks) */
        *specials_slot(&o->ids, k_special_keys[k].offset) = v > (uint32_t)INT32_MAX ? MD_TOKEN_NULL : (int32_t)v;
    }
    md_status st = gguf_opt_bool(g, "tokenizer.ggml.add_bos_token", &o->add_bos, err);
    if (st == MD_OK) st = gguf_opt_bool(g, "tokenizer.ggml.add_eos_token", &o->add_eos, err);
    if (st == MD_OK) st = gguf_opt_bool(g, "tokenizer.ggml.add_space_prefix", &o->add_space_prefix, err);
    if (st != MD_OK) {
        return st;
    }
    if (md_gguf_find_key(g, "tokenizer.chat_template") >= 0 &&
        !md_gguf_get_str(g, "tokenizer.chat_template", &o->chat_template, &o->chat_template_bytes)) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.chat_template is not a string");
    }
    return MD_OK;
}

md_status md_tokenizer_load(const md_gguf *g, md_tokenizer **out, md_error *err) {
    if (!out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_tokenizer_load: out is NULL");
    }
    *out = NULL;
    if (!g) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_tokenizer_load: no GGUF file");
    }
    const char *model, *pre = "";
    size_t n_model, n_pre = 0;
    if (!md_gguf_get_str(g, "tokenizer.ggml.model", &model, &n_model)) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.model is missing or not a string");
    }
    bool has_pre = md_gguf_find_key(g, "tokenizer.ggml.pre") >= 0;
    if (has_pre && !md_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &n_pre)) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.pre is not a string");
    }
    md_gguf_type et;
    uint64_t n_tokens;
    if (!md_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n_tokens) || et != MD_GGUF_TYPE_STRING) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.tokens is missing or not an array of strings");
    }
    if (n_tokens > TOK_MAX_TOKENS) {
        return md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.tokens has too many entries (%llu)",
                            (unsigned long long)n_tokens);
    }
    md_tokenizer *tok = NULL;
    md_status st = tok_begin(model, n_model, pre, n_pre, has_pre, (size_t)n_tokens, &tok, err);
    if (st != MD_OK) {
        return st;
    }
    bool has_scores = false, has_types = false, has_iscores = false;
    md_gguf_type score_type = MD_GGUF_TYPE_FLOAT32;
    uint64_t n_scores;
    if (md_gguf_get_arr(g, "tokenizer.ggml.scores", &score_type, &n_scores) && score_type == MD_GGUF_TYPE_INT32) {
        score_type = MD_GGUF_TYPE_INT32; /* llama.cpp also accepts integer scores */
    } else {
        score_type = MD_GGUF_TYPE_FLOAT32;
    }
    st = gguf_opt_array(g, "tokenizer.ggml.scores", score_type, n_tokens,
                        score_type == MD_GGUF_TYPE_INT32 ? &has_iscores : &has_scores, err);
    if (st == MD_OK) {
        st = gguf_opt_array(g, "tokenizer.ggml.token_type", MD_GGUF_TYPE_INT32, n_tokens, &has_types, err);
    }
    for (uint64_t i = 0; i < n_tokens && st == MD_OK; i++) {
        const char *s;
        size_t n;
        float score = 0.0f;
        int32_t type = 1, iscore;
        if (!md_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &s, &n)) {
            st = md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.tokens[%llu] cannot be read", (unsigned long long)i);
            break;
        }
        if (has_scores && !md_gguf_arr_f32(g, "tokenizer.ggml.scores", i, &score)) {
            st = md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.scores[%llu] cannot be read", (unsigned long long)i);
            break;
        }
        if (has_iscores) {
            if (!md_gguf_arr_i32(g, "tokenizer.ggml.scores", i, &iscore)) {
                st = md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.scores[%llu] cannot be read",
                                  (unsigned long long)i);
                break;
            }
            score = (float)iscore;
        }
        if (has_types && !md_gguf_arr_i32(g, "tokenizer.ggml.token_type", i, &type)) {
            st = md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.token_type[%llu] cannot be read",
                              (unsigned long long)i);
            break;
        }
        st = tok_set_token(tok, (size_t)i, s, n, score, type, err);
    }
    if (st == MD_OK && tok->type == MD_TOKENIZER_TYPE_BPE) {
        uint64_t n_merges;
        if (!md_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &n_merges) || et != MD_GGUF_TYPE_STRING) {
            st = md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.merges is missing or not an array of strings");
        }
        for (uint64_t i = 0; st == MD_OK && i < n_merges; i++) {
            const char *s;
            size_t n;
            if (!md_gguf_arr_str(g, "tokenizer.ggml.merges", i, &s, &n)) {
                st = md_error_set(err, MD_ERR_PARSE, "tokenizer.ggml.merges[%llu] cannot be read",
                                  (unsigned long long)i);
                break;
            }
            st = tok_add_merge(tok, (size_t)i, s, n, err);
        }
    }
    if (st == MD_OK) {
        tok_options o = tok_options_none();
        st = gguf_read_options(g, &o, err);
        if (st == MD_OK) {
            st = tok_finish(tok, &o, err);
        }
    }
    if (st != MD_OK) {
        md_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return MD_OK;
}

void md_tokenizer_free(md_tokenizer *tok) {
    if (!tok) {
        return;
    }
    md_free(tok->tokens);
    md_free(tok->specials);
    md_free(tok->eog);
    md_map_free(&tok->vocab);
    md_map_free(&tok->merges);
    md_arena_free(&tok->strings);
    md_free(tok);
}

/* --------------------------------------------------------------- getters ---- */

md_tokenizer_type md_tokenizer_get_type(const md_tokenizer *tok) { return tok->type; }
md_tokenizer_pre md_tokenizer_get_pre(const md_tokenizer *tok) { return tok->pre; }
size_t md_tokenizer_n_tokens(const md_tokenizer *tok) { return tok->n_tokens; }
md_tokenizer_specials md_tokenizer_get_specials(const md_tokenizer *tok) { return tok->ids; }
bool md_tokenizer_add_bos(const md_tokenizer *tok) { return tok->type == MD_TOKENIZER_TYPE_WPM ? true : tok->add_bos; }
bool md_tokenizer_add_eos(const md_tokenizer *tok) { return tok->type == MD_TOKENIZER_TYPE_WPM ? true : tok->add_eos; }

bool md_tokenizer_is_eog(const md_tokenizer *tok, int32_t id) {
    for (size_t i = 0; id != MD_TOKEN_NULL && i < tok->n_eog; i++) {
        if (tok->eog[i] == id) {
            return true;
        }
    }
    return false;
}

static bool id_ok(const md_tokenizer *tok, int32_t id) { return id >= 0 && (size_t)id < tok->n_tokens; }

const char *md_tokenizer_token_text(const md_tokenizer *tok, int32_t id, size_t *n_bytes) {
    if (!id_ok(tok, id)) {
        if (n_bytes) *n_bytes = 0;
        return NULL;
    }
    if (n_bytes) *n_bytes = tok->tokens[id].n_bytes;
    return tok->tokens[id].text;
}

uint32_t md_tokenizer_token_attr(const md_tokenizer *tok, int32_t id) {
    return id_ok(tok, id) ? tok->tokens[id].attr : 0;
}

float md_tokenizer_token_score(const md_tokenizer *tok, int32_t id) {
    return id_ok(tok, id) ? tok->tokens[id].score : 0.0f;
}

int32_t md_tokenizer_find(const md_tokenizer *tok, const char *text, size_t n_bytes) {
    return md_tok_find(tok, text, n_bytes);
}

const char *md_tokenizer_chat_template(const md_tokenizer *tok, md_chat_template *kind) {
    if (kind) *kind = tok->chat_kind;
    return tok->chat_template;
}

/* ------------------------------------------------------------- tokenize ---- */

/* A piece of the input: raw text [off, off + n) when id < 0, else a special token. */
typedef struct fragment {
    size_t off, n;
    int32_t id;
} fragment;

typedef struct frag_list {
    fragment *v;
    size_t n, cap;
} frag_list;

static bool frag_push(frag_list *l, size_t off, size_t n, int32_t id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof(fragment)) {
            return false;
        }
        fragment *v = md_realloc(l->v, cap * sizeof(fragment));
        if (!v) {
            return false;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (fragment){off, n, id};
    return true;
}

static const char *find_bytes(const char *hay, size_t n_hay, const char *needle, size_t n_needle) {
    if (n_needle == 0 || n_needle > n_hay) {
        return NULL;
    }
    const char *end = hay + (n_hay - n_needle);
    for (const char *p = hay; p <= end;) {
        const char *q = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!q) {
            return NULL;
        }
        if (memcmp(q, needle, n_needle) == 0) {
            return q;
        }
        p = q + 1;
    }
    return NULL;
}

/* Cuts the raw fragments of *cur at every occurrence of each applicable special token,
 * longest token first (llama.cpp's tokenizer_st_partition). */
static md_status split_specials(const md_tokenizer *tok, const char *text, bool parse_special, frag_list *cur,
                                frag_list *tmp) {
    for (size_t k = 0; k < tok->n_specials; k++) {
        int32_t sid = tok->specials[k];
        const md_tok_entry *e = &tok->tokens[sid];
        if (!parse_special && (e->attr & (MD_TOKEN_ATTR_CONTROL | MD_TOKEN_ATTR_UNKNOWN))) {
            continue; /* user-defined tokens are always split off */
        }
        bool any = false;
        for (size_t i = 0; i < cur->n && !any; i++) {
            any = cur->v[i].id < 0 && find_bytes(text + cur->v[i].off, cur->v[i].n, e->text, e->n_bytes) != NULL;
        }
        if (!any) {
            continue;
        }
        tmp->n = 0;
        for (size_t i = 0; i < cur->n; i++) {
            fragment f = cur->v[i];
            if (f.id >= 0) {
                if (!frag_push(tmp, f.off, f.n, f.id)) return MD_ERR_NOMEM;
                continue;
            }
            size_t off = f.off, end = f.off + f.n;
            for (;;) {
                const char *m = find_bytes(text + off, end - off, e->text, e->n_bytes);
                if (!m) {
                    break;
                }
                size_t at = (size_t)(m - text);
                if (at > off && !frag_push(tmp, off, at - off, -1)) return MD_ERR_NOMEM;
                if (!frag_push(tmp, at, e->n_bytes, sid)) return MD_ERR_NOMEM;
                off = at + e->n_bytes;
            }
            if (off < end && !frag_push(tmp, off, end - off, -1)) return MD_ERR_NOMEM;
        }
        frag_list swap = *cur;
        *cur = *tmp;
        *tmp = swap;
    }
    return MD_OK;
}

md_status md_tokenize(const md_tokenizer *tok, const char *text, size_t n_bytes, bool add_special, bool parse_special,
                      int32_t *out, size_t cap, size_t *n_out) {
    size_t dummy;
    if (!n_out) {
        n_out = &dummy;
    }
    *n_out = 0;
    if (!tok || (!text && n_bytes) || (!out && cap)) {
        return MD_ERR_INVALID_ARG;
    }
    frag_list frags = {0}, tmp = {0};
    md_tok_out ids = {0};
    md_status st = MD_OK;
    if (n_bytes > 0) {
        if (!frag_push(&frags, 0, n_bytes, -1)) {
            st = MD_ERR_NOMEM;
        } else {
            st = split_specials(tok, text, parse_special, &frags, &tmp);
        }
    }
    if (st == MD_OK) {
        switch (tok->type) {
        case MD_TOKENIZER_TYPE_SPM: {
            bool prev_special = true; /* the first raw fragment gets the space prefix */
            if (add_special && tok->add_bos) {
                md_tok_out_push(&ids, tok->ids.bos);
            }
            for (size_t i = 0; i < frags.n && st == MD_OK; i++) {
                if (frags.v[i].id >= 0) {
                    md_tok_out_push(&ids, frags.v[i].id);
                    prev_special = true;
                } else {
                    st = md_tok_spm_encode(tok, text + frags.v[i].off, frags.v[i].n,
                                           tok->add_space_prefix && prev_special, &ids);
                    prev_special = false;
                }
            }
            if (add_special && tok->add_eos) {
                md_tok_out_push(&ids, tok->ids.eos);
            }
            break;
        }
        case MD_TOKENIZER_TYPE_BPE:
            if (add_special && tok->add_bos) {
                md_tok_out_push(&ids, tok->ids.bos);
            }
            for (size_t i = 0; i < frags.n && st == MD_OK; i++) {
                if (frags.v[i].id >= 0) {
                    md_tok_out_push(&ids, frags.v[i].id);
                } else {
                    st = md_tok_bpe_encode(tok, text + frags.v[i].off, frags.v[i].n, &ids);
                }
            }
            if (add_special && tok->add_eos) {
                md_tok_out_push(&ids, tok->ids.eos);
            }
            break;
        case MD_TOKENIZER_TYPE_WPM:
            if (add_special) {
                md_tok_out_push(&ids, tok->ids.cls != MD_TOKEN_NULL ? tok->ids.cls : tok->ids.bos);
            }
            for (size_t i = 0; i < frags.n && st == MD_OK; i++) {
                if (frags.v[i].id >= 0) {
                    md_tok_out_push(&ids, frags.v[i].id);
                } else {
                    st = md_tok_wpm_encode(tok, text + frags.v[i].off, frags.v[i].n, &ids);
                }
            }
            if (add_special) {
                md_tok_out_push(&ids, tok->ids.sep);
            }
            break;
        default: st = MD_ERR_INTERNAL; break;
        }
    }
    if (st == MD_OK && ids.failed) {
        st = MD_ERR_NOMEM;
    }
    if (st == MD_OK) {
        *n_out = ids.n;
        if (ids.n > cap) {
            st = MD_ERR_LIMIT;
        } else if (ids.n) {
            memcpy(out, ids.ids, ids.n * sizeof(int32_t));
        }
    }
    md_free(frags.v);
    md_free(tmp.v);
    md_free(ids.ids);
    return st;
}

/* ----------------------------------------------------------- detokenize ---- */

static void piece_put(char *buf, size_t cap, size_t *n, const char *s, size_t len) {
    if (*n < cap) {
        size_t room = cap - *n;
        memcpy(buf + *n, s, len < room ? len : room);
    }
    *n += len;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xXX>" → byte; llama.cpp reads two hex digits at offset 3. */
static bool byte_token_value(const md_tok_entry *e, unsigned char *b) {
    if (e->n_bytes < 5) {
        return false;
    }
    int hi = hex_digit(e->text[3]), lo = hex_digit(e->text[4]);
    if (hi < 0 || lo < 0) {
        return false;
    }
    *b = (unsigned char)(hi * 16 + lo);
    return true;
}

md_status md_detokenize_piece(const md_tokenizer *tok, int32_t id, bool special, char *buf, size_t cap, size_t *n_out) {
    size_t n = 0;
    if (n_out) *n_out = 0;
    if (!tok || !id_ok(tok, id) || (!buf && cap)) {
        return MD_ERR_INVALID_ARG;
    }
    const md_tok_entry *e = &tok->tokens[id];
    const uint32_t shown_raw = MD_TOKEN_ATTR_UNKNOWN | MD_TOKEN_ATTR_CONTROL;
    if (!special && (e->attr & shown_raw)) {
        return MD_OK;
    }
    if (e->attr & (shown_raw | MD_TOKEN_ATTR_USER_DEFINED)) {
        piece_put(buf, cap, &n, e->text, e->n_bytes);
    } else if (e->attr & MD_TOKEN_ATTR_NORMAL) {
        if (tok->type == MD_TOKENIZER_TYPE_BPE) {
            for (size_t i = 0; i < e->n_bytes;) {
                size_t len;
                uint32_t cp = md_tok_utf8_decode(e->text + i, e->n_bytes - i, &len);
                int b = md_tok_gpt2_byte(cp);
                if (b >= 0) {
                    char c = (char)b;
                    piece_put(buf, cap, &n, &c, 1);
                } else { /* not in the byte alphabet: llama.cpp writes this marker */
                    char mark[64];
                    int m = snprintf(mark, sizeof(mark), "[UNK_BYTE_0x");
                    char enc[4];
                    size_t ne = md_tok_utf8_encode(cp, enc);
                    for (size_t j = 0; j < ne; j++) {
                        m += snprintf(mark + m, sizeof(mark) - (size_t)m, "%02x", (unsigned char)enc[j]);
                    }
                    piece_put(buf, cap, &n, mark, (size_t)m);
                    piece_put(buf, cap, &n, e->text, e->n_bytes);
                    piece_put(buf, cap, &n, "]", 1);
                }
                i += len;
            }
        } else { /* SentencePiece and WordPiece: '▁' (E2 96 81) stands for a space */
            for (size_t i = 0; i < e->n_bytes;) {
                if (e->n_bytes - i >= 3 && memcmp(e->text + i, "\xe2\x96\x81", 3) == 0) {
                    piece_put(buf, cap, &n, " ", 1);
                    i += 3;
                } else {
                    piece_put(buf, cap, &n, e->text + i, 1);
                    i++;
                }
            }
        }
    } else if (e->attr & MD_TOKEN_ATTR_BYTE) {
        unsigned char b;
        if (tok->type != MD_TOKENIZER_TYPE_WPM && byte_token_value(e, &b)) {
            piece_put(buf, cap, &n, (const char *)&b, 1);
        }
    }
    if (n_out) *n_out = n;
    return n > cap ? MD_ERR_LIMIT : MD_OK;
}

md_status md_detokenize(const md_tokenizer *tok, const int32_t *ids, size_t n, bool special, md_buf *out) {
    if (!tok || (!ids && n) || !out) {
        return MD_ERR_INVALID_ARG;
    }
    char small[256];
    for (size_t i = 0; i < n; i++) {
        size_t len;
        md_status st = md_detokenize_piece(tok, ids[i], special, small, sizeof(small), &len);
        if (st == MD_OK) {
            md_buf_append(out, small, len);
            continue;
        }
        if (st != MD_ERR_LIMIT) {
            return st;
        }
        char *big = md_malloc(len);
        if (!big) {
            return MD_ERR_NOMEM;
        }
        st = md_detokenize_piece(tok, ids[i], special, big, len, &len);
        if (st == MD_OK) {
            md_buf_append(out, big, len);
        }
        md_free(big);
        if (st != MD_OK) {
            return st;
        }
    }
    return md_buf_ok(out) ? MD_OK : MD_ERR_NOMEM;
}
