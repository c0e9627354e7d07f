/* tok_hf.c: vocabularies from Hugging Face tokenizer.json files. */
#include "tokenizer/tok_int.h"

pk_status pk_tok_from_hf_json(const char *path, pk_tok **tok) {
    *tok = NULL;
    return pk_err(PK_ERR_UNSUPPORTED, "%s: tokenizer.json loading is not built yet", path);
}
