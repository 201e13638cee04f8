/* medify tokenizer: text <-> token ids for GGUF models, matching llama.cpp exactly
 * (engine module).
 *
 * A tokenizer is read from a GGUF file's `tokenizer.*` metadata:
 *
 *   tokenizer.ggml.model    "gpt2"  byte-level BPE (Llama 3, OpenBioLLM-Llama3)
 *                           "llama" SentencePiece BPE with byte fallback (Llama 2, Mistral,
 *                                   BioMistral)
 *                           "bert"  WordPiece (BERT, bge, all-MiniLM)
 *   tokenizer.ggml.pre      BPE pre-tokenizer: "llama-bpe" / "llama3" / "llama-v3" (the
 *                           Llama 3 split) or "default" (also used when the key is absent);
 *                           any other value is refused with MD_ERR_UNSUPPORTED, because
 *                           tokenizing with the wrong split silently degrades a model.
 *   tokenizer.ggml.tokens, .scores, .token_type, .merges
 *   tokenizer.ggml.{bos,eos,eot,eom,unknown,seperator,padding,cls,mask}_token_id
 *   tokenizer.ggml.add_bos_token, .add_eos_token, .add_space_prefix
 *   tokenizer.chat_template (recognised, not interpreted: see md_chat_template_*)
 *
 * The algorithms, their sources and every llama.cpp quirk reproduced on purpose are in
 * docs/tokenizers.md. Tokenization of any byte string never fails for content reasons:
 * invalid UTF-8 is handled the way llama.cpp handles it (each bad byte stands for
 * U+FFFD), so the only errors are allocation failure and a too-small output array.
 *
 * Thread safety: a loaded tokenizer is immutable; md_tokenize and the other read
 * functions may run concurrently on one tokenizer.
 */
#ifndef MEDIFY_TOKENIZER_H
#define MEDIFY_TOKENIZER_H

#include "medify/base.h"
#include "medify/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MD_TOKEN_NULL (-1) /* "no such token" in every id slot */

typedef enum md_tokenizer_type {
    MD_TOKENIZER_TYPE_BPE = 0, /* "gpt2": byte-level BPE */
    MD_TOKENIZER_TYPE_SPM = 1, /* "llama": SentencePiece BPE */
    MD_TOKENIZER_TYPE_WPM = 2, /* "bert": WordPiece */
    MD_TOKENIZER_TYPE_COUNT = 3,
} md_tokenizer_type;

typedef enum md_tokenizer_pre {
    MD_TOKENIZER_PRE_NONE = 0,    /* SPM and WPM have no regex pre-tokenizer */
    MD_TOKENIZER_PRE_DEFAULT = 1, /* llama.cpp's "default" BPE split */
    MD_TOKENIZER_PRE_LLAMA3 = 2,  /* the Llama 3 regex, implemented by hand */
    MD_TOKENIZER_PRE_COUNT = 3,
} md_tokenizer_pre;

/* Token attributes (bit set), as llama.cpp derives them from tokenizer.ggml.token_type
 * (GGUF values 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
enum {
    MD_TOKEN_ATTR_UNKNOWN = 1 << 0,
    MD_TOKEN_ATTR_UNUSED = 1 << 1,
    MD_TOKEN_ATTR_NORMAL = 1 << 2,
    MD_TOKEN_ATTR_CONTROL = 1 << 3,
    MD_TOKEN_ATTR_USER_DEFINED = 1 << 4,
    MD_TOKEN_ATTR_BYTE = 1 << 5,
};

/* Special token ids; MD_TOKEN_NULL when the vocabulary has none. */
typedef struct md_tokenizer_specials {
    int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask;
} md_tokenizer_specials;

typedef struct md_tokenizer md_tokenizer;

/* Reads the tokenizer from g's metadata. The tokenizer copies what it needs: g may be
 * closed afterwards. Errors: MD_ERR_PARSE (missing or mistyped key, bad array length,
 * duplicate token), MD_ERR_UNSUPPORTED (unknown model or pre-tokenizer), MD_ERR_NOMEM.
 * Free with md_tokenizer_free. */
md_status md_tokenizer_load(const md_gguf *g, md_tokenizer **out, md_error *err);

/* Building a tokenizer from arrays, for tests and tools (md_tokenizer_load uses the
 * same path). Start from md_tokenizer_default_spec(), which leaves every id and flag
 * at "use the model type's default", as a GGUF file without the key would. */
typedef struct md_tokenizer_spec {
    const char *model; /* "gpt2", "llama" or "bert" */
    const char *pre;   /* NULL: no tokenizer.ggml.pre key */
    size_t n_tokens;
    const char *const *tokens;  /* n_tokens strings */
    const size_t *token_bytes;  /* lengths, or NULL for NUL-terminated tokens */
    const float *scores;        /* NULL: all 0 */
    const int32_t *token_types; /* GGUF token types, NULL: all normal */
    size_t n_merges;
    const char *const *merges;              /* "left right", rank order (BPE only) */
    md_tokenizer_specials ids;              /* MD_TOKEN_NULL: the model type's default */
    int add_bos, add_eos, add_space_prefix; /* -1: default, 0 or 1: as given */
    const char *chat_template;              /* NULL: none */
} md_tokenizer_spec;

md_tokenizer_spec md_tokenizer_default_spec(void);
md_status md_tokenizer_new(const md_tokenizer_spec *spec, md_tokenizer **out, md_error *err);
void md_tokenizer_free(md_tokenizer *tok);

md_tokenizer_type md_tokenizer_get_type(const md_tokenizer *tok);
md_tokenizer_pre md_tokenizer_get_pre(const md_tokenizer *tok);
size_t md_tokenizer_n_tokens(const md_tokenizer *tok);
md_tokenizer_specials md_tokenizer_get_specials(const md_tokenizer *tok);
bool md_tokenizer_add_bos(const md_tokenizer *tok); /* what add_special prepends/appends */
bool md_tokenizer_add_eos(const md_tokenizer *tok);
/* True for end-of-generation tokens (eos, eot, eom and the texts llama.cpp treats so:
 * <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <|eom_id|>, <EOT>). */
bool md_tokenizer_is_eog(const md_tokenizer *tok, int32_t id);
/* The stored text of a token (GGUF spelling, e.g. "Ġthe", "▁the", "<0x0A>"), NUL-
 * terminated and valid while tok lives; NULL for an out-of-range id. */
const char *md_tokenizer_token_text(const md_tokenizer *tok, int32_t id, size_t *n_bytes);
uint32_t md_tokenizer_token_attr(const md_tokenizer *tok, int32_t id); /* 0 if out of range */
float md_tokenizer_token_score(const md_tokenizer *tok, int32_t id);
int32_t md_tokenizer_find(const md_tokenizer *tok, const char *text, size_t n_bytes); /* exact text → id */

/* Tokenizes text[0..n_bytes) into out[0..cap). add_special adds what the model adds
 * around a prompt (BOS for Llama 2/3; [CLS] ... [SEP] for BERT). parse_special makes
 * the text of control tokens ("<|eot_id|>", "[CLS]", "<s>") map to those tokens;
 * without it such text is ordinary text (user-defined tokens are always matched, as in
 * llama.cpp). *n_out receives the number of tokens. When cap is too small (out may be
 * NULL with cap 0 to ask for the size) nothing is written, *n_out is the size needed
 * and the result is MD_ERR_LIMIT. Otherwise MD_OK, or MD_ERR_NOMEM. */
md_status md_tokenize(const md_tokenizer *tok, const char *text, size_t n_bytes, bool add_special, bool parse_special,
                      int32_t *out, size_t cap, size_t *n_out);

/* The bytes token id stands for, as llama.cpp's token_to_piece with lstrip 0: control
 * and unknown tokens give their text only when special is true (else nothing); byte
 * tokens give one byte; BPE pieces are mapped back from the GPT-2 byte alphabet;
 * SentencePiece and WordPiece pieces have '▁' turned into ' '. A piece may be part of
 * a UTF-8 sequence. Writes up to cap bytes (no NUL); *n_out is the piece length. When
 * cap is too small, MD_ERR_LIMIT with *n_out the size needed. MD_ERR_INVALID_ARG for an
 * out-of-range id. */
md_status md_detokenize_piece(const md_tokenizer *tok, int32_t id, bool special, char *buf, size_t cap, size_t *n_out);
/* Appends the pieces of ids[0..n) to out (see md_detokenize_piece). */
md_status md_detokenize(const md_tokenizer *tok, const int32_t *ids, size_t n, bool special, md_buf *out);

/* ---- chat templates ------------------------------------------------------------- */

/* The prompt formats medify renders itself. A GGUF's tokenizer.chat_template (Jinja)
 * is recognised by the marker texts llama.cpp's llm_chat_detect_template looks for;
 * medify does not run Jinja. */
typedef enum md_chat_template {
    MD_CHAT_TEMPLATE_UNKNOWN = 0,
    MD_CHAT_TEMPLATE_LLAMA3,            /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    MD_CHAT_TEMPLATE_CHATML,            /* <|im_start|>role\n...<|im_end|>\n */
    MD_CHAT_TEMPLATE_MISTRAL_V1,        /* " [INST] ... [/INST]" (Mistral 7B v0.1 official) */
    MD_CHAT_TEMPLATE_MISTRAL_V3,        /* "[INST] ...[/INST]" (Mistral v0.3, tools) */
    MD_CHAT_TEMPLATE_MISTRAL_V3_TEKKEN, /* "[INST]...[/INST]" (Mistral Nemo) */
    MD_CHAT_TEMPLATE_MISTRAL_V7,        /* [SYSTEM_PROMPT] ... [INST] ... */
    MD_CHAT_TEMPLATE_LLAMA2,            /* "[INST] ... [/INST]": Mistral-Instruct v0.1/v0.2, BioMistral */
    MD_CHAT_TEMPLATE_LLAMA2_SYS,        /* the same with <<SYS>> system blocks */
    MD_CHAT_TEMPLATE_LLAMA2_SYS_BOS,    /* ... and <s> before each later [INST] */
    MD_CHAT_TEMPLATE_LLAMA2_SYS_STRIP,  /* ... and message text trimmed */
    MD_CHAT_TEMPLATE_COUNT,
} md_chat_template;

typedef struct md_chat_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content; /* NUL-terminated */
} md_chat_message;

/* Recognises a Jinja template (or a template name such as "llama3", "chatml",
 * "mistral-v7"); MD_CHAT_TEMPLATE_UNKNOWN when none matches. */
md_chat_template md_chat_template_detect(const char *tmpl, size_t n_bytes);
const char *md_chat_template_name(md_chat_template t); /* "llama3", ...; "unknown" */
/* The model's tokenizer.chat_template (NUL-terminated, NULL when absent) and its kind. */
const char *md_tokenizer_chat_template(const md_tokenizer *tok, md_chat_template *kind);

/* Appends the prompt for msgs[0..n) to out, as llama.cpp's llama_chat_apply_template
 * renders it for that format. The rendering carries no BOS: tokenize it with
 * add_special = true (the model's BOS is added then) and parse_special = true (so the
 * format's markers become their control tokens). add_assistant appends the header that
 * makes the model answer as the assistant. Contents are inserted verbatim, so text such
 * as "<|eot_id|>" typed by a user becomes a control token under parse_special (as in
 * llama.cpp); docs/tokenizers.md. MD_ERR_INVALID_ARG for UNKNOWN or a NULL
 * role/content, MD_ERR_NOMEM when out failed. */
md_status md_chat_template_render(md_chat_template t, const md_chat_message *msgs, size_t n, bool add_assistant,
                                  md_buf *out, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_TOKENIZER_H */
