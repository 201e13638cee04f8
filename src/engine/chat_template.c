/* chat_template.c: recognising a model's chat format and rendering messages in it.
 *
 * GGUF files carry their chat format as a Jinja template (tokenizer.chat_template).
 * medify does not run Jinja; like llama.cpp's llm_chat_detect_template it recognises
 * the handful of formats medical deployments use by marker texts that appear in every
 * variant of the template, and renders them with fixed code that produces the same
 * text as llama.cpp's llm_chat_apply_template:
 *
 *   Llama 3   <|start_header_id|>{role}<|end_header_id|>\n\n{trimmed content}<|eot_id|>
 *   ChatML    <|im_start|>{role}\n{content}<|im_end|>\n
 *   Mistral   [INST] ... [/INST] in the official v1 / v3 / v3-tekken / v7 spellings, and
 *             the Llama 2 layout that Mistral-Instruct v0.1/v0.2 and BioMistral ship
 *             (system text folded into the first [INST], optionally in <<SYS>>).
 *
 * Detection order matters and follows llama.cpp: ChatML markers first, then the
 * [INST] family (v7 by [SYSTEM_PROMPT]; v1/v3 by their official templates' texts;
 * otherwise the Llama 2 variants), then the Llama 3 headers.
 */
#include "engine/tokenizer_internal.h"

#include <assert.h>
#include <ctype.h>
#include <string.h>

static const struct {
    const char *name;
    md_chat_template t;
} k_names[] = {
    {"llama3", MD_CHAT_TEMPLATE_LLAMA3},
    {"chatml", MD_CHAT_TEMPLATE_CHATML},
    {"mistral-v1", MD_CHAT_TEMPLATE_MISTRAL_V1},
    {"mistral-v3", MD_CHAT_TEMPLATE_MISTRAL_V3},
    {"mistral-v3-tekken", MD_CHAT_TEMPLATE_MISTRAL_V3_TEKKEN},
    {"mistral-v7", MD_CHAT_TEMPLATE_MISTRAL_V7},
    {"llama2", MD_CHAT_TEMPLATE_LLAMA2},
    {"llama2-sys", MD_CHAT_TEMPLATE_LLAMA2_SYS},
    {"llama2-sys-bos", MD_CHAT_TEMPLATE_LLAMA2_SYS_BOS},
    {"llama2-sys-strip", MD_CHAT_TEMPLATE_LLAMA2_SYS_STRIP},
};
static_assert(MD_ARRAY_LEN(k_names) == MD_CHAT_TEMPLATE_COUNT - 1, "one name per known chat template");

const char *md_chat_template_name(md_chat_template t) {
    for (size_t i = 0; i < MD_ARRAY_LEN(k_names); i++) {
        if (k_names[i].t == t) {
            return k_names[i].name;
        }
    }
    return "unknown";
}

static bool contains(const char *s, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m == 0 || m > n) {
        return m == 0;
    }
    for (size_t i = 0; i + m <= n; i++) {
        if (s[i] == needle[0] && memcmp(s + i, needle, m) == 0) {
            return true;
        }
    }
    return false;
}

md_chat_template md_chat_template_detect(const char *tmpl, size_t n) {
    if (!tmpl) {
        return MD_CHAT_TEMPLATE_UNKNOWN;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(k_names); i++) {
        if (strlen(k_names[i].name) == n && memcmp(k_names[i].name, tmpl, n) == 0) {
            return k_names[i].t;
        }
    }
    if (contains(tmpl, n, "<|im_start|>")) {
        /* <|im_sep|> is Phi-4 and <end_of_utterance> SmolVLM: not ChatML */
        if (contains(tmpl, n, "<|im_sep|>") || contains(tmpl, n, "<end_of_utterance>")) {
            return MD_CHAT_TEMPLATE_UNKNOWN;
        }
        return MD_CHAT_TEMPLATE_CHATML;
    }
    if ((n >= 7 && memcmp(tmpl, "mistral", 7) == 0) || contains(tmpl, n, "[INST]")) {
        if (contains(tmpl, n, "[SYSTEM_PROMPT]")) {
            return MD_CHAT_TEMPLATE_MISTRAL_V7;
        }
        if (contains(tmpl, n, "' [INST] ' + system_message") || contains(tmpl, n, "[AVAILABLE_TOOLS]")) {
            if (contains(tmpl, n, " [INST]")) return MD_CHAT_TEMPLATE_MISTRAL_V1;
            if (contains(tmpl, n, "\"[INST]\"")) return MD_CHAT_TEMPLATE_MISTRAL_V3_TEKKEN;
            return MD_CHAT_TEMPLATE_MISTRAL_V3;
        }
        if (contains(tmpl, n, "content.strip()")) return MD_CHAT_TEMPLATE_LLAMA2_SYS_STRIP;
        if (contains(tmpl, n, "bos_token + '[INST]")) return MD_CHAT_TEMPLATE_LLAMA2_SYS_BOS;
        if (contains(tmpl, n, "<<SYS>>")) return MD_CHAT_TEMPLATE_LLAMA2_SYS;
        return MD_CHAT_TEMPLATE_LLAMA2;
    }
    if (contains(tmpl, n, "<|start_header_id|>") && contains(tmpl, n, "<|end_header_id|>")) {
        return MD_CHAT_TEMPLATE_LLAMA3;
    }
    return MD_CHAT_TEMPLATE_UNKNOWN;
}

/* ASCII-whitespace trim, as llama.cpp's trim() (isspace in the C locale). */
static void append_trimmed(md_buf *out, const char *s) {
    size_t a = 0, b = strlen(s);
    while (a < b && isspace((unsigned char)s[a]))
        a++;
    while (b > a && isspace((unsigned char)s[b - 1]))
        b--;
    md_buf_append(out, s + a, b - a);
}

static void render_mistral_v7(const md_chat_message *m, size_t n, md_buf *out) {
    const char *sp = " "; /* v7-tekken would drop it; medify only recognises v7 */
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].role, "system") == 0) {
            md_buf_appendf(out, "[SYSTEM_PROMPT]%s%s[/SYSTEM_PROMPT]", sp, m[i].content);
        } else if (strcmp(m[i].role, "user") == 0) {
            md_buf_appendf(out, "[INST]%s%s[/INST]", sp, m[i].content);
        } else {
            md_buf_appendf(out, "%s%s</s>", sp, m[i].content);
        }
    }
}

static void render_mistral_v1_v3(md_chat_template t, const md_chat_message *m, size_t n, md_buf *out) {
    const char *lead = t == MD_CHAT_TEMPLATE_MISTRAL_V1 ? " " : "";
    const char *trail = t == MD_CHAT_TEMPLATE_MISTRAL_V3_TEKKEN ? "" : " ";
    bool trim_assistant = t == MD_CHAT_TEMPLATE_MISTRAL_V3;
    bool in_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            md_buf_appendf(out, "%s[INST]%s", lead, trail);
            in_turn = true;
        }
        if (strcmp(m[i].role, "system") == 0) {
            md_buf_appendf(out, "%s\n\n", m[i].content);
        } else if (strcmp(m[i].role, "user") == 0) {
            md_buf_appendf(out, "%s%s[/INST]", m[i].content, lead);
        } else {
            md_buf_append_str(out, trail);
            if (trim_assistant) {
                append_trimmed(out, m[i].content);
            } else {
                md_buf_append_str(out, m[i].content);
            }
            md_buf_append_str(out, "</s>");
            in_turn = false;
        }
    }
}

static void render_llama2(md_chat_template t, const md_chat_message *m, size_t n, md_buf *out) {
    bool sys_blocks = t != MD_CHAT_TEMPLATE_LLAMA2;
    bool bos_inside = t == MD_CHAT_TEMPLATE_LLAMA2_SYS_BOS;
    bool strip = t == MD_CHAT_TEMPLATE_LLAMA2_SYS_STRIP;
    bool in_turn = true; /* the first [INST] follows the BOS the tokenizer adds */
    md_buf_append_str(out, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            in_turn = true;
            md_buf_append_str(out, bos_inside ? "<s>[INST] " : "[INST] ");
        }
        md_buf content;
        md_buf_init(&content);
        if (strip) {
            append_trimmed(&content, m[i].content);
        } else {
            md_buf_append_str(&content, m[i].content);
        }
        const char *c = content.data ? content.data : "";
        if (!md_buf_ok(&content)) {
            out->failed = true;
        } else if (strcmp(m[i].role, "system") == 0) {
            if (sys_blocks) {
                md_buf_appendf(out, "<<SYS>>\n%s\n<</SYS>>\n\n", c);
            } else {
                md_buf_appendf(out, "%s\n", c);
            }
        } else if (strcmp(m[i].role, "user") == 0) {
            md_buf_appendf(out, "%s [/INST]", c);
        } else {
            md_buf_appendf(out, "%s</s>", c);
            in_turn = false;
        }
        md_buf_free(&content);
    }
}

md_status md_chat_template_render(md_chat_template t, const md_chat_message *msgs, size_t n, bool add_assistant,
                                  md_buf *out, md_error *err) {
    if (!out || (n && !msgs)) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_chat_template_render: missing messages or output");
    }
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content) {
            return md_error_set(err, MD_ERR_INVALID_ARG, "chat message %zu has no role or no content", i);
        }
    }
    switch (t) {
    case MD_CHAT_TEMPLATE_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            md_buf_appendf(out, "<|start_header_id|>%s<|end_header_id|>\n\n", msgs[i].role);
            append_trimmed(out, msgs[i].content);
            md_buf_append_str(out, "<|eot_id|>");
        }
        if (add_assistant) {
            md_buf_append_str(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
        break;
    case MD_CHAT_TEMPLATE_CHATML:
        for (size_t i = 0; i < n; i++) {
            md_buf_appendf(out, "<|im_start|>%s\n%s<|im_end|>\n", msgs[i].role, msgs[i].content);
        }
        if (add_assistant) {
            md_buf_append_str(out, "<|im_start|>assistant\n");
        }
        break;
    case MD_CHAT_TEMPLATE_MISTRAL_V7: render_mistral_v7(msgs, n, out); break;
    case MD_CHAT_TEMPLATE_MISTRAL_V1:
    case MD_CHAT_TEMPLATE_MISTRAL_V3:
    case MD_CHAT_TEMPLATE_MISTRAL_V3_TEKKEN: render_mistral_v1_v3(t, msgs, n, out); break;
    case MD_CHAT_TEMPLATE_LLAMA2:
    case MD_CHAT_TEMPLATE_LLAMA2_SYS:
    case MD_CHAT_TEMPLATE_LLAMA2_SYS_BOS:
    case MD_CHAT_TEMPLATE_LLAMA2_SYS_STRIP: render_llama2(t, msgs, n, out); break;
    default: return md_error_set(err, MD_ERR_INVALID_ARG, "unknown chat template: render it with a Jinja engine");
    }
    if (!md_buf_ok(out)) {
        return md_error_set(err, MD_ERR_NOMEM, "out of memory rendering the chat prompt");
    }
    return MD_OK;
}
