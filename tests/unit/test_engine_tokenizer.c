/* Tokenizers: the Unicode tables and the lenient UTF-8 codec, the Llama 3 and default
 * BPE pre-tokenizers, byte-level BPE / SentencePiece / WordPiece on hand-made
 * vocabularies (merge order, ignore_merges, byte fallback, [UNK], accents, special
 * tokens with and without parse_special, add_special), detokenization, chat template
 * detection and rendering, an OOM loop; then, when MEDIFY_FIXTURES points at the
 * shared fixtures, every input of every vocab .inp file must tokenize exactly as llama.cpp
 * did (README section 1 of the fixtures), with pass counts printed per file. */
#include "check.h"
#include "engine/tokenizer_internal.h"
#include "medify/gguf.h"
#include "medify/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IDS 4096

/* ------------------------------------------------------------- helpers ---- */

/* Tokenizes s and compares with the expected ids (terminated by -2). */
static int tok_eq(const md_tokenizer *tok, const char *s, bool add_special, bool parse_special, const int32_t *expect) {
    int32_t ids[MAX_IDS];
    size_t n = 0, n_expect = 0;
    while (expect[n_expect] != -2)
        n_expect++;
    md_status st = md_tokenize(tok, s, strlen(s), add_special, parse_special, ids, MAX_IDS, &n);
    int ok = st == MD_OK && n == n_expect && memcmp(ids, expect, n * sizeof(int32_t)) == 0;
    if (!ok) {
        fprintf(stderr, "  tokenize \"%s\" (add_special %d, parse_special %d): status %d, got", s, add_special,
                parse_special, (int)st);
        for (size_t i = 0; i < n && i < MAX_IDS; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "; want");
        for (size_t i = 0; i < n_expect; i++)
            fprintf(stderr, " %d", expect[i]);
        fputc('\n', stderr);
    }
    return ok;
}
#define IDS(...) ((const int32_t[]){__VA_ARGS__, -2})
#define NO_IDS   ((const int32_t[]){-2})

typedef struct words {
    char text[64][32];
    size_t n;
} words;

static void collect_word(void *ctx, const char *w, size_t n) {
    words *ws = ctx;
    if (ws->n < 64 && n < 32) {
        memcpy(ws->text[ws->n], w, n);
        ws->text[ws->n][n] = '\0';
    }
    ws->n++;
}

/* Compares the word split with expect (NULL-terminated). */
static int split_eq(md_tokenizer_pre pre, const char *s, const char *const *expect) {
    words ws = {.n = 0};
    md_status st = md_tok_bpe_pretokenize(pre, s, strlen(s), collect_word, &ws);
    size_t n_expect = 0;
    while (expect[n_expect])
        n_expect++;
    int ok = st == MD_OK && ws.n == n_expect;
    for (size_t i = 0; ok && i < n_expect; i++)
        ok = strcmp(ws.text[i], expect[i]) == 0;
    if (!ok) {
        fprintf(stderr, "  split \"%s\": got", s);
        for (size_t i = 0; i < ws.n && i < 64; i++)
            fprintf(stderr, " [%s]", ws.text[i]);
        fputc('\n', stderr);
    }
    return ok;
}
#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static int piece_eq(const md_tokenizer *tok, int32_t id, bool special, const char *expect) {
    char buf[64];
    size_t n = 0;
    md_status st = md_detokenize_piece(tok, id, special, buf, sizeof(buf), &n);
    return st == MD_OK && n == strlen(expect) && memcmp(buf, expect, n) == 0;
}

/* ------------------------------------------------------- unicode, utf-8 ---- */

static void test_unicode_tables(void) {
    CHECK(md_ucd_flags('a') & MD_UCD_CLASS_LETTER);
    CHECK(md_ucd_flags('7') & MD_UCD_CLASS_NUMBER);
    CHECK(md_ucd_flags(' ') & MD_UCD_WHITESPACE);
    CHECK(md_ucd_flags('\n') & MD_UCD_WHITESPACE);
    CHECK(md_ucd_flags(0xA0) & MD_UCD_WHITESPACE);      /* no-break space */
    CHECK(md_ucd_flags(0x3000) & MD_UCD_WHITESPACE);    /* ideographic space */
    CHECK(!(md_ucd_flags(0x200B) & MD_UCD_WHITESPACE)); /* zero-width space is Cf, not White_Space */
    CHECK_EQ_INT(md_ucd_flags(0x200B) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_CONTROL);
    CHECK_EQ_INT(md_ucd_flags(0xB0) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_SYMBOL);        /* ° */
    CHECK_EQ_INT(md_ucd_flags(0xB5) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_LETTER);        /* µ */
    CHECK_EQ_INT(md_ucd_flags(0xB2) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_NUMBER);        /* ² */
    CHECK_EQ_INT(md_ucd_flags(0xBD) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_NUMBER);        /* ½ */
    CHECK_EQ_INT(md_ucd_flags(0x2212) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_SYMBOL);      /* − */
    CHECK_EQ_INT(md_ucd_flags(0x2026) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_PUNCTUATION); /* … */
    CHECK_EQ_INT(md_ucd_flags(0x0301) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_MARK);
    CHECK_EQ_INT(md_ucd_flags(0x4E2D) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_LETTER);    /* 中 */
    CHECK_EQ_INT(md_ucd_flags(0x1F623) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_SYMBOL);   /* 😣 */
    CHECK_EQ_INT(md_ucd_flags(0x0CF3) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_MARK);      /* Unicode 15.0 */
    CHECK_EQ_INT(md_ucd_flags(0x2EBF0) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_LETTER);   /* CJK Ext I, 15.1 */
    CHECK_EQ_INT(md_ucd_flags(0x31EF) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_SYMBOL);    /* 15.1 */
    CHECK_EQ_INT(md_ucd_flags(0x1C89) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_UNDEFINED); /* added in 16.0 */
    CHECK_EQ_INT(md_ucd_flags(0x0378) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_UNDEFINED);
    CHECK_EQ_INT(md_ucd_flags(0xD800) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_CONTROL); /* surrogate */
    CHECK_EQ_INT(md_ucd_flags(0x10FFFF) & MD_UCD_CLASS_MASK, MD_UCD_CLASS_UNDEFINED);
    CHECK_EQ_INT(md_ucd_flags(0x110000), MD_UCD_CLASS_UNDEFINED);
    CHECK_EQ_INT(md_ucd_tolower('Q'), 'q');
    CHECK_EQ_INT(md_ucd_tolower(0xC5), 0xE5);   /* Å → å */
    CHECK_EQ_INT(md_ucd_tolower(0x130), 'i');   /* İ → i (simple mapping) */
    CHECK_EQ_INT(md_ucd_tolower(0x394), 0x3B4); /* Δ → δ */
    CHECK_EQ_INT(md_ucd_tolower('q'), 'q');
    CHECK_EQ_INT(md_ucd_nfd_first(0xE9), 'e');      /* é */
    CHECK_EQ_INT(md_ucd_nfd_first(0x212B), 'A');    /* Ångström sign */
    CHECK_EQ_INT(md_ucd_nfd_first(0x152), 0x152);   /* Œ has no canonical decomposition */
    CHECK_EQ_INT(md_ucd_nfd_first(0x1FC1), 0xA8);   /* recursive, first code point */
    CHECK_EQ_INT(md_ucd_nfd_first(0xAC00), 0x1100); /* Hangul, arithmetic */
    CHECK_EQ_INT(md_ucd_nfd_first(0xD7A3), 0x1112);
    CHECK_EQ_INT(md_ucd_nfd_first('a'), 'a');
}

static void test_utf8_codec(void) {
    size_t len;
    CHECK_EQ_INT(md_tok_utf8_decode("\xc3\xa9", 2, &len), 0xE9);
    CHECK_EQ_INT(len, 2);
    CHECK_EQ_INT(md_tok_utf8_decode("\xf0\x9f\x98\xa3", 4, &len), 0x1F623);
    CHECK_EQ_INT(len, 4);
    CHECK_EQ_INT(md_tok_utf8_decode("\xc3", 1, &len), 0xFFFD); /* truncated */
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT(md_tok_utf8_decode("\xa9x", 2, &len), 0xFFFD); /* stray continuation */
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT(md_tok_utf8_decode("\xe2\x28\xa1", 3, &len), 0xFFFD);
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT(md_tok_utf8_decode("\xed\xa0\x80", 3, &len), 0xD800);     /* lenient, as llama.cpp */
    CHECK_EQ_INT(md_tok_utf8_decode("\xf4\x90\x80\x80", 4, &len), 0xFFFD); /* above U+10FFFF */
    CHECK_EQ_INT(md_tok_utf8_len(0xF0), 4);
    CHECK_EQ_INT(md_tok_utf8_len(0x80), 1);
    char out[4];
    CHECK_EQ_INT(md_tok_utf8_encode(0x20AC, out), 3);
    CHECK(memcmp(out, "\xe2\x82\xac", 3) == 0);
    CHECK_EQ_INT(md_tok_utf8_encode(0x110000, out), 3); /* → U+FFFD */
    CHECK(memcmp(out, "\xef\xbf\xbd", 3) == 0);
}

static void test_gpt2_alphabet(void) {
    CHECK_EQ_INT(md_tok_gpt2_cp(' '), 0x120);  /* Ġ */
    CHECK_EQ_INT(md_tok_gpt2_cp('\n'), 0x10A); /* Ċ */
    CHECK_EQ_INT(md_tok_gpt2_cp('A'), 'A');
    CHECK_EQ_INT(md_tok_gpt2_cp(0xAD), 0x143);
    CHECK_EQ_INT(md_tok_gpt2_cp(0x7F), 0x121);
    CHECK_EQ_INT(md_tok_gpt2_cp(0xA0), 0x142);
    int roundtrip = 1, distinct = 1;
    uint32_t seen[0x144] = {0};
    for (int b = 0; b < 256; b++) {
        uint32_t cp = md_tok_gpt2_cp((uint8_t)b);
        roundtrip &= md_tok_gpt2_byte(cp) == b;
        if (cp < 0x144) distinct &= seen[cp]++ == 0;
    }
    CHECK(roundtrip);
    CHECK(distinct);
    CHECK_EQ_INT(md_tok_gpt2_byte(0x144), -1);
}

/* ------------------------------------------------------- pre-tokenizers ---- */

static void test_llama3_split(void) {
    const md_tokenizer_pre L3 = MD_TOKENIZER_PRE_LLAMA3;
    CHECK(split_eq(L3, "Hello world", WORDS("Hello", " world")));
    CHECK(split_eq(L3, "I'm sure they'LL can't", WORDS("I", "'m", " sure", " they", "'LL", " can", "'t")));
    CHECK(split_eq(L3, "'x 'S", WORDS("'x", " '", "S")));
    CHECK(split_eq(L3, "1234567", WORDS("123", "456", "7")));
    CHECK(split_eq(L3, "3.5mg q8h", WORDS("3", ".", "5", "mg", " q", "8", "h")));
    CHECK(split_eq(L3, "a  b", WORDS("a", " ", " b")));
    CHECK(split_eq(L3, "x\n\ny", WORDS("x", "\n\n", "y")));
    CHECK(split_eq(L3, "  \n  ", WORDS("  \n", "  ")));
    CHECK(split_eq(L3, "hi!!\n\nok", WORDS("hi", "!!\n\n", "ok")));
    CHECK(split_eq(L3, " ?? x", WORDS(" ??", " x")));
    CHECK(split_eq(L3, "end ", WORDS("end", " ")));
    CHECK(split_eq(L3, "M\xc3\xa9ni\xc3\xa8re's", WORDS("M\xc3\xa9ni\xc3\xa8re", "'s")));
    CHECK(split_eq(L3, "BP 120/80", WORDS("BP", " ", "120", "/", "80")));
    CHECK(split_eq(L3, "\xc2\xb5g/mL", WORDS("\xc2\xb5g", "/mL"))); /* µ is a letter */
    CHECK(split_eq(L3, "10\xc2\xb2", WORDS("10\xc2\xb2")));         /* ² is a number */
    CHECK(split_eq(L3, "\t\tx", WORDS("\t", "\tx")));
    CHECK(split_eq(L3, "", (const char *const[]){NULL}));
}

static void test_default_split(void) {
    const md_tokenizer_pre D = MD_TOKENIZER_PRE_DEFAULT;
    CHECK(split_eq(D, "Hello, world 12345!", WORDS("Hello", ",", " world", " ", "123", "45", "!")));
    CHECK(split_eq(D, "I'm ok", WORDS("I", "'", "m", " ok"))); /* the punctuation stage runs first */
    CHECK(split_eq(D, "a  b", WORDS("a", " ", " b")));
    CHECK(split_eq(D, "x`y", WORDS("x", "`", "y"))); /* ` is a symbol, not in the first class */
    CHECK(split_eq(D,
                   "a\xc2\xb2"
                   "3",
                   WORDS("a", "\xc2\xb2"
                              "3")));
}

/* -------------------------------------------------------------- BPE ---- */

/* GPT-2 alphabet: Ġ = space, Ċ = newline. */
static const char *const k_bpe_tokens[] = {
    "a",
    "b",
    "c",
    "\xc4\xa0",
    "ab",
    "abc",
    "\xc4\xa0"
    "a",
    "\xc4\xa0"
    "ab",
    "\xc4\xa0"
    "abc",
    "d",
    "!",
    "\xc4\x8a",
    "<|begin_of_text|>",
    "<|eot_id|>",
    "cd",
    "1",
    "2",
    "3",
    "12",
    "123",
};
static const int32_t k_bpe_types[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1};
static const char *const k_bpe_merges[] = {
    "a b",
    "ab c",
    "\xc4\xa0 a",
    "\xc4\xa0"
    "a b",
    "\xc4\xa0"
    "ab c",
    "1 2",
    "12 3",
};

static md_tokenizer *make_bpe(const char *pre) {
    md_tokenizer_spec s = md_tokenizer_default_spec();
    s.model = "gpt2";
    s.pre = pre;
    s.n_tokens = MD_ARRAY_LEN(k_bpe_tokens);
    s.tokens = k_bpe_tokens;
    s.token_types = k_bpe_types;
    s.n_merges = MD_ARRAY_LEN(k_bpe_merges);
    s.merges = k_bpe_merges;
    s.ids.bos = 12;
    s.ids.eos = 13;
    md_tokenizer *tok = NULL;
    md_error err;
    md_status st = md_tokenizer_new(&s, &tok, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    return tok;
}

static void test_bpe(void) {
    md_tokenizer *tok = make_bpe("llama-bpe");
    if (!tok) return;
    CHECK_EQ_INT(md_tokenizer_get_type(tok), MD_TOKENIZER_TYPE_BPE);
    CHECK_EQ_INT(md_tokenizer_get_pre(tok), MD_TOKENIZER_PRE_LLAMA3);
    CHECK(md_tokenizer_add_bos(tok)); /* llama3 pre-tokenizer default */
    CHECK(tok_eq(tok, "abc", false, false, IDS(5)));
    CHECK(tok_eq(tok, "abc abc", false, false, IDS(5, 8)));
    CHECK(tok_eq(tok, "abd", false, false, IDS(4, 9)));
    CHECK(tok_eq(tok, "cd", false, false, IDS(14)));       /* in the vocabulary: merges skipped */
    CHECK(tok_eq(tok, "a\xc3\xa9", false, false, IDS(0))); /* é has no byte tokens: dropped */
    CHECK(tok_eq(tok, "1234", false, false, IDS(19)));     /* "123" "4"; no token for 4 */
    CHECK(tok_eq(tok, "a!\n", false, false, IDS(0, 10, 11)));
    CHECK(tok_eq(tok, "", false, false, NO_IDS));
    CHECK(tok_eq(tok, "", true, false, IDS(12)));
    CHECK(tok_eq(tok, "abc", true, false, IDS(12, 5)));
    CHECK(tok_eq(tok, "abc<|eot_id|>abc", false, true, IDS(5, 13, 5)));
    CHECK(tok_eq(tok, "<|begin_of_text|><|eot_id|>", true, true, IDS(12, 12, 13)));

    int32_t ids[16];
    size_t n = 0;
    const char *t = "abc<|eot_id|>";
    CHECK_EQ_INT(md_tokenize(tok, t, strlen(t), false, false, ids, 16, &n), MD_OK);
    int has_eot = 0;
    for (size_t i = 0; i < n; i++)
        has_eot |= ids[i] == 13;
    CHECK(!has_eot); /* control text is plain text without parse_special */

    CHECK_EQ_INT(md_tokenize(tok, "abc abc", 7, false, false, ids, 1, &n), MD_ERR_LIMIT);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(md_tokenize(tok, "abc abc", 7, false, false, NULL, 0, &n), MD_ERR_LIMIT);
    CHECK_EQ_INT(n, 2);

    CHECK(piece_eq(tok, 8, false, " abc"));
    CHECK(piece_eq(tok, 11, false, "\n"));
    CHECK(piece_eq(tok, 13, false, ""));
    CHECK(piece_eq(tok, 13, true, "<|eot_id|>"));
    char small[2];
    CHECK_EQ_INT(md_detokenize_piece(tok, 8, false, small, sizeof(small), &n), MD_ERR_LIMIT);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(md_detokenize_piece(tok, 99, false, small, sizeof(small), &n), MD_ERR_INVALID_ARG);
    md_buf b;
    md_buf_init(&b);
    CHECK_EQ_INT(md_detokenize(tok, (const int32_t[]){12, 5, 8, 11}, 4, false, &b), MD_OK);
    CHECK_EQ_STR(b.data, "abc abc\n");
    md_buf_free(&b);

    CHECK(md_tokenizer_is_eog(tok, 13));
    CHECK(!md_tokenizer_is_eog(tok, 5));
    CHECK_EQ_INT(md_tokenizer_find(tok,
                                   "\xc4\xa0"
                                   "abc",
                                   5),
                 8);
    CHECK_EQ_INT(md_tokenizer_find(tok, "zz", 2), MD_TOKEN_NULL);
    md_tokenizer_free(tok);

    tok = make_bpe("default");
    if (!tok) return;
    CHECK(!md_tokenizer_add_bos(tok));
    CHECK(tok_eq(tok, "cd", false, false, IDS(2, 9)));        /* no ignore_merges: c, d */
    CHECK(tok_eq(tok, "abc abc", true, false, IDS(5, 3, 5))); /* "a b" outranks "Ġ a" */
    md_tokenizer_free(tok);
}

static void test_bpe_rejects(void) {
    md_tokenizer_spec s = md_tokenizer_default_spec();
    s.model = "gpt2";
    s.pre = "qwen2";
    s.n_tokens = MD_ARRAY_LEN(k_bpe_tokens);
    s.tokens = k_bpe_tokens;
    md_tokenizer *tok = NULL;
    md_error err;
    CHECK_EQ_INT(md_tokenizer_new(&s, &tok, &err), MD_ERR_UNSUPPORTED);
    CHECK(strstr(err.message, "qwen2") != NULL);
    CHECK(tok == NULL);
    s.pre = NULL;
    s.model = "t5";
    CHECK_EQ_INT(md_tokenizer_new(&s, &tok, &err), MD_ERR_UNSUPPORTED);
    s.model = "gpt2";
    const char *dup[] = {"a", "b", "a"};
    s.tokens = dup;
    s.n_tokens = 3;
    CHECK_EQ_INT(md_tokenizer_new(&s, &tok, &err), MD_ERR_PARSE);
    CHECK(strstr(err.message, "duplicate") != NULL);
}

/* ------------------------------------------------------------ SentencePiece ---- */

#define SPM_N_TOKENS (3 + 256 + 8)

typedef struct spm_vocab {
    char bytes[256][8];
    const char *tokens[SPM_N_TOKENS];
    float scores[SPM_N_TOKENS];
    int32_t types[SPM_N_TOKENS];
} spm_vocab;

static md_status make_spm(spm_vocab *v, int add_space_prefix, md_tokenizer **tok) {
    static const char *const normal[] = {"\xe2\x96\x81",
                                         "a",
                                         "b",
                                         "\xe2\x96\x81"
                                         "a",
                                         "ab",
                                         "\xe2\x96\x81"
                                         "ab",
                                         "\xe2\x96\x81"
                                         "b",
                                         "c"};
    static const float normal_scores[] = {-1.0f, -2.0f, -3.0f, -1.5f, -0.5f, -0.2f, -2.5f, -4.0f};
    v->tokens[0] = "<unk>";
    v->tokens[1] = "<s>";
    v->tokens[2] = "</s>";
    v->types[0] = 2;
    v->types[1] = v->types[2] = 3;
    for (int b = 0; b < 256; b++) {
        snprintf(v->bytes[b], sizeof(v->bytes[b]), "<0x%02X>", b);
        v->tokens[3 + b] = v->bytes[b];
        v->types[3 + b] = 6;
        v->scores[3 + b] = 0.0f;
    }
    for (int i = 0; i < 8; i++) {
        v->tokens[259 + i] = normal[i];
        v->scores[259 + i] = normal_scores[i];
        v->types[259 + i] = 1;
    }
    md_tokenizer_spec s = md_tokenizer_default_spec();
    s.model = "llama";
    s.n_tokens = SPM_N_TOKENS;
    s.tokens = v->tokens;
    s.scores = v->scores;
    s.token_types = v->types;
    s.add_space_prefix = add_space_prefix;
    return md_tokenizer_new(&s, tok, NULL);
}

static void test_spm(void) {
    spm_vocab v;
    md_tokenizer *tok = NULL;
    CHECK_EQ_INT(make_spm(&v, -1, &tok), MD_OK);
    if (!tok) return;
    md_tokenizer_specials sp = md_tokenizer_get_specials(tok);
    CHECK_EQ_INT(sp.bos, 1);
    CHECK_EQ_INT(sp.eos, 2);
    CHECK_EQ_INT(sp.unk, 0);
    CHECK(tok_eq(tok, "ab", false, false, IDS(264))); /* ab first (-0.5), then ▁ab */
    CHECK(tok_eq(tok, "ab b", false, false, IDS(264, 265)));
    CHECK(tok_eq(tok, "ba", false, false, IDS(265, 260)));                      /* ▁b, a */
    CHECK(tok_eq(tok, "\xc3\xa9", false, false, IDS(259, 3 + 0xC3, 3 + 0xA9))); /* byte fallback */
    CHECK(tok_eq(tok, "ab", true, false, IDS(1, 264)));
    CHECK(tok_eq(tok, "", true, false, IDS(1)));
    CHECK(tok_eq(tok, "", false, false, NO_IDS));
    CHECK(tok_eq(tok, "ab</s>ab", false, true, IDS(264, 2, 264))); /* space prefix after a special */
    CHECK(tok_eq(tok, "ab <unk>", false, true, IDS(264, 259, 0)));
    int32_t plain[16];
    size_t n_plain = 0;
    CHECK_EQ_INT(md_tokenize(tok, "ab</s>", 6, false, false, plain, 16, &n_plain), MD_OK);
    CHECK(n_plain > 2 && plain[0] == 264 && plain[1] != 2); /* "</s>" stays text */
    CHECK(piece_eq(tok, 264, false, " ab"));
    CHECK(piece_eq(tok, 3 + 'A', false, "A"));
    CHECK(piece_eq(tok, 1, false, ""));
    CHECK(piece_eq(tok, 1, true, "<s>"));
    md_tokenizer_free(tok);

    CHECK_EQ_INT(make_spm(&v, 0, &tok), MD_OK);
    if (!tok) return;
    CHECK(tok_eq(tok, "ab", false, false, IDS(263)));
    md_tokenizer_free(tok);
}

/* ------------------------------------------------------------- WordPiece ---- */

static md_tokenizer *make_wpm(void) {
    static const char *const tokens[] = {
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "\xe2\x96\x81hello",
        "\xe2\x96\x81world",
        "\xe2\x96\x81un",
        "aff",
        "able",
        "\xe2\x96\x81,",
        "\xe2\x96\x81!",
        "\xe2\x96\x81"
        "cafe",
        "\xe2\x96\x81\xe4\xb8\xad",
        "\xe2\x96\x81"
        "a",
        "a",
        "\xe2\x96\x81"
        "co",
        "\xe2\x96\x81"
        "de",
        "me",
    };
    static const int32_t types[] = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    md_tokenizer_spec s = md_tokenizer_default_spec();
    s.model = "bert";
    s.n_tokens = MD_ARRAY_LEN(tokens);
    s.tokens = tokens;
    s.token_types = types;
    s.ids.unk = 1;
    s.ids.cls = 2;
    s.ids.sep = 3;
    s.ids.pad = 0;
    md_tokenizer *tok = NULL;
    md_error err;
    md_status st = md_tokenizer_new(&s, &tok, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    return tok;
}

static void test_wpm(void) {
    md_tokenizer *tok = make_wpm();
    if (!tok) return;
    CHECK(tok_eq(tok, "Hello, WORLD!", false, false, IDS(4, 9, 5, 10)));
    CHECK(tok_eq(tok, "unaffable", false, false, IDS(6, 7, 8)));
    CHECK(tok_eq(tok, "unaffablex", false, false, IDS(1))); /* a dead end makes the whole word [UNK] */
    CHECK(tok_eq(tok, "xyz hello", false, false, IDS(1, 4)));
    CHECK(tok_eq(tok, "Caf\xc3\xa9", false, false, IDS(11))); /* é → e */
    CHECK(tok_eq(tok, "Cafe\xcc\x81", false, false, IDS(1))); /* a combining mark stays */
    CHECK(tok_eq(tok,
                 "\xe4\xb8\xad"
                 "a",
                 false, false, IDS(12, 13))); /* CJK splits */
    CHECK(tok_eq(tok,
                 "\xc5\x92"
                 "deme",
                 false, false, IDS(1)));                               /* Œ is not decomposed */
    CHECK(tok_eq(tok, "de\xe2\x80\x8bme", false, false, IDS(16, 17))); /* U+200B is dropped */
    CHECK(tok_eq(tok, "  \t\n ", false, false, NO_IDS));
    CHECK(tok_eq(tok, "hello", true, false, IDS(2, 4, 3)));
    CHECK(tok_eq(tok, "", true, false, IDS(2, 3)));
    CHECK(tok_eq(tok, "[CLS] hello", false, true, IDS(2, 4)));
    CHECK(tok_eq(tok, "[CLS] hello", false, false, IDS(1, 1, 1, 4)));
    CHECK(piece_eq(tok, 4, false, " hello"));
    CHECK(piece_eq(tok, 7, false, "aff"));
    CHECK(piece_eq(tok, 2, false, ""));
    CHECK(md_tokenizer_add_bos(tok));
    md_tokenizer_free(tok);
}

/* ---------------------------------------------------------- chat templates ---- */

static const char k_llama3_template[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

static const char k_chatml_template[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/* Mistral-7B-Instruct v0.1/v0.2 and BioMistral ship this one. */
static const char k_mistral_instruct_template[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}"
    "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

static int render_eq(md_chat_template t, const md_chat_message *m, size_t n, bool add_assistant, const char *expect) {
    md_buf b;
    md_buf_init(&b);
    md_status st = md_chat_template_render(t, m, n, add_assistant, &b, NULL);
    int ok = st == MD_OK && b.data && strcmp(b.data, expect) == 0;
    if (!ok) fprintf(stderr, "  render %s: got \"%s\"\n", md_chat_template_name(t), b.data ? b.data : "(null)");
    md_buf_free(&b);
    return ok;
}

static void test_chat_templates(void) {
    CHECK_EQ_INT(md_chat_template_detect(k_llama3_template, strlen(k_llama3_template)), MD_CHAT_TEMPLATE_LLAMA3);
    CHECK_EQ_INT(md_chat_template_detect(k_chatml_template, strlen(k_chatml_template)), MD_CHAT_TEMPLATE_CHATML);
    CHECK_EQ_INT(md_chat_template_detect(k_mistral_instruct_template, strlen(k_mistral_instruct_template)),
                 MD_CHAT_TEMPLATE_LLAMA2);
    const char *v7 = "{%- if message['role'] == 'system' %}{{- '[SYSTEM_PROMPT]' + message['content'] + "
                     "'[/SYSTEM_PROMPT]' }}{%- elif message['role'] == 'user' %}{{- '[INST]' + message['content'] }}";
    CHECK_EQ_INT(md_chat_template_detect(v7, strlen(v7)), MD_CHAT_TEMPLATE_MISTRAL_V7);
    const char *sys = "{% if message['role'] == 'system' %}{{ '<<SYS>>\\n' + content }}{% endif %}[INST]";
    CHECK_EQ_INT(md_chat_template_detect(sys, strlen(sys)), MD_CHAT_TEMPLATE_LLAMA2_SYS);
    CHECK_EQ_INT(md_chat_template_detect("chatml", 6), MD_CHAT_TEMPLATE_CHATML);
    CHECK_EQ_INT(md_chat_template_detect("mistral-v3-tekken", 17), MD_CHAT_TEMPLATE_MISTRAL_V3_TEKKEN);
    CHECK_EQ_INT(md_chat_template_detect("{{ messages }}", 14), MD_CHAT_TEMPLATE_UNKNOWN);
    const char *phi4 = "<|im_start|>x<|im_sep|>";
    CHECK_EQ_INT(md_chat_template_detect(phi4, strlen(phi4)), MD_CHAT_TEMPLATE_UNKNOWN);
    CHECK_EQ_STR(md_chat_template_name(MD_CHAT_TEMPLATE_LLAMA3), "llama3");
    CHECK_EQ_STR(md_chat_template_name(MD_CHAT_TEMPLATE_UNKNOWN), "unknown");

    const md_chat_message m[] = {
        {"system", " Answer briefly. "},
        {"user", "Chest pain on exertion?"},
        {"assistant", "Seek care."},
        {"user", "Now?"},
    };
    CHECK(render_eq(MD_CHAT_TEMPLATE_LLAMA3, m, 2, true,
                    "<|start_header_id|>system<|end_header_id|>\n\nAnswer briefly.<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nChest pain on exertion?<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_CHATML, m, 2, true,
                    "<|im_start|>system\n Answer briefly. <|im_end|>\n<|im_start|>user\nChest pain on exertion?"
                    "<|im_end|>\n<|im_start|>assistant\n"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_LLAMA2, m + 1, 3, true,
                    "[INST] Chest pain on exertion? [/INST]Seek care.</s>[INST] Now? [/INST]"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_LLAMA2, m, 2, false, "[INST]  Answer briefly. \nChest pain on exertion? [/INST]"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_LLAMA2_SYS, m, 2, false,
                    "[INST] <<SYS>>\n Answer briefly. \n<</SYS>>\n\nChest pain on exertion? [/INST]"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_LLAMA2_SYS_BOS, m + 1, 3, false,
                    "[INST] Chest pain on exertion? [/INST]Seek care.</s><s>[INST] Now? [/INST]"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_MISTRAL_V7, m, 3, false,
                    "[SYSTEM_PROMPT]  Answer briefly. [/SYSTEM_PROMPT][INST] Chest pain on exertion?[/INST] Seek "
                    "care.</s>"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_MISTRAL_V1, m + 1, 3, false,
                    " [INST] Chest pain on exertion? [/INST] Seek care.</s> [INST] Now? [/INST]"));
    CHECK(render_eq(MD_CHAT_TEMPLATE_MISTRAL_V3_TEKKEN, m + 1, 2, false,
                    "[INST]Chest pain on exertion?[/INST]Seek care.</s>"));
    md_buf b;
    md_buf_init(&b);
    CHECK_EQ_INT(md_chat_template_render(MD_CHAT_TEMPLATE_UNKNOWN, m, 1, true, &b, NULL), MD_ERR_INVALID_ARG);
    const md_chat_message bad[] = {{"user", NULL}};
    CHECK_EQ_INT(md_chat_template_render(MD_CHAT_TEMPLATE_LLAMA3, bad, 1, true, &b, NULL), MD_ERR_INVALID_ARG);
    md_buf_free(&b);
}

/* ----------------------------------------------------------------- OOM ---- */

/* For N = 1, 2, ...: the Nth allocation and all later ones fail while a tokenizer is
 * built and used; each step must fail cleanly (ASan checks for leaks) until N is
 * large enough, and then produce the right answer. */
static void test_oom(void) {
    spm_vocab v;
    int clean = 1, done = 0;
    for (uint64_t n = 1; n < 20000 && !done; n++) {
        md_tokenizer *tok = NULL;
        md_alloc_fail_after(n, true);
        md_status st = make_spm(&v, -1, &tok);
        int32_t ids[8];
        size_t n_ids = 0;
        md_status st2 = st == MD_OK ? md_tokenize(tok, "ab b \xc3\xa9", 7, true, true, ids, 8, &n_ids) : st;
        bool failed = md_alloc_failed();
        md_alloc_fail_after(0, false);
        if (st == MD_OK && st2 == MD_OK && !failed) {
            done = 1;
            clean &= n_ids == 6 && ids[0] == 1 && ids[1] == 264 && ids[2] == 265;
        } else {
            clean &= (st == MD_OK || st == MD_ERR_NOMEM) && (st2 == MD_OK || st2 == MD_ERR_NOMEM) && failed;
        }
        md_tokenizer_free(tok);
    }
    CHECK(done);
    CHECK(clean);
}

/* ------------------------------------------------------ GGUF metadata ---- */

typedef enum gguf_variant {
    GGUF_GOOD,
    GGUF_PRE_UNKNOWN,
    GGUF_NO_MODEL,
    GGUF_TOKENS_F32,
    GGUF_SHORT_TYPES,
    GGUF_NO_MERGES,
    GGUF_BAD_BOS,
} gguf_variant;

/* Writes a BPE vocabulary GGUF (the hand-made one) with one defect, loads it. */
static md_status load_variant(const char *dir, gguf_variant v, md_tokenizer **tok, md_error *err) {
    md_gguf_writer *w = md_gguf_writer_new();
    if (!w) return MD_ERR_NOMEM;
    size_t n = MD_ARRAY_LEN(k_bpe_tokens);
    if (v != GGUF_NO_MODEL) (void)md_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    (void)md_gguf_writer_set_str(w, "tokenizer.ggml.pre", v == GGUF_PRE_UNKNOWN ? "qwen2" : "llama-bpe");
    if (v == GGUF_TOKENS_F32) {
        float f[MD_ARRAY_LEN(k_bpe_tokens)] = {0};
        (void)md_gguf_writer_set_arr_f32(w, "tokenizer.ggml.tokens", f, n);
    } else {
        (void)md_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", k_bpe_tokens, n);
    }
    (void)md_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", k_bpe_types, v == GGUF_SHORT_TYPES ? n - 1 : n);
    if (v != GGUF_NO_MERGES) {
        (void)md_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", k_bpe_merges, MD_ARRAY_LEN(k_bpe_merges));
    }
    (void)md_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", v == GGUF_BAD_BOS ? 9999 : 12);
    (void)md_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 13);
    (void)md_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    (void)md_gguf_writer_set_str(w, "tokenizer.chat_template", k_llama3_template);
    char path[512];
    snprintf(path, sizeof(path), "%s/v%d.gguf", dir, (int)v);
    md_status st = md_gguf_writer_save(w, path, err);
    md_gguf_writer_free(w);
    if (st != MD_OK) return st;
    md_gguf *g = NULL;
    st = md_gguf_open(path, &g, err);
    if (st == MD_OK) {
        st = md_tokenizer_load(g, tok, err);
        md_gguf_close(g);
    }
    unlink(path);
    return st;
}

static void test_gguf_load(void) {
    char dir[] = "/tmp/medify-tok-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    md_tokenizer *tok = NULL;
    md_error err;
    md_status st = load_variant(dir, GGUF_GOOD, &tok, &err);
    CHECK_MSG(st == MD_OK, "%s", err.message);
    if (tok) {
        CHECK(!md_tokenizer_add_bos(tok)); /* the key overrides the llama3 default */
        CHECK(tok_eq(tok, "abc abc", true, false, IDS(5, 8)));
        CHECK(tok_eq(tok, "abc<|eot_id|>", true, true, IDS(5, 13)));
        md_chat_template kind;
        CHECK(md_tokenizer_chat_template(tok, &kind) != NULL);
        CHECK_EQ_INT(kind, MD_CHAT_TEMPLATE_LLAMA3);
        md_tokenizer_free(tok);
        tok = NULL;
    }
    CHECK_EQ_INT(load_variant(dir, GGUF_PRE_UNKNOWN, &tok, &err), MD_ERR_UNSUPPORTED);
    CHECK(strstr(err.message, "qwen2") != NULL);
    CHECK_EQ_INT(load_variant(dir, GGUF_NO_MODEL, &tok, &err), MD_ERR_PARSE);
    CHECK(strstr(err.message, "tokenizer.ggml.model") != NULL);
    CHECK_EQ_INT(load_variant(dir, GGUF_TOKENS_F32, &tok, &err), MD_ERR_PARSE);
    CHECK_EQ_INT(load_variant(dir, GGUF_SHORT_TYPES, &tok, &err), MD_ERR_PARSE);
    CHECK(strstr(err.message, "token_type") != NULL);
    CHECK_EQ_INT(load_variant(dir, GGUF_NO_MERGES, &tok, &err), MD_ERR_PARSE);
    CHECK(strstr(err.message, "merges") != NULL);
    CHECK(tok == NULL);
    st = load_variant(dir, GGUF_BAD_BOS, &tok, &err);
    CHECK_EQ_INT(st, MD_OK);
    if (tok) {
        CHECK_EQ_INT(md_tokenizer_get_specials(tok).bos, 11); /* out of range: the type's default stays */
        md_tokenizer_free(tok);
    }
    rmdir(dir);
}

/* Random byte strings (invalid UTF-8, stray specials, odd whitespace) through every
 * hand-made tokenizer: always MD_OK, every id in range. */
static void test_random_bytes(void) {
    static const char alphabet[] = " \n\t\r'a1b<|>sA\xc3\xa9\xe2\x96\x81\xf0\x9f\x98\xa3\x80\xff\xcc\x81\xe4\xb8\xad!";
    spm_vocab v;
    md_tokenizer *toks[4] = {make_bpe("llama-bpe"), make_bpe("default"), NULL, make_wpm()};
    CHECK_EQ_INT(make_spm(&v, -1, &toks[2]), MD_OK);
    uint64_t state = 0x9E3779B97F4A7C15u;
    int ok = 1;
    for (int iter = 0; iter < 400; iter++) {
        char text[48];
        state = state * 6364136223846793005u + 1442695040888963407u;
        size_t len = (size_t)(state >> 33) % sizeof(text);
        for (size_t i = 0; i < len; i++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            text[i] = alphabet[(state >> 33) % (sizeof(alphabet) - 1)];
        }
        for (int t = 0; t < 4; t++) {
            if (!toks[t]) continue;
            int32_t ids[256];
            size_t n = 0;
            md_status st = md_tokenize(toks[t], text, len, iter & 1, iter & 2, ids, 256, &n);
            ok &= st == MD_OK;
            for (size_t i = 0; i < n && st == MD_OK; i++) {
                ok &= ids[i] >= 0 && (size_t)ids[i] < md_tokenizer_n_tokens(toks[t]);
            }
        }
    }
    CHECK(ok);
    for (int t = 0; t < 4; t++)
        md_tokenizer_free(toks[t]);
}

/* ------------------------------------------------------------ fixtures ---- */

#define FIXTURE_SEP "\n__ggml_vocab_test__\n"

static char *read_all(const char *path, size_t *n) {
    char *data = NULL;
    if (md_read_file(path, (size_t)64 << 20, &data, n, NULL) != MD_OK) {
        return NULL;
    }
    return data;
}

/* Splits an .inp file into inputs (pointers into data, which is modified). */
static size_t split_inputs(char *data, size_t n, char **inp, size_t *inp_len, size_t max) {
    size_t count = 0, sep = strlen(FIXTURE_SEP);
    char *p = data, *end = data + n;
    while (p < end && count < max) {
        char *q = NULL;
        for (char *s = p; s + sep <= end; s++) {
            if (memcmp(s, FIXTURE_SEP, sep) == 0) {
                q = s;
                break;
            }
        }
        if (!q) break;
        inp[count] = p;
        inp_len[count] = (size_t)(q - p);
        count++;
        p = q + sep;
    }
    return count;
}

/* Parses one .out line of ids into ids[]; returns the count. */
static size_t parse_ids(const char *line, size_t len, int32_t *ids, size_t max) {
    size_t n = 0;
    const char *p = line, *end = line + len;
    while (p < end && n < max) {
        while (p < end && (*p == ' ' || *p == '\r'))
            p++;
        if (p >= end) break;
        ids[n++] = (int32_t)strtol(p, NULL, 10);
        while (p < end && *p != ' ')
            p++;
    }
    return n;
}

static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n && i < 120; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\t')
            fputs("\\t", stderr);
        else if (c < 0x20)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    if (n > 120) fputs("...", stderr);
}

typedef struct fixture_total {
    size_t n_files, n_cases, n_pass;
} fixture_total;

/* Checks every input of inp against one .out file made with the given flags. */
static void check_out_file(const md_tokenizer *tok, const char *out_path, char **inp, size_t *inp_len, size_t n_inp,
                           bool add_special, bool parse_special, fixture_total *total) {
    size_t n_out_bytes;
    char *out = read_all(out_path, &n_out_bytes);
    if (!out) {
        fprintf(stderr, "fixtures: %s: cannot read, skipped\n", out_path);
        return;
    }
    int32_t *want = malloc(MAX_IDS * sizeof(int32_t)), *got = malloc(MAX_IDS * sizeof(int32_t));
    size_t pass = 0, shown = 0, line_start = 0, i_line = 0;
    for (size_t i = 0; i <= n_out_bytes && i_line < n_inp; i++) {
        if (i < n_out_bytes && out[i] != '\n') continue;
        size_t n_want = parse_ids(out + line_start, i - line_start, want, MAX_IDS), n_got = 0;
        md_status st = md_tokenize(tok, inp[i_line], inp_len[i_line], add_special, parse_special, got, MAX_IDS, &n_got);
        if (st == MD_OK && n_got == n_want && memcmp(got, want, n_got * sizeof(int32_t)) == 0) {
            pass++;
        } else if (shown++ < 3) {
            fprintf(stderr, "  MISMATCH %s input %zu \"", out_path, i_line);
            print_escaped(inp[i_line], inp_len[i_line]);
            fprintf(stderr, "\"\n    want:");
            for (size_t k = 0; k < n_want && k < 40; k++)
                fprintf(stderr, " %d", want[k]);
            fprintf(stderr, "\n    got: ");
            for (size_t k = 0; k < n_got && k < 40 && st == MD_OK; k++)
                fprintf(stderr, " %d", got[k]);
            fputc('\n', stderr);
        }
        line_start = i + 1;
        i_line++;
    }
    const char *base = strrchr(out_path, '/');
    printf("fixtures: %-60s %3zu/%zu pass (add_special=%d parse_special=%d)\n", base ? base + 1 : out_path, pass, n_inp,
           add_special, parse_special);
    CHECK_MSG(pass == n_inp && i_line == n_inp, "%s: %zu of %zu inputs match llama.cpp", out_path, pass, n_inp);
    total->n_files++;
    total->n_cases += n_inp;
    total->n_pass += pass;
    free(want);
    free(got);
    md_free(out);
}

/* A BPE tokenizer must give back the bytes it was given. */
static void check_roundtrip(const md_tokenizer *tok, const char *name, char **inp, size_t *inp_len, size_t n_inp) {
    int32_t *ids = malloc(MAX_IDS * sizeof(int32_t));
    size_t ok = 0;
    for (size_t i = 0; i < n_inp; i++) {
        size_t n = 0;
        md_buf b;
        md_buf_init(&b);
        if (md_tokenize(tok, inp[i], inp_len[i], false, false, ids, MAX_IDS, &n) == MD_OK &&
            md_detokenize(tok, ids, n, true, &b) == MD_OK && b.len == inp_len[i] &&
            (b.len == 0 || memcmp(b.data, inp[i], b.len) == 0)) {
            ok++;
        }
        md_buf_free(&b);
    }
    CHECK_MSG(ok == n_inp, "%s: %zu of %zu inputs survive tokenize + detokenize", name, ok, n_inp);
    free(ids);
}

static void check_vocab(const char *dir, const char *vocab, fixture_total *total) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/vocab/%s", dir, vocab);
    if (access(path, R_OK) != 0) {
        printf("fixtures: %s absent, skipped\n", path);
        return;
    }
    md_gguf *g = NULL;
    md_error err;
    md_status st = md_gguf_open(path, &g, &err);
    CHECK_MSG(st == MD_OK, "%s: %s", path, err.message);
    if (st != MD_OK) return;
    md_tokenizer *tok = NULL;
    uint64_t t0 = md_clock_monotonic_ns();
    st = md_tokenizer_load(g, &tok, &err);
    uint64_t t1 = md_clock_monotonic_ns();
    md_gguf_close(g); /* the tokenizer keeps its own copies */
    CHECK_MSG(st == MD_OK, "%s: %s", path, err.message);
    if (st != MD_OK) return;
    printf("fixtures: %s: %zu tokens, loaded in %.0f ms\n", vocab, md_tokenizer_n_tokens(tok), (double)(t1 - t0) / 1e6);

    static const struct {
        const char *inp, *out;
        bool add_special, parse_special;
    } k_files[] = {
        {"", ".out", false, false},
        {".medical", ".medical.out", false, false},
        {".medical", ".medical.add_special.out", true, false},
        {".medical", ".medical.add_special.parse_special.out", true, true},
    };
    enum { MAX_INPUTS = 256 };
    for (size_t f = 0; f < MD_ARRAY_LEN(k_files); f++) {
        char inp_path[1100], out_path[1100];
        snprintf(inp_path, sizeof(inp_path), "%s%s.inp", path, k_files[f].inp);
        snprintf(out_path, sizeof(out_path), "%s%s", path, k_files[f].out);
        if (access(inp_path, R_OK) != 0 || access(out_path, R_OK) != 0) {
            printf("fixtures: %s or its .out absent, skipped\n", inp_path);
            continue;
        }
        size_t n_data;
        char *data = read_all(inp_path, &n_data);
        if (!data) continue;
        char *inp[MAX_INPUTS];
        size_t inp_len[MAX_INPUTS];
        size_t n_inp = split_inputs(data, n_data, inp, inp_len, MAX_INPUTS);
        check_out_file(tok, out_path, inp, inp_len, n_inp, k_files[f].add_special, k_files[f].parse_special, total);
        if (md_tokenizer_get_type(tok) == MD_TOKENIZER_TYPE_BPE && f < 2) {
            check_roundtrip(tok, inp_path, inp, inp_len, n_inp);
        }
        md_free(data);
    }

    /* a chat prompt in the model's own format tokenizes into its control tokens */
    md_chat_template kind;
    const char *tmpl = md_tokenizer_chat_template(tok, &kind);
    if (tmpl && kind == MD_CHAT_TEMPLATE_LLAMA3) {
        const md_chat_message m[] = {{"user", "Fever 39 \xc2\xb0"
                                              "C since yesterday."}};
        md_buf b;
        md_buf_init(&b);
        CHECK_EQ_INT(md_chat_template_render(kind, m, 1, true, &b, NULL), MD_OK);
        int32_t ids[64];
        size_t n = 0;
        CHECK_EQ_INT(md_tokenize(tok, b.data, b.len, true, true, ids, 64, &n), MD_OK);
        md_tokenizer_specials sp = md_tokenizer_get_specials(tok);
        int32_t header = md_tokenizer_find(tok, "<|start_header_id|>", 19);
        int32_t eot = md_tokenizer_find(tok, "<|eot_id|>", 10);
        CHECK(n > 4 && ids[0] == sp.bos && ids[1] == header);
        int n_eot = 0;
        for (size_t i = 0; i < n; i++)
            n_eot += ids[i] == eot;
        CHECK_EQ_INT(n_eot, 1);
        CHECK(md_tokenizer_is_eog(tok, eot));
        md_buf_free(&b);
    }
    md_tokenizer_free(tok);
}

static void test_fixtures(void) {
    const char *dir = getenv("MEDIFY_FIXTURES");
    if (!dir || !*dir) {
        printf("fixtures: MEDIFY_FIXTURES is not set, llama.cpp comparison skipped\n");
        return;
    }
    char probe[1024];
    snprintf(probe, sizeof(probe), "%s/vocab", dir);
    if (access(probe, R_OK) != 0) {
        printf("fixtures: %s absent, llama.cpp comparison skipped\n", probe);
        return;
    }
    fixture_total total = {0};
    check_vocab(dir, "ggml-vocab-bert-bge.gguf", &total);
    check_vocab(dir, "ggml-vocab-llama-spm.gguf", &total);
    check_vocab(dir, "ggml-vocab-llama3-bpe.gguf", &total);
    check_vocab(dir, "ggml-vocab-tiny-bpe512.gguf", &total);
    printf("fixtures: %zu/%zu inputs match llama.cpp over %zu .out files\n", total.n_pass, total.n_cases,
           total.n_files);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the fixture report in order with stderr */
    test_unicode_tables();
    test_utf8_codec();
    test_gpt2_alphabet();
    test_llama3_split();
    test_default_split();
    test_bpe();
    test_bpe_rejects();
    test_spm();
    test_wpm();
    test_chat_templates();
    test_oom();
    test_gguf_load();
    test_random_bytes();
    test_fixtures();
    return check_report("test_engine_tokenizer");
}
