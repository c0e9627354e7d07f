/* chat.c: chat templates. Each supported family's turn layout is written
 * out in C (no Jinja engine); a model's tokenizer.chat_template text is
 * recognised by the markers that only its family uses. */
#include "model/model.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum { CT_CHATML, CT_LLAMA3, CT_LLAMA2, CT_MISTRAL, CT_PHI3, CT_GEMMA, CT_COUNT } chat_kind;
static const char *CT_NAMES[CT_COUNT] = { "chatml", "llama3", "llama2", "mistral", "phi3", "gemma" };

static int detect(const char *tmpl) {
    if (strstr(tmpl, "<|im_start|>")) return CT_CHATML;
    if (strstr(tmpl, "<|start_header_id|>")) return CT_LLAMA3;
    if (strstr(tmpl, "<|assistant|>") && strstr(tmpl, "<|end|>")) return CT_PHI3;
    if (strstr(tmpl, "<start_of_turn>")) return CT_GEMMA;
    if (strstr(tmpl, "[INST]") && strstr(tmpl, "<<SYS>>")) return CT_LLAMA2;
    if (strstr(tmpl, "[INST]")) return CT_MISTRAL;
    return -1;
}

static int by_name(const char *name) {
    for (int i = 0; i < CT_COUNT; i++)
        if (!strcasecmp(name, CT_NAMES[i])) return i;
    if (!strcasecmp(name, "qwen2")) return CT_CHATML;
    return -1;
}

static pk_status apply(int kind, const pk_chat_msg *msgs, size_t n, bool gen, char **out) {
    pk_buf b = { 0 };
    const char *sys = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *r = msgs[i].role, *c = msgs[i].content;
        if (!r || !c) return pk_err(PK_ERR_INVALID, "chat: message %zu has no role or content", i);
        if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant"))
            return pk_err(PK_ERR_INVALID, "chat: message %zu has role '%s' (system, user, assistant)", i, r);
    }
    for (size_t i = 0; i < n; i++) {
        const char *r = msgs[i].role, *c = msgs[i].content;
        bool is_sys = !strcmp(r, "system"), is_user = !strcmp(r, "user");
        switch (kind) {
        case CT_CHATML:
            pk_buf_puts(&b, "<|im_start|>"), pk_buf_puts(&b, r), pk_buf_puts(&b, "\n"), pk_buf_puts(&b, c), pk_buf_puts(&b, "<|im_end|>\n");
            break;
        case CT_LLAMA3:
            pk_buf_puts(&b, "<|start_header_id|>"), pk_buf_puts(&b, r), pk_buf_puts(&b, "<|end_header_id|>\n\n"), pk_buf_puts(&b, c),
                pk_buf_puts(&b, "<|eot_id|>");
            break;
        case CT_PHI3:
            pk_buf_puts(&b, "<|"), pk_buf_puts(&b, r), pk_buf_puts(&b, "|>\n"), pk_buf_puts(&b, c), pk_buf_puts(&b, "<|end|>\n");
            break;
        case CT_GEMMA: /* no system role: it prefixes the first user turn */
            if (is_sys) {
                sys = c;
                break;
            }
            pk_buf_puts(&b, "<start_of_turn>"), pk_buf_puts(&b, is_user ? "user" : "model"), pk_buf_puts(&b, "\n");
            if (is_user && sys) pk_buf_puts(&b, sys), pk_buf_puts(&b, "\n\n"), sys = NULL;
            pk_buf_puts(&b, c), pk_buf_puts(&b, "<end_of_turn>\n");
            break;
        case CT_LLAMA2:
        case CT_MISTRAL:
            if (is_sys) {
                sys = c;
                break;
            }
            if (is_user) {
                if (b.n && kind == CT_LLAMA2) pk_buf_puts(&b, "<s>");
                pk_buf_puts(&b, "[INST] ");
                if (sys) {
                    if (kind == CT_LLAMA2) pk_buf_puts(&b, "<<SYS>>\n"), pk_buf_puts(&b, sys), pk_buf_puts(&b, "\n<</SYS>>\n\n");
                    else pk_buf_puts(&b, sys), pk_buf_puts(&b, "\n\n");
                    sys = NULL;
                }
                pk_buf_puts(&b, c), pk_buf_puts(&b, " [/INST]");
            } else {
                pk_buf_puts(&b, kind == CT_LLAMA2 ? " " : ""), pk_buf_puts(&b, c), pk_buf_puts(&b, kind == CT_LLAMA2 ? " </s>" : "</s>");
            }
            break;
        }
    }
    if (gen) {
        switch (kind) {
        case CT_CHATML: pk_buf_puts(&b, "<|im_start|>assistant\n"); break;
        case CT_LLAMA3: pk_buf_puts(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n"); break;
        case CT_PHI3: pk_buf_puts(&b, "<|assistant|>\n"); break;
        case CT_GEMMA: pk_buf_puts(&b, "<start_of_turn>model\n"); break;
        default: break; /* [INST] ... [/INST] already asks for the answer */
        }
    }
    pk_buf_put(&b, "", 0);
    if (b.fail) {
        pk_free(b.p);
        return PK_ERR_NOMEM;
    }
    *out = b.p;
    return PK_OK;
}

pk_status pk_chat_apply(const char *tmpl, const pk_chat_msg *msgs, size_t n, int add_generation_prompt,
                        char **out) {
    *out = NULL;
    if (!tmpl) return pk_err(PK_ERR_INVALID, "chat: no template given");
    int kind = by_name(tmpl);
    if (kind < 0) kind = detect(tmpl);
    if (kind < 0)
        return pk_err(PK_ERR_UNSUPPORTED,
                      "chat: template not recognised (named: chatml, llama3, llama2, mistral, phi3, gemma)");
    return apply(kind, msgs, n, add_generation_prompt != 0, out);
}

pk_status pk_chat_apply_model(const pk_model *m, const pk_chat_msg *msgs, size_t n, int add_generation_prompt,
                              char **out) {
    *out = NULL;
    pk_gguf_str t;
    if (pk_gguf_get_str(m->gguf, "tokenizer.chat_template", &t) != PK_OK)
        return pk_err(PK_ERR_NOT_FOUND, "model has no tokenizer.chat_template; name a template instead");
    char *tmpl = pk_strndup(t.ptr, (size_t)t.len);
    if (!tmpl) return PK_ERR_NOMEM;
    pk_status st = pk_chat_apply(tmpl, msgs, n, add_generation_prompt, out);
    pk_free(tmpl);
    return st;
}
