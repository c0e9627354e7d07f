/* tflite.c: TFLite flatbuffer reader and float32 interpreter (see tflite.h).
 * The flatbuffer layer checks every offset, vtable and vector against the
 * buffer before reading; the model layer then checks every operator's
 * tensor shapes, so that the kernels below can trust their sizes. Field
 * numbers follow TensorFlow Lite's schema.fbs. */
#include "vision/tflite.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- flatbuffer reader ---- */

/* All positions are byte offsets into b->p; every read checks the size. */
typedef struct fb_buf {
    const uint8_t *p;
    size_t n;
} fb_buf;

typedef struct fb_table {
    size_t pos;     /* table start */
    size_t vt;      /* its vtable */
    uint16_t vsize; /* vtable bytes */
    uint16_t tsize; /* table bytes */
} fb_table;

static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Is [pos, pos+len) inside the buffer? */
static bool fb_in(const fb_buf *b, size_t pos, size_t len) {
    return pos <= b->n && len <= b->n - pos;
}

static pk_status fb_table_at(const fb_buf *b, size_t pos, const char *what,
                             fb_table *t) {
    if (!fb_in(b, pos, 4))
        return pk_err(PK_ERR_FORMAT, "%s: table at %zu past end of buffer (%zu)",
                      what, pos, b->n);
    int32_t so = (int32_t)rd_u32(b->p + pos);
    int64_t vt = (int64_t)pos - (int64_t)so;
    if (vt < 0 || !fb_in(b, (size_t)vt, 4))
        return pk_err(PK_ERR_FORMAT, "%s: vtable of table at %zu at %lld is "
                      "outside the buffer (%zu)", what, pos, (long long)vt, b->n);
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vsize = rd_u16(b->p + t->vt);
    t->tsize = rd_u16(b->p + t->vt + 2);
    if (t->vsize < 4 || (t->vsize & 1) || !fb_in(b, t->vt, t->vsize))
        return pk_err(PK_ERR_FORMAT, "%s: vtable at %zu has bad size %u "
                      "(buffer %zu)", what, t->vt, t->vsize, b->n);
    if (t->tsize < 4 || !fb_in(b, pos, t->tsize))
        return pk_err(PK_ERR_FORMAT, "%s: table at %zu of %u bytes past end "
                      "of buffer (%zu)", what, pos, t->tsize, b->n);
    return PK_OK;
}

/* Position of field id (width bytes) in *pos, 0 when the field is absent. */
static pk_status fb_field(const fb_buf *b, const fb_table *t, int id,
                          size_t width, const char *what, size_t *pos) {
    size_t slot = 4 + 2 * (size_t)id;
    *pos = 0;
    if (slot + 2 > t->vsize) return PK_OK;
    uint16_t off = rd_u16(b->p + t->vt + slot);
    if (off == 0) return PK_OK;
    if (off < 4 || (size_t)off + width > t->tsize)
        return pk_err(PK_ERR_FORMAT, "%s: field %d at table offset %u (+%zu) "
                      "outside its table of %u bytes (table at %zu)", what, id,
                      off, width, t->tsize, t->pos);
    *pos = t->pos + off;
    return PK_OK;
}

static pk_status fb_u32(const fb_buf *b, const fb_table *t, int id,
                        uint32_t def, const char *what, uint32_t *v) {
    size_t pos;
    pk_status st = fb_field(b, t, id, 4, what, &pos);
    if (st) return st;
    *v = pos ? rd_u32(b->p + pos) : def;
    return PK_OK;
}

static pk_status fb_i32(const fb_buf *b, const fb_table *t, int id,
                        int32_t def, const char *what, int32_t *v) {
    uint32_t u;
    pk_status st = fb_u32(b, t, id, (uint32_t)def, what, &u);
    *v = (int32_t)u;
    return st;
}

static pk_status fb_u8(const fb_buf *b, const fb_table *t, int id, uint8_t def,
                       const char *what, uint8_t *v) {
    size_t pos;
    pk_status st = fb_field(b, t, id, 1, what, &pos);
    if (st) return st;
    *v = pos ? b->p[pos] : def;
    return PK_OK;
}

/* Follow the uoffset stored in field id. *target = 0 when absent. */
static pk_status fb_ref(const fb_buf *b, const fb_table *t, int id,
                        const char *what, size_t *target) {
    size_t pos;
    pk_status st = fb_field(b, t, id, 4, what, &pos);
    *target = 0;
    if (st || !pos) return st;
    uint32_t off = rd_u32(b->p + pos);
    if (off == 0 || !fb_in(b, pos + off, 4))
        return pk_err(PK_ERR_FORMAT, "%s: field %d offset %u at %zu points "
                      "outside the buffer (%zu)", what, id, off, pos, b->n);
    *target = pos + off;
    return PK_OK;
}

/* Vector in field id with elements of elem bytes: *start = first element,
 * *count = length; both 0 when absent. */
static pk_status fb_vec(const fb_buf *b, const fb_table *t, int id, size_t elem,
                        const char *what, size_t *start, uint32_t *count) {
    size_t at, bytes;
    pk_status st = fb_ref(b, t, id, what, &at);
    *start = 0;
    *count = 0;
    if (st || !at) return st;
    uint32_t n = rd_u32(b->p + at);
    if (!pk_size_mul(n, elem, &bytes) || !fb_in(b, at + 4, bytes))
        return pk_err(PK_ERR_FORMAT, "%s: field %d vector at %zu of %u x %zu "
                      "bytes past end of buffer (%zu)", what, id, at, n, elem,
                      b->n);
    *start = at + 4;
    *count = n;
    return PK_OK;
}

/* i-th table of a vector of tables (start from fb_vec, elem 4). */
static pk_status fb_vec_table(const fb_buf *b, size_t start, uint32_t i,
                              const char *what, fb_table *t) {
    size_t pos = start + 4 * (size_t)i;
    uint32_t off = rd_u32(b->p + pos);
    if (off == 0 || !fb_in(b, pos + off, 4))
        return pk_err(PK_ERR_FORMAT, "%s[%u]: offset %u at %zu outside the "
                      "buffer (%zu)", what, i, off, pos, b->n);
    return fb_table_at(b, pos + off, what, t);
}

static pk_status fb_table_field(const fb_buf *b, const fb_table *t, int id,
                                const char *what, fb_table *out, bool *present) {
    size_t at;
    pk_status st = fb_ref(b, t, id, what, &at);
    *present = false;
    if (st || !at) return st;
    *present = true;
    return fb_table_at(b, at, what, out);
}

/* String field: copied into dst (truncated to cap-1), "" when absent. */
static pk_status fb_str(const fb_buf *b, const fb_table *t, int id,
                        const char *what, char *dst, size_t cap) {
    size_t start;
    uint32_t n;
    pk_status st = fb_vec(b, t, id, 1, what, &start, &n);
    dst[0] = 0;
    if (st || !start) return st;
    size_t k = PK_MIN((size_t)n, cap - 1);
    memcpy(dst, b->p + start, k);
    dst[k] = 0;
    for (size_t i = 0; i < k; i++)
        if (dst[i] == 0 || (unsigned char)dst[i] < 0x20) dst[i] = '?';
    return PK_OK;
}

/* ---- schema facts (TensorFlow Lite schema.fbs) ---- */

enum { /* table field ids */
    MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4,
    OPC_DEPRECATED_CODE = 0, OPC_CUSTOM = 1, OPC_CODE = 3,
    SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3,
    TEN_SHAPE = 0, TEN_TYPE = 1, TEN_BUFFER = 2, TEN_NAME = 3,
    TEN_QUANT = 4, TEN_SPARSITY = 6,
    BUF_DATA = 0, BUF_OFFSET = 1, BUF_SIZE = 2,
    OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPT_TYPE = 3,
    OP_OPTIONS = 4, OP_CUSTOM_OPTS = 5,
};

enum { TT_FLOAT32 = 0, TT_FLOAT16 = 1, TT_INT32 = 2 }; /* TensorType */

enum { /* BuiltinOperator */
    OP_ADD = 0, OP_AVERAGE_POOL_2D = 1, OP_CONV_2D = 3,
    OP_DEPTHWISE_CONV_2D = 4, OP_DEQUANTIZE = 6, OP_LOGISTIC = 14, OP_MUL = 18,
    OP_RELU = 19, OP_RESIZE_BILINEAR = 23, OP_CUSTOM = 32, OP_MEAN = 40,
    OP_HARD_SWISH = 117,
    OP_TCONV_BIAS = 10000 /* pocket's id for custom Convolution2DTransposeBias */
};

enum { /* option table field ids */
    CONV_PAD = 0, CONV_SW = 1, CONV_SH = 2, CONV_ACT = 3, CONV_DW = 4, CONV_DH = 5,
    DW_PAD = 0, DW_SW = 1, DW_SH = 2, DW_MULT = 3, DW_ACT = 4, DW_DW = 5, DW_DH = 6,
    POOL_PAD = 0, POOL_SW = 1, POOL_SH = 2, POOL_FW = 3, POOL_FH = 4, POOL_ACT = 5,
    ADD_ACT = 0, MUL_ACT = 0,
    RSZ_ALIGN = 2, RSZ_HALF = 3,
    RED_KEEP = 0,
};

enum { PAD_SAME = 0, PAD_VALID = 1 };
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };

static const char *builtin_name(int code) {
    switch (code) {
    case OP_ADD: return "ADD";
    case OP_AVERAGE_POOL_2D: return "AVERAGE_POOL_2D";
    case OP_CONV_2D: return "CONV_2D";
    case OP_DEPTHWISE_CONV_2D: return "DEPTHWISE_CONV_2D";
    case OP_DEQUANTIZE: return "DEQUANTIZE";
    case OP_LOGISTIC: return "LOGISTIC";
    case OP_MUL: return "MUL";
    case OP_RELU: return "RELU";
    case OP_RESIZE_BILINEAR: return "RESIZE_BILINEAR";
    case OP_HARD_SWISH: return "HARD_SWISH";
    case OP_MEAN: return "MEAN";
    case OP_TCONV_BIAS: return "Convolution2DTransposeBias";
    default: return NULL;
    }
}

/* ---- model ---- */

#define TFL_MAX_IN 8
#define TFL_MAX_TENSORS 100000
#define TFL_MAX_OPS 100000
#define TFL_MAX_ELEMS ((size_t)1 << 26) /* per tensor: 256 MB of floats */
#define TFL_MAX_ACT ((size_t)1 << 26)   /* all activations together */

typedef struct tfl_tensor {
    int ndim;
    int shape[4];
    size_t n;        /* elements */
    bool is_int;     /* INT32 (shape operands); else float */
    bool is_const;   /* data from a buffer (or a folded DEQUANTIZE) */
    bool has_data;   /* a constant buffer was present */
    float *f;        /* (n,) owned, float tensors */
    int32_t *i32;    /* (n,) owned, int tensors */
    char name[64];
} tfl_tensor;

typedef struct tfl_op {
    int code;
    int n_in;
    int in[TFL_MAX_IN]; /* -1: optional input absent */
    int out;
    int pad, stride_w, stride_h, dil_w, dil_h, act, depth_mult;
    int filter_w, filter_h;
    bool align_corners, half_pixel; /* MEAN: align_corners = keep_dims */
    int reduce;       /* MEAN: bit d set = dim d of the 4-d input reduced */
    int pad_t, pad_l; /* derived at prepare */
    bool folded;      /* computed at load (constant DEQUANTIZE) */
} tfl_op;

struct pk_tfl {
    int n_tensors, n_ops, n_inputs, n_outputs;
    tfl_tensor *tensors; /* (n_tensors,) */
    tfl_op *ops;         /* (n_ops,) execution order */
    int *inputs, *outputs;
    size_t n_act; /* floats allocated for operator outputs */
    double macs;  /* multiply-adds of one invoke (convolutions) */
};

void pk_tfl_free(pk_tfl *m) {
    if (!m) return;
    for (int i = 0; i < m->n_tensors; i++) {
        pk_free_aligned(m->tensors[i].f);
        pk_free(m->tensors[i].i32);
    }
    pk_free(m->tensors);
    pk_free(m->ops);
    pk_free(m->inputs);
    pk_free(m->outputs);
    pk_free(m);
}

static pk_status read_tensor(const fb_buf *b, const fb_table *tt, int idx,
                             size_t buf_start, uint32_t n_buf, tfl_tensor *t,
                             int *ttype) {
    char what[48];
    snprintf(what, sizeof what, "tensor %d", idx);
    size_t sh;
    uint32_t nd, bufi;
    uint8_t type;
    pk_status st;
    if ((st = fb_vec(b, tt, TEN_SHAPE, 4, what, &sh, &nd)) ||
        (st = fb_u8(b, tt, TEN_TYPE, 0, what, &type)) ||
        (st = fb_u32(b, tt, TEN_BUFFER, 0, what, &bufi)) ||
        (st = fb_str(b, tt, TEN_NAME, what, t->name, sizeof t->name)))
        return st;
    if (nd > 4)
        return pk_err(PK_ERR_UNSUPPORTED, "%s (%s): %u dims (at most 4)", what,
                      t->name, nd);
    size_t sparse = 0;
    if ((st = fb_ref(b, tt, TEN_SPARSITY, what, &sparse))) return st;
    if (sparse)
        return pk_err(PK_ERR_UNSUPPORTED, "%s (%s): sparse tensors", what, t->name);
    t->ndim = (int)nd;
    t->n = 1;
    for (uint32_t d = 0; d < nd; d++) {
        int32_t v = (int32_t)rd_u32(b->p + sh + 4 * d);
        if (v < 1 || v > (1 << 24))
            return pk_err(PK_ERR_FORMAT, "%s (%s): dim %u is %d", what, t->name,
                          d, v);
        t->shape[d] = v;
        if (!pk_size_mul(t->n, (size_t)v, &t->n) || t->n > TFL_MAX_ELEMS)
            return pk_err(PK_ERR_RANGE, "%s (%s): too many elements", what,
                          t->name);
    }
    if (type != TT_FLOAT32 && type != TT_FLOAT16 && type != TT_INT32)
        return pk_err(PK_ERR_UNSUPPORTED, "%s (%s): tensor type %u (only "
                      "float32, float16, int32)", what, t->name, type);
    *ttype = type;
    t->is_int = type == TT_INT32;
    if (bufi >= n_buf)
        return pk_err(PK_ERR_FORMAT, "%s (%s): buffer %u of %u", what, t->name,
                      bufi, n_buf);
    fb_table bt;
    if ((st = fb_vec_table(b, buf_start, bufi, "buffer", &bt))) return st;
    size_t dstart;
    uint32_t dlen;
    uint64_t ext_off = 0, ext_size = 0;
    size_t p1, p2;
    if ((st = fb_vec(b, &bt, BUF_DATA, 1, "buffer", &dstart, &dlen)) ||
        (st = fb_field(b, &bt, BUF_OFFSET, 8, "buffer", &p1)) ||
        (st = fb_field(b, &bt, BUF_SIZE, 8, "buffer", &p2)))
        return st;
    if (p1) ext_off = rd_u32(b->p + p1) | (uint64_t)rd_u32(b->p + p1 + 4) << 32;
    if (p2) ext_size = rd_u32(b->p + p2) | (uint64_t)rd_u32(b->p + p2 + 4) << 32;
    const uint8_t *src = NULL;
    size_t src_len = 0;
    if (dlen) {
        src = b->p + dstart;
        src_len = dlen;
    } else if (ext_off > 1 && ext_size) {
        /* buffer stored after the flatbuffer (large models) */
        if (ext_off > b->n || ext_size > b->n - ext_off)
            return pk_err(PK_ERR_FORMAT, "%s (%s): buffer %u at %llu + %llu past "
                          "end of file (%zu)", what, t->name, bufi,
                          (unsigned long long)ext_off,
                          (unsigned long long)ext_size, b->n);
        src = b->p + ext_off;
        src_len = (size_t)ext_size;
    }
    if (!src) return PK_OK;
    size_t esz = type == TT_FLOAT16 ? 2 : 4, need;
    if (!pk_size_mul(t->n, esz, &need) || need != src_len)
        return pk_err(PK_ERR_FORMAT, "%s (%s): buffer %u holds %zu bytes, shape "
                      "needs %zu x %zu", what, t->name, bufi, src_len, t->n, esz);
    t->has_data = t->is_const = true;
    if (t->is_int) {
        t->i32 = pk_malloc(need);
        if (!t->i32) return PK_ERR_NOMEM;
        for (size_t i = 0; i < t->n; i++) t->i32[i] = (int32_t)rd_u32(src + 4 * i);
    } else {
        t->f = pk_malloc_aligned(t->n * sizeof(float), 64);
        if (!t->f) return PK_ERR_NOMEM;
        for (size_t i = 0; i < t->n; i++)
            t->f[i] = esz == 2 ? pk_fp16_to_fp32(rd_u16(src + 2 * i))
                               : pk_fp32_from_bits(rd_u32(src + 4 * i));
    }
    return PK_OK;
}

/* Parse the builtin options of op (table in field OP_OPTIONS). */
static pk_status read_options(const fb_buf *b, const fb_table *ot, int k,
                              tfl_op *op) {
    char what[48];
    snprintf(what, sizeof what, "operator %d options", k);
    fb_table t;
    bool has;
    pk_status st = fb_table_field(b, ot, OP_OPTIONS, what, &t, &has);
    uint8_t pad = 0, act = 0, al = 0, hp = 0;
    int32_t sw = 1, sh = 1, dw = 1, dh = 1, mult = 1, fw = 0, fh = 0;
    if (st) return st;
    if (!has && (op->code == OP_CONV_2D || op->code == OP_DEPTHWISE_CONV_2D ||
                 op->code == OP_AVERAGE_POOL_2D))
        return pk_err(PK_ERR_FORMAT, "operator %d (%s): options missing", k,
                      builtin_name(op->code));
    if (has) {
        switch (op->code) {
        case OP_CONV_2D:
            if ((st = fb_u8(b, &t, CONV_PAD, 0, what, &pad)) ||
                (st = fb_i32(b, &t, CONV_SW, 0, what, &sw)) ||
                (st = fb_i32(b, &t, CONV_SH, 0, what, &sh)) ||
                (st = fb_u8(b, &t, CONV_ACT, 0, what, &act)) ||
                (st = fb_i32(b, &t, CONV_DW, 1, what, &dw)) ||
                (st = fb_i32(b, &t, CONV_DH, 1, what, &dh)))
                return st;
            break;
        case OP_DEPTHWISE_CONV_2D:
            if ((st = fb_u8(b, &t, DW_PAD, 0, what, &pad)) ||
                (st = fb_i32(b, &t, DW_SW, 0, what, &sw)) ||
                (st = fb_i32(b, &t, DW_SH, 0, what, &sh)) ||
                (st = fb_i32(b, &t, DW_MULT, 0, what, &mult)) ||
                (st = fb_u8(b, &t, DW_ACT, 0, what, &act)) ||
                (st = fb_i32(b, &t, DW_DW, 1, what, &dw)) ||
                (st = fb_i32(b, &t, DW_DH, 1, what, &dh)))
                return st;
            break;
        case OP_AVERAGE_POOL_2D:
            if ((st = fb_u8(b, &t, POOL_PAD, 0, what, &pad)) ||
                (st = fb_i32(b, &t, POOL_SW, 0, what, &sw)) ||
                (st = fb_i32(b, &t, POOL_SH, 0, what, &sh)) ||
                (st = fb_i32(b, &t, POOL_FW, 0, what, &fw)) ||
                (st = fb_i32(b, &t, POOL_FH, 0, what, &fh)) ||
                (st = fb_u8(b, &t, POOL_ACT, 0, what, &act)))
                return st;
            break;
        case OP_ADD:
        case OP_MUL:
            if ((st = fb_u8(b, &t, ADD_ACT, 0, what, &act))) return st;
            break;
        case OP_MEAN:
            if ((st = fb_u8(b, &t, RED_KEEP, 0, what, &al))) return st;
            break;
        case OP_RESIZE_BILINEAR:
            if ((st = fb_u8(b, &t, RSZ_ALIGN, 0, what, &al)) ||
                (st = fb_u8(b, &t, RSZ_HALF, 0, what, &hp)))
                return st;
            break;
        default:
            break;
        }
    }
    op->pad = pad;
    op->stride_w = sw;
    op->stride_h = sh;
    op->dil_w = dw;
    op->dil_h = dh;
    op->act = act;
    op->depth_mult = mult;
    op->filter_w = fw;
    op->filter_h = fh;
    op->align_corners = al != 0;
    op->half_pixel = hp != 0;
    return PK_OK;
}

/* Convolution2DTransposeBias keeps its parameters as raw little-endian
 * int32s in custom_options: padding (1 same, 2 valid), stride_w, stride_h. */
static pk_status read_tconv_options(const fb_buf *b, const fb_table *ot, int k,
                                    tfl_op *op) {
    size_t start;
    uint32_t n;
    pk_status st = fb_vec(b, ot, OP_CUSTOM_OPTS, 1, "operator custom options",
                          &start, &n);
    if (st) return st;
    if (n < 12)
        return pk_err(PK_ERR_FORMAT, "operator %d (Convolution2DTransposeBias): "
                      "custom options of %u bytes (need 12)", k, n);
    int32_t pad = (int32_t)rd_u32(b->p + start);
    if (pad != 1 && pad != 2)
        return pk_err(PK_ERR_UNSUPPORTED, "operator %d (Convolution2DTransposeBias)"
                      ": padding %d", k, pad);
    op->pad = pad == 1 ? PAD_SAME : PAD_VALID;
    op->stride_w = (int32_t)rd_u32(b->p + start + 4);
    op->stride_h = (int32_t)rd_u32(b->p + start + 8);
    op->dil_w = op->dil_h = 1;
    op->act = ACT_NONE;
    return PK_OK;
}

static pk_status read_index_vec(const fb_buf *b, const fb_table *t, int id,
                                const char *what, int n_tensors, int max,
                                bool allow_absent, int *out, int *n_out) {
    size_t s;
    uint32_t n;
    pk_status st = fb_vec(b, t, id, 4, what, &s, &n);
    if (st) return st;
    if ((int64_t)n > max)
        return pk_err(PK_ERR_UNSUPPORTED, "%s: %u tensor indices (at most %d)",
                      what, n, max);
    for (uint32_t i = 0; i < n; i++) {
        int32_t v = (int32_t)rd_u32(b->p + s + 4 * i);
        if (v < (allow_absent ? -1 : 0) || v >= n_tensors)
            return pk_err(PK_ERR_FORMAT, "%s: tensor index %d of %d", what, v,
                          n_tensors);
        out[i] = v;
    }
    *n_out = (int)n;
    return PK_OK;
}

/* ---- shape checks (prepare) ---- */

static bool is_nhwc(const tfl_tensor *t) {
    return t->ndim == 4 && t->shape[0] == 1;
}

static pk_status want_float(const pk_tfl *m, int k, int ti, const char *role) {
    if (ti < 0)
        return pk_err(PK_ERR_FORMAT, "operator %d: %s input missing", k, role);
    if (m->tensors[ti].is_int)
        return pk_err(PK_ERR_FORMAT, "operator %d: %s tensor %d is int32", k,
                      role, ti);
    return PK_OK;
}

/* TFLite padding: output size and leading pad of one spatial dim. */
static pk_status conv_dim(int k, int in, int filt, int stride, int dil, int pad,
                          int out, int *pad_before) {
    if (stride < 1 || dil < 1 || filt < 1 || stride > 1024 || dil > 1024 ||
        filt > 4096)
        return pk_err(PK_ERR_FORMAT, "operator %d: stride %d, dilation %d, "
                      "filter %d", k, stride, dil, filt);
    int64_t eff = (int64_t)(filt - 1) * dil + 1;
    int64_t want;
    if (pad == PAD_SAME) want = ((int64_t)in + stride - 1) / stride;
    else if (pad == PAD_VALID) want = in >= eff ? (in - eff) / stride + 1 : 0;
    else return pk_err(PK_ERR_UNSUPPORTED, "operator %d: padding %d", k, pad);
    if (want != out)
        return pk_err(PK_ERR_FORMAT, "operator %d: output dim %d, the "
                      "convolution gives %lld (input %d, filter %d, stride %d)",
                      k, out, (long long)want, in, filt, stride);
    int64_t total = ((int64_t)out - 1) * stride + eff - in;
    if (total > (1 << 26))
        return pk_err(PK_ERR_FORMAT, "operator %d: padding of %lld", k,
                      (long long)total);
    *pad_before = total > 0 ? (int)(total / 2) : 0;
    return PK_OK;
}

static pk_status same_shape(int k, const tfl_tensor *a, const tfl_tensor *o) {
    if (a->ndim != o->ndim || a->n != o->n ||
        memcmp(a->shape, o->shape, sizeof(int) * (size_t)a->ndim))
        return pk_err(PK_ERR_FORMAT, "operator %d: output shape differs from "
                      "input shape", k);
    return PK_OK;
}

static pk_status prepare_op(pk_tfl *m, int k) {
    tfl_op *op = &m->ops[k];
    tfl_tensor *T = m->tensors;
    tfl_tensor *o = &T[op->out];
    pk_status st;
    if (o->is_const)
        return pk_err(PK_ERR_FORMAT, "operator %d: writes constant tensor %d",
                      k, op->out);
    if (o->is_int)
        return pk_err(PK_ERR_UNSUPPORTED, "operator %d: int32 output", k);
    if (op->act > ACT_RELU6)
        return pk_err(PK_ERR_UNSUPPORTED, "operator %d: fused activation %d", k,
                      op->act);
    for (int i = 0; i < op->n_in; i++)
        if (op->in[i] == op->out)
            return pk_err(PK_ERR_FORMAT, "operator %d: reads its own output", k);
    switch (op->code) {
    case OP_CONV_2D:
    case OP_DEPTHWISE_CONV_2D:
    case OP_TCONV_BIAS: {
        if (op->n_in < 2)
            return pk_err(PK_ERR_FORMAT, "operator %d: %d inputs", k, op->n_in);
        if ((st = want_float(m, k, op->in[0], "data")) ||
            (st = want_float(m, k, op->in[1], "filter")))
            return st;
        const tfl_tensor *x = &T[op->in[0]], *w = &T[op->in[1]];
        const tfl_tensor *bias = op->n_in > 2 && op->in[2] >= 0 ? &T[op->in[2]] : NULL;
        if (bias && (st = want_float(m, k, op->in[2], "bias"))) return st;
        if (!is_nhwc(x) || !is_nhwc(o) || w->ndim != 4 || !w->is_const)
            return pk_err(PK_ERR_UNSUPPORTED, "operator %d: needs 1xHxWxC data "
                          "and a constant 4-d filter", k);
        int cin = x->shape[3], cout = o->shape[3];
        int fh = w->shape[1], fw = w->shape[2];
        if (op->code == OP_CONV_2D) {
            if (w->shape[0] != cout || w->shape[3] != cin)
                return pk_err(PK_ERR_FORMAT, "operator %d: filter %dx%dx%dx%d for "
                              "%d -> %d channels", k, w->shape[0], fh, fw,
                              w->shape[3], cin, cout);
        } else if (op->code == OP_DEPTHWISE_CONV_2D) {
            if (w->shape[0] != 1 || w->shape[3] != cout || op->depth_mult < 1 ||
                (int64_t)cin * op->depth_mult != cout)
                return pk_err(PK_ERR_FORMAT, "operator %d: depthwise filter "
                              "%dx%dx%dx%d, multiplier %d for %d -> %d channels",
                              k, w->shape[0], fh, fw, w->shape[3],
                              op->depth_mult, cin, cout);
        } else {
            if (w->shape[0] != cout || w->shape[3] != cin)
                return pk_err(PK_ERR_FORMAT, "operator %d: transposed filter "
                              "%dx%dx%dx%d for %d -> %d channels", k,
                              w->shape[0], fh, fw, w->shape[3], cin, cout);
        }
        if (bias && (int64_t)bias->n != cout)
            return pk_err(PK_ERR_FORMAT, "operator %d: bias of %zu for %d "
                          "channels", k, bias->n, cout);
        m->macs += (double)o->n * fh * fw *
                   (op->code == OP_DEPTHWISE_CONV_2D ? 1 : cin);
        if (op->code == OP_TCONV_BIAS) {
            /* the output plays the role of the input of a convolution */
            if ((st = conv_dim(k, o->shape[1], fh, op->stride_h, 1, op->pad,
                               x->shape[1], &op->pad_t)) ||
                (st = conv_dim(k, o->shape[2], fw, op->stride_w, 1, op->pad,
                               x->shape[2], &op->pad_l)))
                return st;
        } else {
            if ((st = conv_dim(k, x->shape[1], fh, op->stride_h, op->dil_h,
                               op->pad, o->shape[1], &op->pad_t)) ||
                (st = conv_dim(k, x->shape[2], fw, op->stride_w, op->dil_w,
                               op->pad, o->shape[2], &op->pad_l)))
                return st;
        }
        return PK_OK;
    }
    case OP_AVERAGE_POOL_2D: {
        if (op->n_in < 1 || (st = want_float(m, k, op->in[0], "data"))) 
            return op->n_in < 1 ? pk_err(PK_ERR_FORMAT, "operator %d: no input", k) : st;
        const tfl_tensor *x = &T[op->in[0]];
        if (!is_nhwc(x) || !is_nhwc(o) || x->shape[3] != o->shape[3])
            return pk_err(PK_ERR_FORMAT, "operator %d: pool shapes", k);
        if ((st = conv_dim(k, x->shape[1], op->filter_h, op->stride_h, 1,
                           op->pad, o->shape[1], &op->pad_t)) ||
            (st = conv_dim(k, x->shape[2], op->filter_w, op->stride_w, 1,
                           op->pad, o->shape[2], &op->pad_l)))
            return st;
        return PK_OK;
    }
    case OP_ADD:
    case OP_MUL: {
        if (op->n_in != 2)
            return pk_err(PK_ERR_FORMAT, "operator %d: %d inputs", k, op->n_in);
        if ((st = want_float(m, k, op->in[0], "a")) ||
            (st = want_float(m, k, op->in[1], "b")))
            return st;
        const tfl_tensor *a = &T[op->in[0]], *b = &T[op->in[1]];
        if (o->ndim > 4) return pk_err(PK_ERR_FORMAT, "operator %d: rank", k);
        /* broadcast: align right; each dim equal to the output's or 1 */
        for (int d = 0; d < o->ndim; d++) {
            int od = o->shape[o->ndim - 1 - d];
            int ad = d < a->ndim ? a->shape[a->ndim - 1 - d] : 1;
            int bd = d < b->ndim ? b->shape[b->ndim - 1 - d] : 1;
            if ((ad != od && ad != 1) || (bd != od && bd != 1) ||
                (ad != od && bd != od))
                return pk_err(PK_ERR_FORMAT, "operator %d: cannot broadcast "
                              "dim %d (%d, %d -> %d)", k, d, ad, bd, od);
        }
        if (a->ndim > o->ndim || b->ndim > o->ndim)
            return pk_err(PK_ERR_FORMAT, "operator %d: input rank above output",
                          k);
        return PK_OK;
    }
    case OP_LOGISTIC:
    case OP_RELU:
    case OP_HARD_SWISH:
    case OP_DEQUANTIZE:
        if (op->n_in != 1)
            return pk_err(PK_ERR_FORMAT, "operator %d: %d inputs", k, op->n_in);
        if ((st = want_float(m, k, op->in[0], "data"))) return st;
        return same_shape(k, &T[op->in[0]], o);
    case OP_RESIZE_BILINEAR: {
        if (op->n_in < 1 || (st = want_float(m, k, op->in[0], "data")))
            return op->n_in < 1 ? pk_err(PK_ERR_FORMAT, "operator %d: no input", k) : st;
        const tfl_tensor *x = &T[op->in[0]];
        if (!is_nhwc(x) || !is_nhwc(o) || x->shape[3] != o->shape[3])
            return pk_err(PK_ERR_FORMAT, "operator %d: resize shapes", k);
        if (op->n_in > 1 && op->in[1] >= 0) {
            const tfl_tensor *sz = &T[op->in[1]];
            if (!sz->is_int || sz->n != 2 || !sz->has_data ||
                sz->i32[0] != o->shape[1] || sz->i32[1] != o->shape[2])
                return pk_err(PK_ERR_FORMAT, "operator %d: size operand does "
                              "not match output %dx%d", k, o->shape[1],
                              o->shape[2]);
        }
        return PK_OK;
    }
    case OP_MEAN: {
        if (op->n_in != 2)
            return pk_err(PK_ERR_FORMAT, "operator %d: %d inputs", k, op->n_in);
        if ((st = want_float(m, k, op->in[0], "data"))) return st;
        const tfl_tensor *x = &T[op->in[0]], *ax = &T[op->in[1]];
        if (x->ndim != 4 || !ax->is_int || !ax->has_data || ax->n > 4)
            return pk_err(PK_ERR_UNSUPPORTED, "operator %d: mean needs a 4-d "
                          "input and constant int32 axes", k);
        op->reduce = 0;
        size_t n_keep = 1;
        for (size_t i = 0; i < ax->n; i++) {
            int a = ax->i32[i] < 0 ? ax->i32[i] + 4 : ax->i32[i];
            if (a < 0 || a > 3)
                return pk_err(PK_ERR_FORMAT, "operator %d: axis %d", k, ax->i32[i]);
            op->reduce |= 1 << a;
        }
        int nk = 0;
        for (int d = 0; d < 4; d++)
            if (!(op->reduce >> d & 1)) {
                n_keep *= (size_t)x->shape[d];
                nk++;
            }
        int want_nd = op->align_corners ? 4 : nk;
        if (o->n != n_keep || o->ndim != want_nd)
            return pk_err(PK_ERR_FORMAT, "operator %d: mean output of %zu "
                          "elements in %d dims, expected %zu in %d", k, o->n,
                          o->ndim, n_keep, want_nd);
        return PK_OK;
    }
    default:
        return pk_err(PK_ERR_UNSUPPORTED, "operator %d: code %d", k, op->code);
    }
}

/* ---- load ---- */

pk_status pk_tfl_load(const uint8_t *data, size_t size, pk_tfl **out) {
    fb_buf b = { data, size };
    pk_tfl *m = NULL;
    int *codes = NULL;
    char (*cnames)[40] = NULL;
    pk_status st;
    *out = NULL;
    if (!data || size < 8)
        return pk_err(PK_ERR_FORMAT, "tflite: file of %zu bytes is too short", size);
    if (memcmp(data + 4, "TFL3", 4) != 0)
        return pk_err(PK_ERR_FORMAT, "tflite: no TFL3 identifier at byte 4");
    fb_table mt, sg;
    if ((st = fb_table_at(&b, rd_u32(data), "model", &mt))) goto fail;

    size_t oc_start, sg_start, buf_start;
    uint32_t n_oc, n_sg, n_buf;
    if ((st = fb_vec(&b, &mt, MODEL_OPCODES, 4, "model", &oc_start, &n_oc)) ||
        (st = fb_vec(&b, &mt, MODEL_SUBGRAPHS, 4, "model", &sg_start, &n_sg)) ||
        (st = fb_vec(&b, &mt, MODEL_BUFFERS, 4, "model", &buf_start, &n_buf)))
        goto fail;
    if (n_sg < 1) {
        st = pk_err(PK_ERR_FORMAT, "tflite: no subgraph");
        goto fail;
    }
    codes = pk_calloc(n_oc ? n_oc : 1, sizeof *codes);
    cnames = pk_calloc(n_oc ? n_oc : 1, sizeof *cnames);
    if (!codes || !cnames) { st = PK_ERR_NOMEM; goto fail; }
    for (uint32_t i = 0; i < n_oc; i++) {
        fb_table ct;
        uint8_t dep;
        int32_t code;
        if ((st = fb_vec_table(&b, oc_start, i, "operator_code", &ct)) ||
            (st = fb_u8(&b, &ct, OPC_DEPRECATED_CODE, 0, "operator_code", &dep)) ||
            (st = fb_i32(&b, &ct, OPC_CODE, 0, "operator_code", &code)) ||
            (st = fb_str(&b, &ct, OPC_CUSTOM, "operator_code", cnames[i],
                         sizeof cnames[i])))
            goto fail;
        codes[i] = PK_MAX((int)dep, code);
        if (codes[i] == OP_CUSTOM) {
            if (strcmp(cnames[i], "Convolution2DTransposeBias") != 0) {
                st = pk_err(PK_ERR_UNSUPPORTED, "tflite: custom operator '%s'",
                            cnames[i]);
                goto fail;
            }
            codes[i] = OP_TCONV_BIAS;
        }
    }

    if ((st = fb_vec_table(&b, sg_start, 0, "subgraph", &sg))) goto fail;
    size_t ten_start, op_start;
    uint32_t n_ten, n_op;
    if ((st = fb_vec(&b, &sg, SG_TENSORS, 4, "subgraph", &ten_start, &n_ten)) ||
        (st = fb_vec(&b, &sg, SG_OPERATORS, 4, "subgraph", &op_start, &n_op)))
        goto fail;
    if (n_ten > TFL_MAX_TENSORS || n_op > TFL_MAX_OPS) {
        st = pk_err(PK_ERR_RANGE, "tflite: %u tensors, %u operators", n_ten, n_op);
        goto fail;
    }
    m = pk_calloc(1, sizeof *m);
    if (!m) { st = PK_ERR_NOMEM; goto fail; }
    m->tensors = pk_calloc(n_ten ? n_ten : 1, sizeof *m->tensors);
    m->ops = pk_calloc(n_op ? n_op : 1, sizeof *m->ops);
    m->inputs = pk_calloc(4, sizeof(int));
    m->outputs = pk_calloc(4, sizeof(int));
    if (!m->tensors || !m->ops || !m->inputs || !m->outputs) {
        st = PK_ERR_NOMEM;
        goto fail;
    }
    m->n_tensors = (int)n_ten;
    for (uint32_t i = 0; i < n_ten; i++) {
        fb_table tt;
        int ttype = 0;
        if ((st = fb_vec_table(&b, ten_start, i, "tensor", &tt)) ||
            (st = read_tensor(&b, &tt, (int)i, buf_start, n_buf,
                              &m->tensors[i], &ttype)))
            goto fail;
        if (ttype == TT_FLOAT16 && !m->tensors[i].is_const) {
            st = pk_err(PK_ERR_UNSUPPORTED, "tensor %u (%s): float16 activations",
                        i, m->tensors[i].name);
            goto fail;
        }
    }
    if ((st = read_index_vec(&b, &sg, SG_INPUTS, "subgraph inputs", m->n_tensors,
                             4, false, m->inputs, &m->n_inputs)) ||
        (st = read_index_vec(&b, &sg, SG_OUTPUTS, "subgraph outputs",
                             m->n_tensors, 4, false, m->outputs, &m->n_outputs)))
        goto fail;
    if (m->n_inputs < 1 || m->n_outputs < 1) {
        st = pk_err(PK_ERR_FORMAT, "tflite: %d inputs, %d outputs", m->n_inputs,
                    m->n_outputs);
        goto fail;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        tfl_tensor *t = &m->tensors[m->inputs[i]];
        if (t->is_const || t->is_int) {
            st = pk_err(PK_ERR_UNSUPPORTED, "tflite: input %d is not a float "
                        "activation", i);
            goto fail;
        }
    }

    m->n_ops = (int)n_op;
    for (uint32_t k = 0; k < n_op; k++) {
        fb_table ot;
        tfl_op *op = &m->ops[k];
        uint32_t oci;
        int outs[2], n_outs;
        char what[40];
        snprintf(what, sizeof what, "operator %u", k);
        if ((st = fb_vec_table(&b, op_start, k, "operator", &ot)) ||
            (st = fb_u32(&b, &ot, OP_OPCODE, 0, what, &oci)))
            goto fail;
        if (oci >= n_oc) {
            st = pk_err(PK_ERR_FORMAT, "%s: opcode index %u of %u", what, oci, n_oc);
            goto fail;
        }
        op->code = codes[oci];
        if (!builtin_name(op->code)) {
            st = pk_err(PK_ERR_UNSUPPORTED, "%s: builtin operator %d", what,
                        op->code);
            goto fail;
        }
        if ((st = read_index_vec(&b, &ot, OP_INPUTS, what, m->n_tensors,
                                 TFL_MAX_IN, true, op->in, &op->n_in)) ||
            (st = read_index_vec(&b, &ot, OP_OUTPUTS, what, m->n_tensors, 2,
                                 false, outs, &n_outs)))
            goto fail;
        if (n_outs != 1) {
            st = pk_err(PK_ERR_FORMAT, "%s: %d outputs", what, n_outs);
            goto fail;
        }
        op->out = outs[0];
        st = op->code == OP_TCONV_BIAS ? read_tconv_options(&b, &ot, (int)k, op)
                                       : read_options(&b, &ot, (int)k, op);
        if (st || (st = prepare_op(m, (int)k))) goto fail;
        /* the output now holds data: it must not be written twice */
        tfl_tensor *o = &m->tensors[op->out];
        if (o->f || o->i32) {
            st = pk_err(PK_ERR_FORMAT, "%s: output tensor %d written twice", what,
                        op->out);
            goto fail;
        }
        if (!pk_size_add(m->n_act, o->n, &m->n_act) || m->n_act > TFL_MAX_ACT) {
            st = pk_err(PK_ERR_RANGE, "%s: activations above %zu floats", what,
                        TFL_MAX_ACT);
            goto fail;
        }
        bool const_in = op->code == OP_DEQUANTIZE && m->tensors[op->in[0]].is_const;
        o->f = pk_malloc_aligned(o->n * sizeof(float), 64);
        if (!o->f) { st = PK_ERR_NOMEM; goto fail; }
        if (const_in) { /* fold: fp16 weights were expanded at read */
            memcpy(o->f, m->tensors[op->in[0]].f, o->n * sizeof(float));
            o->is_const = true;
            op->folded = true;
        }
    }
    /* every tensor an operator reads must have data by then: inputs,
     * constants or outputs of earlier operators (checked in order) */
    {
        bool *ready = pk_calloc(m->n_tensors ? (size_t)m->n_tensors : 1, 1);
        if (!ready) { st = PK_ERR_NOMEM; goto fail; }
        for (int i = 0; i < m->n_tensors; i++) ready[i] = m->tensors[i].has_data;
        for (int i = 0; i < m->n_inputs; i++) {
            tfl_tensor *t = &m->tensors[m->inputs[i]];
            ready[m->inputs[i]] = true;
            if (!t->f) t->f = pk_malloc_aligned(t->n * sizeof(float), 64);
            if (!t->f) { pk_free(ready); st = PK_ERR_NOMEM; goto fail; }
        }
        for (int k = 0; k < m->n_ops && !st; k++) {
            for (int i = 0; i < m->ops[k].n_in; i++) {
                int ti = m->ops[k].in[i];
                if (ti >= 0 && !ready[ti])
                    st = pk_err(PK_ERR_FORMAT, "operator %d reads tensor %d (%s) "
                                "before anything writes it", k, ti,
                                m->tensors[ti].name);
            }
            ready[m->ops[k].out] = true;
        }
        for (int i = 0; i < m->n_outputs && !st; i++)
            if (!ready[m->outputs[i]] || m->tensors[m->outputs[i]].is_int)
                st = pk_err(PK_ERR_FORMAT, "output tensor %d is never computed",
                            m->outputs[i]);
        pk_free(ready);
        if (st) goto fail;
    }
    pk_free(codes);
    pk_free(cnames);
    *out = m;
    return PK_OK;
fail:
    pk_free(codes);
    pk_free(cnames);
    pk_tfl_free(m);
    return st;
}

pk_status pk_tfl_open(const char *path, pk_tfl **m) {
    pk_map map;
    *m = NULL;
    pk_status st = pk_map_open(path, true, &map);
    if (st) return st;
    st = pk_tfl_load(map.data, map.size, m);
    if (st) pk_err_prefix("%s", path);
    pk_map_close(&map);
    return st;
}

/* ---- accessors ---- */

int pk_tfl_n_inputs(const pk_tfl *m) { return m->n_inputs; }
int pk_tfl_n_outputs(const pk_tfl *m) { return m->n_outputs; }

static int shape_of(const tfl_tensor *t, int shape[4]) {
    for (int d = 0; d < 4; d++) shape[d] = d < t->ndim ? t->shape[d] : 0;
    return t->ndim;
}
int pk_tfl_input_shape(const pk_tfl *m, int i, int shape[4]) {
    if (i < 0 || i >= m->n_inputs) return 0;
    return shape_of(&m->tensors[m->inputs[i]], shape);
}
int pk_tfl_output_shape(const pk_tfl *m, int i, int shape[4]) {
    if (i < 0 || i >= m->n_outputs) return 0;
    return shape_of(&m->tensors[m->outputs[i]], shape);
}
float *pk_tfl_input(pk_tfl *m, int i) {
    return i >= 0 && i < m->n_inputs ? m->tensors[m->inputs[i]].f : NULL;
}
const float *pk_tfl_output(const pk_tfl *m, int i) {
    return i >= 0 && i < m->n_outputs ? m->tensors[m->outputs[i]].f : NULL;
}
int pk_tfl_n_ops(const pk_tfl *m) { return m->n_ops; }
double pk_tfl_macs(const pk_tfl *m) { return m->macs; }
const char *pk_tfl_op_name(const pk_tfl *m, int i) {
    if (i < 0 || i >= m->n_ops) return "";
    return builtin_name(m->ops[i].code);
}

/* ---- kernels ---- */

static float act_apply(int act, float v) {
    switch (act) {
    case ACT_RELU: return v > 0.0f ? v : 0.0f;
    case ACT_RELU6: return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
    case ACT_RELU_N1_TO_1: return v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
    default: return v;
    }
}

typedef struct conv_task {
    const pk_tfl *m;
    const tfl_op *op;
} conv_task;

/* Output rows [y0, y1) of a split of h rows into nth parts. */
static void row_split(int h, int ith, int nth, int *y0, int *y1) {
    *y0 = (int)((int64_t)h * ith / nth);
    *y1 = (int)((int64_t)h * (ith + 1) / nth);
}

/* CONV_2D: x (1,H,W,Ci), w (Co,KH,KW,Ci), b (Co) -> y (1,OH,OW,Co):
 * y[oy,ox,o] = b[o] + sum_{ky,kx,i} x[oy*sh-pt+ky*dh, ox*sw-pl+kx*dw, i] w[o,ky,kx,i]
 * (out-of-range taps are zero padding). */
static void conv2d_task(void *arg, int ith, int nth) {
    const conv_task *ct = arg;
    const tfl_op *op = ct->op;
    const tfl_tensor *T = ct->m->tensors;
    const tfl_tensor *xt = &T[op->in[0]], *wt = &T[op->in[1]], *yt = &T[op->out];
    const float *x = xt->f, *w = wt->f;
    const float *b = op->n_in > 2 && op->in[2] >= 0 ? T[op->in[2]].f : NULL;
    float *y = yt->f;
    int H = xt->shape[1], W = xt->shape[2], Ci = xt->shape[3];
    int OW = yt->shape[2], Co = yt->shape[3];
    int KH = wt->shape[1], KW = wt->shape[2];
    int y0, y1;
    row_split(yt->shape[1], ith, nth, &y0, &y1);
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < OW; ox++) {
            float *yo = y + ((size_t)oy * OW + ox) * Co;
            for (int o = 0; o < Co; o++) yo[o] = b ? b[o] : 0.0f;
            for (int ky = 0; ky < KH; ky++) {
                int iy = oy * op->stride_h - op->pad_t + ky * op->dil_h;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < KW; kx++) {
                    int ix = ox * op->stride_w - op->pad_l + kx * op->dil_w;
                    if (ix < 0 || ix >= W) continue;
                    const float *xi = x + ((size_t)iy * W + ix) * Ci;
                    for (int o = 0; o < Co; o++) {
                        const float *wo = w + (((size_t)o * KH + ky) * KW + kx) * Ci;
                        float s = 0.0f;
                        for (int i = 0; i < Ci; i++) s += xi[i] * wo[i];
                        yo[o] += s;
                    }
                }
            }
            for (int o = 0; o < Co; o++) yo[o] = act_apply(op->act, yo[o]);
        }
}

/* DEPTHWISE_CONV_2D: x (1,H,W,Ci), w (1,KH,KW,Co), Co = Ci*mult:
 * y[oy,ox,c*mult+j] = b + sum_{ky,kx} x[.., .., c] w[ky,kx,c*mult+j]. */
static void dwconv_task(void *arg, int ith, int nth) {
    const conv_task *ct = arg;
    const tfl_op *op = ct->op;
    const tfl_tensor *T = ct->m->tensors;
    const tfl_tensor *xt = &T[op->in[0]], *wt = &T[op->in[1]], *yt = &T[op->out];
    const float *x = xt->f, *w = wt->f;
    const float *b = op->n_in > 2 && op->in[2] >= 0 ? T[op->in[2]].f : NULL;
    float *y = yt->f;
    int H = xt->shape[1], W = xt->shape[2], Ci = xt->shape[3];
    int OW = yt->shape[2], Co = yt->shape[3], mult = op->depth_mult;
    int KH = wt->shape[1], KW = wt->shape[2];
    int y0, y1;
    row_split(yt->shape[1], ith, nth, &y0, &y1);
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < OW; ox++) {
            float *yo = y + ((size_t)oy * OW + ox) * Co;
            for (int o = 0; o < Co; o++) yo[o] = b ? b[o] : 0.0f;
            for (int ky = 0; ky < KH; ky++) {
                int iy = oy * op->stride_h - op->pad_t + ky * op->dil_h;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < KW; kx++) {
                    int ix = ox * op->stride_w - op->pad_l + kx * op->dil_w;
                    if (ix < 0 || ix >= W) continue;
                    const float *xi = x + ((size_t)iy * W + ix) * Ci;
                    const float *wk = w + ((size_t)ky * KW + kx) * Co;
                    for (int c = 0; c < Ci; c++)
                        for (int j = 0; j < mult; j++)
                            yo[c * mult + j] += xi[c] * wk[c * mult + j];
                }
            }
            for (int o = 0; o < Co; o++) yo[o] = act_apply(op->act, yo[o]);
        }
}

/* Convolution2DTransposeBias: x (1,H,W,Ci), w (Co,KH,KW,Ci) -> y (1,OH,OW,Co):
 * every input pixel scatters x[iy,ix,:] . w[o,ky,kx,:] to
 * y[iy*sh-pt+ky, ix*sw-pl+kx, o]; written as a gather over output rows so
 * that threads own disjoint rows. */
static void tconv_task(void *arg, int ith, int nth) {
    const conv_task *ct = arg;
    const tfl_op *op = ct->op;
    const tfl_tensor *T = ct->m->tensors;
    const tfl_tensor *xt = &T[op->in[0]], *wt = &T[op->in[1]], *yt = &T[op->out];
    const float *x = xt->f, *w = wt->f;
    const float *b = op->n_in > 2 && op->in[2] >= 0 ? T[op->in[2]].f : NULL;
    float *y = yt->f;
    int H = xt->shape[1], W = xt->shape[2], Ci = xt->shape[3];
    int OW = yt->shape[2], Co = yt->shape[3];
    int KH = wt->shape[1], KW = wt->shape[2];
    int sh = op->stride_h, sw = op->stride_w;
    int y0, y1;
    row_split(yt->shape[1], ith, nth, &y0, &y1);
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < OW; ox++) {
            float *yo = y + ((size_t)oy * OW + ox) * Co;
            for (int o = 0; o < Co; o++) yo[o] = 0.0f;
            for (int ky = 0; ky < KH; ky++) {
                int ty = oy + op->pad_t - ky; /* = iy * sh */
                if (ty < 0 || ty % sh) continue;
                int iy = ty / sh;
                if (iy >= H) continue;
                for (int kx = 0; kx < KW; kx++) {
                    int tx = ox + op->pad_l - kx;
                    if (tx < 0 || tx % sw) continue;
                    int ix = tx / sw;
                    if (ix >= W) continue;
                    const float *xi = x + ((size_t)iy * W + ix) * Ci;
                    for (int o = 0; o < Co; o++) {
                        const float *wo = w + (((size_t)o * KH + ky) * KW + kx) * Ci;
                        float s = 0.0f;
                        for (int i = 0; i < Ci; i++) s += xi[i] * wo[i];
                        yo[o] += s;
                    }
                }
            }
            if (b)
                for (int o = 0; o < Co; o++) yo[o] += b[o];
        }
}

/* AVERAGE_POOL_2D: mean of the taps inside the image (padding not
 * counted, as TFLite does). */
static void avg_pool2d(const pk_tfl *m, const tfl_op *op) {
    const tfl_tensor *xt = &m->tensors[op->in[0]], *yt = &m->tensors[op->out];
    int H = xt->shape[1], W = xt->shape[2], C = xt->shape[3];
    int OH = yt->shape[1], OW = yt->shape[2];
    for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++) {
            int ys = oy * op->stride_h - op->pad_t, xs = ox * op->stride_w - op->pad_l;
            int ya = PK_MAX(ys, 0), yb = PK_MIN(ys + op->filter_h, H);
            int xa = PK_MAX(xs, 0), xb = PK_MIN(xs + op->filter_w, W);
            float *yo = yt->f + ((size_t)oy * OW + ox) * C;
            for (int c = 0; c < C; c++) {
                float acc = 0.0f;
                int cnt = 0;
                for (int iy = ya; iy < yb; iy++)
                    for (int ix = xa; ix < xb; ix++) {
                        acc += xt->f[((size_t)iy * W + ix) * C + c];
                        cnt++;
                    }
                yo[c] = act_apply(op->act, cnt ? acc / (float)cnt : 0.0f);
            }
        }
}

/* ADD / MUL with numpy broadcasting over up to 4 dims. */
static void binary(const pk_tfl *m, const tfl_op *op) {
    const tfl_tensor *at = &m->tensors[op->in[0]], *bt = &m->tensors[op->in[1]];
    const tfl_tensor *yt = &m->tensors[op->out];
    int od[4] = { 1, 1, 1, 1 };
    size_t as[4] = { 0 }, bs[4] = { 0 };
    size_t sa = 1, sb = 1;
    for (int d = 3; d >= 0; d--) {
        int k = d - (4 - yt->ndim); /* dim index in output */
        od[d] = k >= 0 ? yt->shape[k] : 1;
        int ka = d - (4 - at->ndim), kb = d - (4 - bt->ndim);
        int ad = ka >= 0 ? at->shape[ka] : 1, bd = kb >= 0 ? bt->shape[kb] : 1;
        as[d] = ad == 1 ? 0 : sa;
        bs[d] = bd == 1 ? 0 : sb;
        sa *= (size_t)ad;
        sb *= (size_t)bd;
    }
    bool mul = op->code == OP_MUL;
    float *y = yt->f;
    for (int i0 = 0; i0 < od[0]; i0++)
        for (int i1 = 0; i1 < od[1]; i1++)
            for (int i2 = 0; i2 < od[2]; i2++) {
                size_t ab = i0 * as[0] + i1 * as[1] + i2 * as[2];
                size_t bb = i0 * bs[0] + i1 * bs[1] + i2 * bs[2];
                for (int i3 = 0; i3 < od[3]; i3++) {
                    float a = at->f[ab + i3 * as[3]], b = bt->f[bb + i3 * bs[3]];
                    *y++ = act_apply(op->act, mul ? a * b : a + b);
                }
            }
}

static void unary(const pk_tfl *m, const tfl_op *op) {
    const float *x = m->tensors[op->in[0]].f;
    float *y = m->tensors[op->out].f;
    size_t n = m->tensors[op->out].n;
    switch (op->code) {
    case OP_LOGISTIC:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case OP_RELU:
        for (size_t i = 0; i < n; i++) y[i] = act_apply(ACT_RELU, x[i]);
        break;
    case OP_HARD_SWISH: /* x * relu6(x + 3) / 6 */
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * act_apply(ACT_RELU6, x[i] + 3.0f) * (1.0f / 6.0f);
        break;
    default: /* DEQUANTIZE of a float activation: a copy */
        memcpy(y, x, n * sizeof(float));
        break;
    }
}

/* RESIZE_BILINEAR as TFLite defines it: source coordinate
 * (o + 0.5) * scale - 0.5 with half_pixel_centers, o * scale otherwise;
 * scale = in/out, or (in-1)/(out-1) with align_corners; taps clamped. */
static void resize_coord(int o, int in, int out, bool align, bool half,
                         int *i0, int *i1, float *f) {
    float scale = align && out > 1 ? (float)(in - 1) / (float)(out - 1)
                                   : (float)in / (float)out;
    float v = half ? ((float)o + 0.5f) * scale - 0.5f : (float)o * scale;
    float fl = floorf(v);
    int lo = (int)fl, hi = (int)ceilf(v);
    *i0 = lo < 0 ? 0 : lo;
    *i1 = hi > in - 1 ? in - 1 : hi;
    if (*i0 > in - 1) *i0 = in - 1;
    *f = v - (float)*i0;
}

static void resize_bilinear(const pk_tfl *m, const tfl_op *op) {
    const tfl_tensor *xt = &m->tensors[op->in[0]], *yt = &m->tensors[op->out];
    int H = xt->shape[1], W = xt->shape[2], C = xt->shape[3];
    int OH = yt->shape[1], OW = yt->shape[2];
    float *y = yt->f;
    for (int oy = 0; oy < OH; oy++) {
        int y0, y1;
        float fy;
        resize_coord(oy, H, OH, op->align_corners, op->half_pixel, &y0, &y1, &fy);
        for (int ox = 0; ox < OW; ox++) {
            int x0, x1;
            float fx;
            resize_coord(ox, W, OW, op->align_corners, op->half_pixel, &x0, &x1, &fx);
            const float *p00 = xt->f + ((size_t)y0 * W + x0) * C;
            const float *p01 = xt->f + ((size_t)y0 * W + x1) * C;
            const float *p10 = xt->f + ((size_t)y1 * W + x0) * C;
            const float *p11 = xt->f + ((size_t)y1 * W + x1) * C;
            for (int c = 0; c < C; c++)
                *y++ = p00[c] * (1 - fy) * (1 - fx) + p01[c] * (1 - fy) * fx +
                       p10[c] * fy * (1 - fx) + p11[c] * fy * fx;
        }
    }
}

/* MEAN over the dims in op->reduce of a 4-d input; the kept dims stay in
 * order, so the output is contiguous either way (keep_dims or not). */
static void mean(const pk_tfl *m, const tfl_op *op) {
    const tfl_tensor *xt = &m->tensors[op->in[0]], *yt = &m->tensors[op->out];
    const int *s = xt->shape;
    size_t str[4] = { (size_t)s[1] * s[2] * s[3], (size_t)s[2] * s[3],
                      (size_t)s[3], 1 };
    int lim[4];
    size_t cnt = 1;
    for (int d = 0; d < 4; d++) {
        lim[d] = op->reduce >> d & 1 ? 1 : s[d];
        if (op->reduce >> d & 1) cnt *= (size_t)s[d];
    }
    float *y = yt->f;
    for (int a = 0; a < lim[0]; a++)
        for (int b = 0; b < lim[1]; b++)
            for (int c = 0; c < lim[2]; c++)
                for (int d = 0; d < lim[3]; d++) {
                    size_t base = a * str[0] + b * str[1] + c * str[2] + d;
                    int rl[4];
                    for (int e = 0; e < 4; e++)
                        rl[e] = op->reduce >> e & 1 ? s[e] : 1;
                    float acc = 0.0f;
                    for (int i = 0; i < rl[0]; i++)
                        for (int j = 0; j < rl[1]; j++)
                            for (int q = 0; q < rl[2]; q++)
                                for (int r = 0; r < rl[3]; r++)
                                    acc += xt->f[base + i * str[0] + j * str[1] +
                                                 q * str[2] + r];
                    *y++ = acc / (float)cnt;
                }
}

pk_status pk_tfl_invoke(pk_tfl *m, pk_pool *pool) {
    for (int k = 0; k < m->n_ops; k++) {
        const tfl_op *op = &m->ops[k];
        conv_task ct = { m, op };
        if (op->folded) continue;
        switch (op->code) {
        case OP_CONV_2D: pk_pool_run(pool, conv2d_task, &ct); break;
        case OP_DEPTHWISE_CONV_2D: pk_pool_run(pool, dwconv_task, &ct); break;
        case OP_TCONV_BIAS: pk_pool_run(pool, tconv_task, &ct); break;
        case OP_AVERAGE_POOL_2D: avg_pool2d(m, op); break;
        case OP_ADD:
        case OP_MUL: binary(m, op); break;
        case OP_RESIZE_BILINEAR: resize_bilinear(m, op); break;
        case OP_MEAN: mean(m, op); break;
        default: unary(m, op); break;
        }
    }
    return PK_OK;
}
