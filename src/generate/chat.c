/* chat.c: chat templates. Each supported family's turn layout is written
 * out in C (no Jinja engine); a model's tokenizer.chat_template text is
 * recognised by the markers that only its family uses. */
#include "model/model.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum { CT_CHATML, CT_LLAMA3, CT_LLAMA2, CT_MISTRAL, CT_PHI3, CT_GEMMA, CT_COUNT } chat_kind;
static const char *CT_NAMES[CT_COUNT] = { "chatml", "llama3", "llama2", "mistral", "phi3", "gemma" };

/* growable string */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool fail;
} sbuf;

static void put(sbuf *b, const char *s) {
    size_t l = strlen(s);
    if (b->fail) return;
    if (b->cap - b->n <= l) {
        size_t cap = PK_MAX(b->cap * 2, b->n + l + 256);
        char *np = pk_realloc(b->p, cap);
        if (!np) {
            b->fail = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

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
    sbuf b = { 0 };
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
            put(&b, "<|im_start|>"), put(&b, r), put(&b, "\n"), put(&b, c), put(&b, "<|im_end|>\n");
            break;
        case CT_LLAMA3:
            put(&b, "<|start_header_id|>"), put(&b, r), put(&b, "<|end_header_id|>\n\n"), put(&b, c),
                put(&b, "<|eot_id|>");
            break;
        case CT_PHI3:
            put(&b, "<|"), put(&b, r), put(&b, "|>\n"), put(&b, c), put(&b, "<|end|>\n");
            break;
        case CT_GEMMA: /* no system role: it prefixes the first user turn */
            if (is_sys) {
                sys = c;
                break;
            }
            put(&b, "<start_of_turn>"), put(&b, is_user ? "user" : "model"), put(&b, "\n");
            if (is_user && sys) put(&b, sys), put(&b, "\n\n"), sys = NULL;
            put(&b, c), put(&b, "<end_of_turn>\n");
            break;
        case CT_LLAMA2:
        case CT_MISTRAL:
            if (is_sys) {
                sys = c;
                break;
            }
            if (is_user) {
                if (b.n && kind == CT_LLAMA2) put(&b, "<s>");
                put(&b, "[INST] ");
                if (sys) {
                    if (kind == CT_LLAMA2) put(&b, "<<SYS>>\n"), put(&b, sys), put(&b, "\n<</SYS>>\n\n");
                    else put(&b, sys), put(&b, "\n\n");
                    sys = NULL;
                }
                put(&b, c), put(&b, " [/INST]");
            } else {
                put(&b, kind == CT_LLAMA2 ? " " : ""), put(&b, c), put(&b, kind == CT_LLAMA2 ? " </s>" : "</s>");
            }
            break;
        }
    }
    if (gen) {
        switch (kind) {
        case CT_CHATML: put(&b, "<|im_start|>assistant\n"); break;
        case CT_LLAMA3: put(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n"); break;
        case CT_PHI3: put(&b, "<|assistant|>\n"); break;
        case CT_GEMMA: put(&b, "<start_of_turn>model\n"); break;
        default: break; /* [INST] ... [/INST] already asks for the answer */
        }
    }
    put(&b, "");
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
