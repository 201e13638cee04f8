/* tokenizer_wpm.c: WordPiece ("bert" vocabularies: BERT, bge, all-MiniLM), as
 * llama.cpp's llm_tokenizer_wpm runs it.
 *
 * Normalisation and word split (BERT's BasicTokenizer, Devlin et al. 2019, as llama.cpp
 * reimplements it): each code point is replaced by the first code point of its
 * canonical decomposition (this strips the accent of precomposed letters: é → e,
 * Å → A; combining marks typed separately are kept), then
 *   - White_Space ends the current word;
 *   - U+0000, U+FFFD and control/format/private-use/surrogate code points are dropped;
 *   - the code point is lower-cased (simple mapping);
 *   - punctuation (\p{P}), ASCII symbols (\p{S} below U+007F) and CJK ideographs each
 *     form a word of their own;
 *   - anything else extends the current word.
 *
 * Word pieces (Wu et al. 2016, "greedy longest-match-first"): the GGUF vocabulary
 * spells word-initial pieces with a leading '▁' and continuation pieces bare (HF's
 * "##ing" is stored as "ing"), so each word is looked up as "▁" + word: from the
 * current position the longest substring (at most max_token_bytes + 1 bytes) that is
 * a token is taken, and so on to the end of the word. If some position has no match,
 * the whole word becomes a single [UNK].
 */
#include "engine/tokenizer_internal.h"

#include <string.h>

#define WPM_SPACE       "\xe2\x96\x81"
#define WPM_SPACE_BYTES 3

/* CJK ideograph blocks, as BERT's _is_chinese_char (and llama.cpp, including its
 * 0x2B920 lower bound, which HF's Rust code uses instead of 0x2B820). */
static bool is_chinese_char(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static void flush_word(md_buf *w, md_tok_word_fn fn, void *ctx) {
    if (w->len > 0) {
        fn(ctx, w->data, w->len);
        md_buf_clear(w);
    }
}

md_status md_tok_wpm_words(const char *text, size_t n_bytes, md_tok_word_fn fn, void *ctx) {
    md_buf w;
    md_buf_init(&w);
    for (size_t i = 0; i < n_bytes;) {
        size_t len;
        uint32_t cp = md_ucd_nfd_first(md_tok_utf8_decode(text + i, n_bytes - i, &len));
        i += len;
        uint32_t flags = md_ucd_flags(cp);
        if (flags & MD_UCD_WHITESPACE) {
            flush_word(&w, fn, ctx);
            continue;
        }
        uint32_t cls = flags & MD_UCD_CLASS_MASK;
        if (cp == 0 || cp == 0xFFFD || cls == MD_UCD_CLASS_CONTROL) {
            continue;
        }
        char enc[4];
        size_t n_enc = md_tok_utf8_encode(md_ucd_tolower(cp), enc);
        if (cls == MD_UCD_CLASS_PUNCTUATION || (cp < 0x7F && cls == MD_UCD_CLASS_SYMBOL) || is_chinese_char(cp)) {
            flush_word(&w, fn, ctx);
            md_buf_append(&w, enc, n_enc);
            if (!md_buf_ok(&w)) break;
            flush_word(&w, fn, ctx);
        } else {
            md_buf_append(&w, enc, n_enc);
        }
        if (!md_buf_ok(&w)) break;
    }
    md_status st = md_buf_ok(&w) ? MD_OK : MD_ERR_NOMEM;
    if (st == MD_OK) {
        flush_word(&w, fn, ctx);
    }
    md_buf_free(&w);
    return st;
}

typedef struct wpm_ctx {
    const md_tokenizer *tok;
    md_tok_out *out;
    md_buf word; /* "▁" + word */
    bool failed; /* an allocation failed (md_buf_clear on the next word resets the buffer's flag) */
} wpm_ctx;

static void wpm_word(void *vctx, const char *word, size_t n_word) {
    wpm_ctx *c = vctx;
    const md_tokenizer *tok = c->tok;
    md_buf_clear(&c->word);
    md_buf_append(&c->word, WPM_SPACE, WPM_SPACE_BYTES);
    md_buf_append(&c->word, word, n_word);
    if (!md_buf_ok(&c->word)) {
        c->failed = true;
        return;
    }
    const char *w = c->word.data;
    size_t n = c->word.len, first = c->out->n;
    for (size_t i = 0; i < n;) {
        size_t hi = tok->max_token_bytes + 1 < n - i ? i + tok->max_token_bytes + 1 : n;
        size_t j = hi;
        int32_t id = MD_TOKEN_NULL;
        for (; j > i; j--) {
            id = md_tok_find(tok, w + i, j - i);
            if (id != MD_TOKEN_NULL) break;
        }
        if (id == MD_TOKEN_NULL) { /* no piece fits here: the word is unknown */
            c->out->n = first;
            break;
        }
        md_tok_out_push(c->out, id);
        i = j;
    }
    if (c->out->n == first && tok->ids.unk != MD_TOKEN_NULL) {
        md_tok_out_push(c->out, tok->ids.unk);
    }
}

md_status md_tok_wpm_encode(const md_tokenizer *tok, const char *text, size_t n_bytes, md_tok_out *out) {
    wpm_ctx c = {tok, out, {0}, false};
    md_buf_init(&c.word);
    md_status st = md_tok_wpm_words(text, n_bytes, wpm_word, &c);
    if (st == MD_OK && (c.failed || out->failed)) {
        st = MD_ERR_NOMEM;
    }
    md_buf_free(&c.word);
    return st;
}
