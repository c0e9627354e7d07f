/* tok_int.h: the vocabulary struct shared by the tokenizer files (tok.c:
 * vocab, SPM, special tokens, decode; tok_bpe.c: byte-level BPE). */
#ifndef PK_TOK_INT_H
#define PK_TOK_INT_H

#include "tokenizer/tok.h"

/* GGUF token types */
enum { PK_TOKTYPE_NORMAL = 1, PK_TOKTYPE_UNKNOWN = 2, PK_TOKTYPE_CONTROL = 3,
       PK_TOKTYPE_USER = 4, PK_TOKTYPE_UNUSED = 5, PK_TOKTYPE_BYTE = 6 };

typedef enum { PK_TOK_SPM, PK_TOK_BPE } pk_tok_kind;

typedef struct pk_tok_bpe pk_tok_bpe;

struct pk_tok {
    pk_tok_kind kind;
    int32_t n_vocab;
    char *blob;            /* all token texts, NUL-separated */
    char **text;           /* (n_vocab) token text as stored */
    uint32_t *len;         /* (n_vocab) */
    float *score;          /* (n_vocab) SPM merge scores */
    uint8_t *type;         /* (n_vocab) PK_TOKTYPE_* */
    char *piece_blob;      /* decoded bytes of all tokens (lives in blob's */
    char **piece;          /*   allocation order: freed via piece[0]) */
    uint32_t *piece_len;
    int32_t *hslots;       /* open-addressing hash: text -> id, -1 empty */
    uint64_t hcap;
    int32_t *special;      /* control and user-defined ids, longest first */
    uint8_t special_first[32]; /* bitmap of the first bytes of those tokens */
    int32_t n_special;
    int32_t bos, eos, unk, eot, eog_extra;
    bool add_bos, add_eos, add_space_prefix;
    bool nfc;              /* NFC-normalize input first (Qwen2's tokenizer.json) */
    bool spm_word_split;   /* SPM: no merge can cross a word start (see tok.c) */
    pk_tok_bpe *bpe;       /* BPE state (merges, pre-tokenizer) or NULL */
};

typedef struct pk_tok_out {
    int32_t *ids;
    size_t n, cap;
} pk_tok_out;

int32_t pk_tok_find(const pk_tok *t, const char *s, size_t n);
pk_status pk_tok_out_push(pk_tok_out *o, int32_t id);

/* tok.c: hash, decoded pieces and special-token list once tokens, types
 * and scores are set; shared by the GGUF and tokenizer.json loaders */
pk_status pk_tok_finish(pk_tok *t);
pk_status pk_tok_build_hash(pk_tok *t);

/* tok_bpe.c */
pk_status pk_tok_bpe_init(pk_tok *t, const pk_gguf *g);
/* merge i as two pieces (borrowed) */
typedef pk_status (*pk_tok_merge_fn)(const void *src, uint64_t i, const char **l, size_t *ll,
                                     const char **r, size_t *rl);
/* Merges ranked by index, and the pre-tokenizer's split regexes applied in
 * order (NULL-terminated). Needs t's hash built. */
pk_status pk_tok_bpe_setup(pk_tok *t, uint64_t n_merges, pk_tok_merge_fn get, const void *src,
                           const char *const *regexes);
void pk_tok_bpe_set_ignore_merges(pk_tok *t, bool on);
/* Split regexes of a tokenizer.ggml.pre name, or NULL if unknown. */
const char *const *pk_tok_bpe_pre_regexes(const char *name);
void pk_tok_bpe_free(pk_tok *t);
pk_status pk_tok_bpe_encode(const pk_tok *t, const char *text, size_t n, pk_tok_out *o);
/* Map a byte-level token text back to raw bytes; returns bytes written to
 * out (at most n). */
size_t pk_tok_bpe_unmap(const char *s, size_t n, char *out);

#endif
