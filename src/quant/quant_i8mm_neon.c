/* quant_i8mm_neon.c: prefill GEMM kernels with the int8 matrix-multiply
 * extension (FEAT_I8MM; SMMLA adds the product of a 2x8 and an 8x2 int8
 * matrix into a 2x2 int32 tile in one instruction): q4_0, q8_0 and iq4_nl
 * weights against q8_0 activations, q4_K, q5_K, q6_K and iq4_xs against q8_K.
 * CMake compiles this file alone with -march=armv8.2-a+i8mm+dotprod;
 * quant_simd.c installs it only when the kernel reports HWCAP2_I8MM (and
 * the dot-product extension). It also compiles quant_neon.inc once more
 * (SDOT), whose block decoders it uses; its table replaces the dotprod one.
 *
 * For each group of 4 weight rows the kernel decodes every block once into
 * int8 and interleaves the rows by pairs: register q of a pair holds values
 * 8q..8q+7 of the pair's first row, then those of its second (SMMLA's 2x8
 * operand). These and the rows' scales stay in a stack cache while the
 * call's tokens stream past, 4 at a time, interleaved by pairs the same way
 * on the fly; a tile keeps 2 x 2 accumulators of [r0 t0, r0 t1, r1 t0,
 * r1 t1]. The k-quants sum their groups' int32 tiles times the groups'
 * integer scales per super-block, and q4_K / q5_K subtract dmin * (mins .
 * the activations' group sums) per super-block. Rows left over (nr % 4),
 * rows longer than the cache and single tokens go through the vec_dot
 * kernels; an odd last token is paired with itself and its copy dropped.
 * The integer parts are exact, so results equal vec_dot per row and token
 * up to float summation order (tests/test_gemm.c). Speed: unmeasured (no
 * Arm hardware here). */
#include "quant/quant_int.h"

#include <arm_neon.h>

#if !defined(__ARM_FEATURE_MATMUL_INT8) || !defined(__ARM_FEATURE_DOTPROD)
#error "quant_i8mm_neon.c needs -march=armv8.2-a+i8mm+dotprod (see CMakeLists.txt)"
#endif

#define NEON_DOT16(acc, a, b) vdotq_s32(acc, a, b)
#define NEON_NAME(f) f##_i8mm
#include "quant/quant_neon.inc"

enum { NQ_MAX = 2048 }; /* 8-value quarters per row the cache holds (n <= 16384) */

typedef enum { K_Q4_0, K_Q8_0, K_IQ4_NL, K_Q4_K, K_Q5_K, K_Q6_K, K_IQ4_XS } kind;

/* One 4-row group. w: per quarter and row pair, [row 2p values 8q..8q+7 |
 * row 2p+1 the same]. The scales per row pair in a tile's lane order (row
 * 2p, 2p, 2p+1, 2p+1): d per block of 32 (q4_0, q8_0, iq4_nl) or per
 * super-block (the rest, which add the integer scale of each group, 8 or 16
 * per super-block; q4_K and q5_K dmin and mn, the 8 mins of each row of the
 * pair). */
typedef struct cache {
    int8x16_t w[NQ_MAX][2];
    float32x4_t d[NQ_MAX / 4][2];
    float32x4_t dmin[NQ_MAX / 32][2];
    int32x4_t sc[NQ_MAX / 2][2];
    int16x8_t mn[NQ_MAX / 32][2][2];
} cache;

/* the table the kernels were installed in: its vec_dot kernels take the
 * row tails */
static const pk_qtraits *table;

/* [a's low 8 bytes | b's low 8], [a's high 8 | b's high 8] */
static inline int8x16_t zip_lo(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
static inline int8x16_t zip_hi(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

static inline float32x4_t pair_lanes(float a, float b) {
    const float v[4] = { a, a, b, b };
    return vld1q_f32(v);
}

static inline bool is_k(kind kd) { return kd >= K_Q4_K; }
static inline int k_groups(kind kd) { return kd == K_Q6_K ? 16 : 8; }
static inline bool k_mins(kind kd) { return kd == K_Q4_K || kd == K_Q5_K; }

/* values 16i..16i+15 of a block (2 registers) or super-block (16) of a row,
 * with its scales */
static inline __attribute__((always_inline)) void decode(kind kd, const uint8_t *row, int k, kblock_i8mm *p) {
    switch (kd) {
    case K_Q4_0:
    case K_IQ4_NL: { /* the same block layout */
        const pk_block_q4_0 *b = (const pk_block_q4_0 *)(const void *)row + k;
        w32_i8mm v = kd == K_Q4_0 ? w_q4_0_i8mm(b) : w_iq4_nl_i8mm((const pk_block_iq4_nl *)(const void *)b);
        p->w[0] = v.lo, p->w[1] = v.hi;
        p->d = h2f(b->d);
        break;
    }
    case K_Q8_0: {
        const pk_block_q8_0 *b = (const pk_block_q8_0 *)(const void *)row + k;
        w32_i8mm v = w_q8_0_i8mm(b);
        p->w[0] = v.lo, p->w[1] = v.hi;
        p->d = h2f(b->d);
        break;
    }
    case K_Q4_K: unpack_q4_K_i8mm((const pk_block_q4_K *)(const void *)row + k, p); break;
    case K_Q5_K: unpack_q5_K_i8mm((const pk_block_q5_K *)(const void *)row + k, p); break;
    case K_Q6_K: unpack_q6_K_i8mm((const pk_block_q6_K *)(const void *)row + k, p); break;
    case K_IQ4_XS: unpack_iq4_xs_i8mm((const pk_block_iq4_xs *)(const void *)row + k, p); break;
    }
}

static inline __attribute__((always_inline)) void fill_cache(kind kd, const uint8_t *w, size_t wrow, int nblk,
                                                             cache *c) {
    const int nv = is_k(kd) ? 16 : 2; /* registers per block */
    for (int k = 0; k < nblk; k++)
        for (int p = 0; p < 2; p++) {
            kblock_i8mm a, b;
            decode(kd, w + (size_t)(2 * p) * wrow, k, &a);
            decode(kd, w + (size_t)(2 * p + 1) * wrow, k, &b);
            for (int i = 0; i < nv; i++) {
                c->w[2 * nv * k + 2 * i][p] = zip_lo(a.w[i], b.w[i]);
                c->w[2 * nv * k + 2 * i + 1][p] = zip_hi(a.w[i], b.w[i]);
            }
            c->d[k][p] = pair_lanes(a.d, b.d);
            if (!is_k(kd)) continue;
            for (int g = 0; g < k_groups(kd); g++) {
                const int32_t v[4] = { a.sc[g], a.sc[g], b.sc[g], b.sc[g] };
                c->sc[16 * k + g][p] = vld1q_s32(v);
            }
            if (!k_mins(kd)) continue;
            c->dmin[k][p] = pair_lanes(a.dmin, b.dmin);
            c->mn[k][p][0] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a.mn)));
            c->mn[k][p][1] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(b.mn)));
        }
}

/* quarters 2h, 2h + 1 of two tokens' 16 bytes at a, b */
static inline void x_pairs(const int8_t *a, const int8_t *b, int8x16_t *xq) {
    const int8x16_t va = vld1q_s8(a), vb = vld1q_s8(b);
    xq[0] = zip_lo(va, vb);
    xq[1] = zip_hi(va, vb);
}

/* q4_0, q8_0, iq4_nl: 4 cached rows x tp token pairs (tokens 2j, 2j + 1 of q8_0
 * at xs[2j], xs[2j + 1]), per block an int32 tile scaled by d_w d_x */
static inline __attribute__((always_inline)) void tile32(int tp, int nb, const cache *c, const uint8_t *const *xs,
                                                         float32x4_t acc[2][2]) {
    for (int k = 0; k < nb; k++)
        for (int j = 0; j < tp; j++) {
            const pk_block_q8_0 *a = (const pk_block_q8_0 *)(const void *)xs[2 * j] + k;
            const pk_block_q8_0 *b = (const pk_block_q8_0 *)(const void *)xs[2 * j + 1] + k;
            int8x16_t xq[4];
            x_pairs(a->qs, b->qs, xq);
            x_pairs(a->qs + 16, b->qs + 16, xq + 2);
            const uint64_t dbits = (uint64_t)a->d | (uint64_t)b->d << 16 | (uint64_t)a->d << 32 | (uint64_t)b->d << 48;
            const float32x4_t dx = vcvt_f32_f16(vreinterpret_f16_u64(vcreate_u64(dbits)));
            for (int p = 0; p < 2; p++) {
                int32x4_t s = vdupq_n_s32(0);
                for (int q = 0; q < 4; q++) s = vmmlaq_s32(s, c->w[4 * k + q][p], xq[q]);
                acc[p][j] = vfmaq_f32(acc[p][j], vcvtq_f32_s32(s), vmulq_f32(c->d[k][p], dx));
            }
        }
}

/* k-quants against q8_K: per super-block and group, the int32 tile times
 * the group's scales; then d * dy, less dmin * dy * (mins . group sums) */
static inline __attribute__((always_inline)) void tile_k(kind kd, int tp, int nsb, const cache *c,
                                                         const uint8_t *const *xs, float32x4_t acc[2][2]) {
    const int ng = k_groups(kd), qg = 32 / ng; /* quarters per group */
    for (int k = 0; k < nsb; k++) {
        const pk_block_q8_K *a[2], *b[2];
        for (int j = 0; j < tp; j++) {
            a[j] = (const pk_block_q8_K *)(const void *)xs[2 * j] + k;
            b[j] = (const pk_block_q8_K *)(const void *)xs[2 * j + 1] + k;
        }
        int32x4_t is[2][2] = { { vdupq_n_s32(0), vdupq_n_s32(0) }, { vdupq_n_s32(0), vdupq_n_s32(0) } };
        for (int g = 0; g < ng; g++) {
            const int q0 = 32 * k + qg * g, o = 8 * qg * g;
            for (int j = 0; j < tp; j++) {
                int8x16_t xq[4];
                for (int h = 0; h < qg / 2; h++) x_pairs(a[j]->qs + o + 16 * h, b[j]->qs + o + 16 * h, xq + 2 * h);
                for (int p = 0; p < 2; p++) {
                    int32x4_t s = vdupq_n_s32(0);
                    for (int q = 0; q < qg; q++) s = vmmlaq_s32(s, c->w[q0 + q][p], xq[q]);
                    is[p][j] = vmlaq_s32(is[p][j], s, c->sc[16 * k + g][p]);
                }
            }
        }
        for (int j = 0; j < tp; j++) {
            const float dv[4] = { a[j]->d, b[j]->d, a[j]->d, b[j]->d };
            const float32x4_t dxs = vld1q_f32(dv);
            int16x8_t ga = vdupq_n_s16(0), gb = vdupq_n_s16(0); /* group sums of the activations */
            if (k_mins(kd)) {
                ga = vpaddq_s16(vld1q_s16(a[j]->bsums), vld1q_s16(a[j]->bsums + 8));
                gb = vpaddq_s16(vld1q_s16(b[j]->bsums), vld1q_s16(b[j]->bsums + 8));
            }
            for (int p = 0; p < 2; p++) {
                acc[p][j] = vfmaq_f32(acc[p][j], vcvtq_f32_s32(is[p][j]), vmulq_f32(c->d[k][p], dxs));
                if (!k_mins(kd)) continue;
                const int16x8_t m0 = c->mn[k][p][0], m1 = c->mn[k][p][1];
                int32x4_t s00 = vmlal_high_s16(vmull_s16(vget_low_s16(m0), vget_low_s16(ga)), m0, ga);
                int32x4_t s01 = vmlal_high_s16(vmull_s16(vget_low_s16(m0), vget_low_s16(gb)), m0, gb);
                int32x4_t s10 = vmlal_high_s16(vmull_s16(vget_low_s16(m1), vget_low_s16(ga)), m1, ga);
                int32x4_t s11 = vmlal_high_s16(vmull_s16(vget_low_s16(m1), vget_low_s16(gb)), m1, gb);
                int32x4_t ms = vpaddq_s32(vpaddq_s32(s00, s01), vpaddq_s32(s10, s11));
                acc[p][j] = vfmsq_f32(acc[p][j], vcvtq_f32_s32(ms), vmulq_f32(c->dmin[k][p], dxs));
            }
        }
    }
}

static inline __attribute__((always_inline)) void tile(kind kd, int tp, int nblk, const cache *c,
                                                       const uint8_t *const *xs, float32x4_t acc[2][2]) {
    for (int p = 0; p < 2; p++)
        for (int j = 0; j < tp; j++) acc[p][j] = vdupq_n_f32(0);
    if (is_k(kd)) tile_k(kd, tp, nblk, c, xs, acc);
    else tile32(tp, nblk, c, xs, acc);
}

static inline __attribute__((always_inline)) void gemm_run(kind kd, pk_qtype qt, int n, int nr, int nt, float *y,
                                                           size_t ys, const uint8_t *w, size_t wrow,
                                                           const uint8_t *x, size_t xrow) {
    const int nblk = n / (is_k(kd) ? PK_QK_K : PK_QK);
    int r4 = 0;
    if (n / 8 <= NQ_MAX && nt >= 2) {
        r4 = nr & ~3;
        cache c;
        for (int r = 0; r < r4; r += 4) {
            fill_cache(kd, w + (size_t)r * wrow, wrow, nblk, &c);
            for (int t = 0; t < nt; t += 4) {
                int tn = PK_MIN(4, nt - t);
                const uint8_t *xs[4];
                for (int i = 0; i < 4; i++) xs[i] = x + (size_t)PK_MIN(t + i, nt - 1) * xrow; /* past the end: the last token again */
                float32x4_t acc[2][2];
                if (tn > 2) tile(kd, 2, nblk, &c, xs, acc);
                else tile(kd, 1, nblk, &c, xs, acc);
                for (int j = 0; j < (tn + 1) / 2; j++)
                    for (int p = 0; p < 2; p++) {
                        float v[4];
                        vst1q_f32(v, acc[p][j]);
                        float *y0 = y + (size_t)(t + 2 * j) * ys + (size_t)(r + 2 * p);
                        y0[0] = v[0];
                        y0[1] = v[2];
                        if (t + 2 * j + 1 < nt) {
                            y0[ys] = v[1];
                            y0[ys + 1] = v[3];
                        }
                    }
            }
        }
    }
    if (r4 < nr) /* rows left over, or everything */
        pk_gemm_loop(&table[qt], n, nr - r4, nt, y + r4, ys, w + (size_t)r4 * wrow, wrow, x, xrow);
}

#define GEMM(T, KD)                                                                                                \
    static void gemm_##T(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x, \
                         size_t xrow) {                                                                          \
        gemm_run(KD, PK_Q_##T, n, nr, nt, y, ys, w, wrow, x, xrow);                                             \
    }
GEMM(Q4_0, K_Q4_0)
GEMM(Q8_0, K_Q8_0)
GEMM(IQ4_NL, K_IQ4_NL)
GEMM(Q4_K, K_Q4_K)
GEMM(Q5_K, K_Q5_K)
GEMM(Q6_K, K_Q6_K)
GEMM(IQ4_XS, K_IQ4_XS)

/* Called on the final table, after the dotprod kernels: installs this
 * file's copy of them (the same code, built with these flags) and the
 * GEMMs. */
void pk_quant_neon_i8mm_traits(pk_qtraits *t) {
    table = t;
    fill_i8mm(t);
    t[PK_Q_Q4_0].gemm = gemm_Q4_0;
    t[PK_Q_Q8_0].gemm = gemm_Q8_0;
    t[PK_Q_IQ4_NL].gemm = gemm_IQ4_NL;
    t[PK_Q_Q4_K].gemm = gemm_Q4_K;
    t[PK_Q_Q5_K].gemm = gemm_Q5_K;
    t[PK_Q_Q6_K].gemm = gemm_Q6_K;
    t[PK_Q_IQ4_XS].gemm = gemm_IQ4_XS;
}
