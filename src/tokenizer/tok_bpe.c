/* tok_bpe.c: byte-level BPE (GPT-2 style, tokenizer.ggml.model = gpt2):
 * the text is split by the pre-tokenizer's regex (chosen by
 * tokenizer.ggml.pre; PCRE2 with Unicode properties, JIT), each piece's
 * bytes are mapped to GPT-2's printable alphabet, and adjacent symbols are
 * merged lowest merge rank first. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tok_int.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

/* ---- pre-tokenizer patterns (from each model family's tokenizer) ---- */

static const char RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char RE_LLAMA3[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const struct { const char *pre; const char *const *re; } PRE[] = {
    { "default", (const char *const[]){ RE_GPT2, NULL } },
    { "gpt-2", (const char *const[]){ RE_GPT2, NULL } },
    { "gpt2", (const char *const[]){ RE_GPT2, NULL } },
    { "llama-bpe", (const char *const[]){ RE_LLAMA3, NULL } },
    { "llama3", (const char *const[]){ RE_LLAMA3, NULL } },
    { "qwen2", (const char *const[]){ RE_QWEN2, NULL } },
    { "deepseek-llm", (const char *const[]){
          "[\r\n]",
          "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
          "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
          "\\s+$",
          "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
          "\\p{N}+",
          NULL } },
    { "deepseek-coder", (const char *const[]){
          "[\r\n]",
          "\\s?\\p{L}+",
          "\\s?\\p{P}+",
          "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
          "\\p{N}",
          NULL } },
    { "falcon", (const char *const[]){
          "[\\p{P}\\$\\+<=>\\^~\\|`]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
          "[0-9][0-9][0-9]", NULL } },
    { "starcoder", (const char *const[]){
          "\\p{N}", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", NULL } },
    { "refact", (const char *const[]){
          "\\p{N}", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", NULL } },
    { "gpt-neox", (const char *const[]){ RE_GPT2, NULL } },
    { "mpt", (const char *const[]){ RE_GPT2, NULL } },
    { "command-r", (const char *const[]){
          "\\p{N}", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", NULL } },
};

enum { MAX_RE = 8 };

struct pk_tok_bpe {
    pcre2_code *re[MAX_RE];
    int n_re;
    /* merges: hash of (left id, right id) -> rank */
    uint64_t *mkeys;     /* (mcap) left << 32 | right, UINT64_MAX empty */
    int32_t *mrank;      /* (mcap) */
    uint64_t mcap;
    bool ignore_merges;      /* a word that is a token as a whole is taken as is (Llama-3) */
    uint32_t byte_cp[256];   /* byte -> code point of GPT-2's alphabet */
    int16_t cp_byte[512];    /* code point (< 512) -> byte, -1 none */
};

/* ---- byte <-> unicode alphabet ---- */

static void init_byte_map(pk_tok_bpe *b) {
    int n = 0;
    for (int i = 0; i < 512; i++) b->cp_byte[i] = -1;
    for (int c = 0; c < 256; c++) {
        bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174);
        b->byte_cp[c] = printable ? (uint32_t)c : (uint32_t)(256 + n++);
        b->cp_byte[b->byte_cp[c]] = (int16_t)c;
    }
}

static pk_tok_bpe *g_default_map(void);

size_t pk_tok_bpe_unmap(const char *s, size_t n, char *out) {
    const pk_tok_bpe *b = g_default_map();
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = pk_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (cp < 512 && b->cp_byte[cp] >= 0) {
            out[o++] = (char)b->cp_byte[cp];
        } else { /* not of the alphabet (added tokens): keep the bytes */
            memcpy(out + o, s + i, (size_t)l);
            o += (size_t)l;
        }
        i += (size_t)l;
    }
    return o;
}

static pk_tok_bpe *g_default_map(void) {
    static pk_tok_bpe map;
    static int ready; /* benign: every thread writes the same table */
    if (!ready) {
        init_byte_map(&map);
        ready = 1;
    }
    return &map;
}

/* ---- merges ---- */

static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static int32_t merge_rank(const pk_tok_bpe *b, int32_t l, int32_t r) {
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r, m = b->mcap - 1;
    for (uint64_t h = mix(key) & m;; h = (h + 1) & m) {
        if (b->mkeys[h] == UINT64_MAX) return -1;
        if (b->mkeys[h] == key) return b->mrank[h];
    }
}

/* Add merge (left, right) with rank r; merges of pieces not in the vocab
 * never apply and are skipped. */
static void add_merge(pk_tok *t, const char *l, size_t ll, const char *r, size_t rl, int32_t rank) {
    pk_tok_bpe *b = t->bpe;
    int32_t li = pk_tok_find(t, l, ll), ri = pk_tok_find(t, r, rl);
    if (li < 0 || ri < 0) return;
    uint64_t key = ((uint64_t)(uint32_t)li << 32) | (uint32_t)ri, m = b->mcap - 1;
    uint64_t h = mix(key) & m;
    while (b->mkeys[h] != UINT64_MAX && b->mkeys[h] != key) h = (h + 1) & m;
    if (b->mkeys[h] == UINT64_MAX) {
        b->mkeys[h] = key;
        b->mrank[h] = rank;
    }
}

pk_status pk_tok_bpe_setup(pk_tok *t, uint64_t n_merges, pk_tok_merge_fn get, const void *src,
                           const char *const *regexes) {
    pk_tok_bpe *b = pk_calloc(1, sizeof(*b));
    if (!b) return PK_ERR_NOMEM;
    t->bpe = b;
    init_byte_map(b);
    b->mcap = 16;
    while (b->mcap < n_merges * 2) b->mcap *= 2;
    b->mkeys = pk_malloc(sizeof(uint64_t) * b->mcap);
    b->mrank = pk_malloc(sizeof(int32_t) * b->mcap);
    if (!b->mkeys || !b->mrank) return PK_ERR_NOMEM;
    memset(b->mkeys, 0xFF, sizeof(uint64_t) * b->mcap);
    for (uint64_t i = 0; i < n_merges; i++) {
        const char *l, *r;
        size_t ll, rl;
        pk_status st = get(src, i, &l, &ll, &r, &rl);
        if (st) return st;
        add_merge(t, l, ll, r, rl, (int32_t)i);
    }
    for (const char *const *re = regexes; re && *re && b->n_re < MAX_RE; re++) {
        int err;
        PCRE2_SIZE off;
        b->re[b->n_re] = pcre2_compile((PCRE2_SPTR)*re, PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, NULL);
        if (!b->re[b->n_re]) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(err, msg, sizeof(msg));
            return pk_err(PK_ERR_FORMAT, "pre-tokenizer regex error at %zu: %s", (size_t)off, (const char *)msg);
        }
        pcre2_jit_compile(b->re[b->n_re], PCRE2_JIT_COMPLETE);
        b->n_re++;
    }
    return PK_OK;
}

const char *const *pk_tok_bpe_pre_regexes(const char *name) {
    for (size_t i = 0; i < PK_ARRAY_LEN(PRE); i++)
        if (!strcmp(name, PRE[i].pre)) return PRE[i].re;
    return NULL;
}

static pk_status gguf_merge(const void *src, uint64_t i, const char **l, size_t *ll, const char **r, size_t *rl) {
    pk_gguf_str s = pk_gguf_arr_str(src, i);
    const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
    if (!sp)
        return pk_err(PK_ERR_FORMAT, "tokenizer.ggml.merges[%llu]: no space in '%.*s'", (unsigned long long)i,
                      (int)PK_MIN(s.len, 40), s.ptr);
    *l = s.ptr;
    *ll = (size_t)(sp - s.ptr);
    *r = sp + 1;
    *rl = (size_t)(s.ptr + s.len - sp - 1);
    return PK_OK;
}

pk_status pk_tok_bpe_init(pk_tok *t, const pk_gguf *g) {
    const pk_gguf_value *merges;
    pk_status st = pk_gguf_get_arr(g, "tokenizer.ggml.merges", PK_GGUF_STRING, &merges);
    if (st) return st;
    char pre[64] = "default";
    pk_gguf_str ps;
    if (pk_gguf_get_str(g, "tokenizer.ggml.pre", &ps) == PK_OK)
        snprintf(pre, sizeof(pre), "%.*s", (int)PK_MIN(ps.len, 63), ps.ptr);
    pk_err_clear();
    const char *const *re = pk_tok_bpe_pre_regexes(pre);
    if (!re) return pk_err(PK_ERR_UNSUPPORTED, "tokenizer.ggml.pre '%s' is not supported", pre);
    st = pk_tok_bpe_setup(t, merges->v.arr.n, gguf_merge, merges, re);
    if (!st && (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3"))) t->bpe->ignore_merges = true;
    return st;
}

void pk_tok_bpe_set_ignore_merges(pk_tok *t, bool on) {
    if (t->bpe) t->bpe->ignore_merges = on;
}

void pk_tok_bpe_free(pk_tok *t) {
    pk_tok_bpe *b = t->bpe;
    if (!b) return;
    for (int i = 0; i < b->n_re; i++) pcre2_code_free(b->re[i]);
    pk_free(b->mkeys);
    pk_free(b->mrank);
    pk_free(b);
    t->bpe = NULL;
}

/* ---- encode ---- */

/* BPE over one pre-token: symbols are the alphabet characters of its bytes */
static pk_status bpe_word(const pk_tok *t, const char *p, size_t n, pk_tok_out *o) {
    const pk_tok_bpe *b = t->bpe;
    enum { SMALL = 64 };
    char sbuf[SMALL * 2];
    int32_t sids[SMALL];
    char *mapped = n * 2 <= sizeof(sbuf) ? sbuf : pk_malloc(n * 2);
    int32_t *ids = n <= SMALL ? sids : pk_malloc(sizeof(int32_t) * n);
    pk_status st = PK_OK;
    if (!mapped || !ids) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    /* the whole word may itself be a token (fast path, also what the
     * reference does when ignore_merges is set) */
    size_t mn = 0;
    int ns = 0;
    for (size_t i = 0; i < n; i++) {
        char enc[4];
        int l = pk_utf8_encode(b->byte_cp[(uint8_t)p[i]], enc);
        int32_t id = pk_tok_find(t, enc, (size_t)l);
        memcpy(mapped + mn, enc, (size_t)l);
        mn += (size_t)l;
        ids[ns++] = id;
    }
    if (b->ignore_merges) {
        int32_t whole = pk_tok_find(t, mapped, mn);
        if (whole >= 0) {
            st = pk_tok_out_push(o, whole);
            goto done;
        }
    }
    /* merge the lowest-rank pair until none applies (n is a short word) */
    for (;;) {
        int best = -1;
        int32_t best_rank = INT32_MAX;
        for (int i = 0; i + 1 < ns; i++) {
            if (ids[i] < 0 || ids[i + 1] < 0) continue;
            int32_t r = merge_rank(b, ids[i], ids[i + 1]);
            if (r >= 0 && r < best_rank) {
                best_rank = r;
                best = i;
            }
        }
        if (best < 0) break;
        char tmp[1024];
        size_t ll = t->len[ids[best]], rl = t->len[ids[best + 1]];
        int32_t merged = -1;
        if (ll + rl <= sizeof(tmp)) {
            memcpy(tmp, t->text[ids[best]], ll);
            memcpy(tmp + ll, t->text[ids[best + 1]], rl);
            merged = pk_tok_find(t, tmp, ll + rl);
        }
        if (merged < 0) break; /* a merge whose result is not a token: stop */
        ids[best] = merged;
        memmove(ids + best + 1, ids + best + 2, sizeof(int32_t) * (size_t)(ns - best - 2));
        ns--;
    }
    for (int i = 0; i < ns && !st; i++) {
        int32_t id = ids[i];
        st = pk_tok_out_push(o, id >= 0 ? id : (t->unk >= 0 ? t->unk : 0));
    }
done:
    if (mapped != sbuf) pk_free(mapped);
    if (ids != sids) pk_free(ids);
    return st;
}

/* Split [p, p+n) with regex k; matches go to regex k+1 (or to BPE when k is
 * the last), the text between matches stays as its own piece, as the
 * reference's sequence of Split pre-tokenizers does. */
static pk_status split(const pk_tok *t, int k, const char *p, size_t n, pcre2_match_data *md,
                       pk_tok_out *o) {
    const pk_tok_bpe *b = t->bpe;
    if (k == b->n_re) return n ? bpe_word(t, p, n, o) : PK_OK;
    size_t pos = 0, last = 0;
    pk_status st;
    while (pos < n) {
        int rc = pcre2_match(b->re[k], (PCRE2_SPTR)p, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e == s) { /* empty match: step one character */
            pos = s + (size_t)PK_MAX(1, pk_utf8_len((uint8_t)p[s]));
            continue;
        }
        if (s > last && (st = split(t, k + 1, p + last, s - last, md, o))) return st;
        /* re-run from the match end afterwards: md is reused below */
        if ((st = split(t, k + 1, p + s, e - s, md, o))) return st;
        last = pos = e;
    }
    if (last < n) return split(t, k + 1, p + last, n - last, md, o);
    return PK_OK;
}

pk_status pk_tok_bpe_encode(const pk_tok *t, const char *text, size_t n, pk_tok_out *o) {
    /* invalid UTF-8 cannot go through PCRE2 in UTF mode: replace it */
    char *clean = NULL;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = pk_utf8_decode((const uint8_t *)text + i, n - i, &cp);
        if (cp == 0xFFFD && !(l == 3 && !memcmp(text + i, "\xEF\xBF\xBD", 3))) {
            clean = pk_malloc(n * 3 + 1);
            if (!clean) return PK_ERR_NOMEM;
            size_t o2 = 0;
            for (size_t j = 0; j < n;) {
                uint32_t c2;
                int l2 = pk_utf8_decode((const uint8_t *)text + j, n - j, &c2);
                o2 += (size_t)pk_utf8_encode(c2, clean + o2);
                j += (size_t)l2;
            }
            text = clean;
            n = o2;
            break;
        }
        i += (size_t)l;
    }
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md) {
        pk_free(clean);
        return PK_ERR_NOMEM;
    }
    pk_status st = split(t, 0, text, n, md, o);
    pcre2_match_data_free(md);
    pk_free(clean);
    return st;
}
