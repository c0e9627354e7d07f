/* tok.h: tokenizers. A pk_tok turns UTF-8 text into the exact token ids a
 * model was trained on and back: SentencePiece-style vocabularies (scores,
 * byte fallback, space prefix) and byte-level BPE (merges, pre-tokenizer
 * split rules), built from GGUF metadata or a Hugging Face tokenizer.json. */
#ifndef PK_TOK_H
#define PK_TOK_H

#include "base/base.h"
#include "gguf/gguf.h"

typedef struct pk_tok pk_tok;

/* Build from the tokenizer.ggml.* keys of a GGUF file. OUT *tok owned by the
 * caller (pk_tok_free); it copies what it needs, so g may be closed after. */
pk_status pk_tok_from_gguf(const pk_gguf *g, pk_tok **tok);
/* Build from a Hugging Face tokenizer.json file. */
pk_status pk_tok_from_hf_json(const char *path, pk_tok **tok);
void pk_tok_free(pk_tok *tok);

int pk_tok_n_vocab(const pk_tok *tok);
int pk_tok_bos(const pk_tok *tok); /* -1 if none */
int pk_tok_eos(const pk_tok *tok); /* -1 if none */
/* Is id an end-of-generation token (EOS, EOT, <|im_end|>...)? */
bool pk_tok_is_eog(const pk_tok *tok, int32_t id);

/* Encode. add_special: BOS/EOS as the vocab's add_bos/add_eos say;
 * parse_special: control-token text in the input becomes control tokens.
 * OUT *ids caller owns (pk_free), *n_ids its length. */
pk_status pk_tok_encode(const pk_tok *tok, const char *text, size_t len,
                        bool add_special, bool parse_special, int32_t **ids,
                        size_t *n_ids);

/* The bytes a token stands for when decoded (byte-fallback tokens give their
 * byte, SentencePiece's U+2581 gives a space, byte-level BPE maps back to
 * raw bytes). Control tokens give their text only with render_special.
 * Borrowed, valid until pk_tok_free(); *len gets the length. Out-of-range ids
 * give "". */
const char *pk_tok_piece(const pk_tok *tok, int32_t id, bool render_special,
                         size_t *len);

/* Decode ids to text. The leading space SentencePiece adds is removed when
 * the first id follows BOS or starts the sequence (as the reference does).
 * OUT *text caller owns (pk_free), NUL-terminated. */
pk_status pk_tok_decode(const pk_tok *tok, const int32_t *ids, size_t n,
                        bool render_special, char **text, size_t *len);

#endif
