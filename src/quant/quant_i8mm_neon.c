/* quant_i8mm_neon.c: prefill GEMM kernels with the int8 matrix-multiply
 * extension (FEAT_I8MM; SMMLA adds the product of a 2x8 and an 8x2 int8
 * matrix into a 2x2 int32 tile in one instruction): q4_0 and q8_0 weights
 * against q8_0 activations. CMake compiles this file alone with
 * -march=armv8.2-a+i8mm+dotprod; quant_simd.c installs it only when the
 * kernel reports HWCAP2_I8MM (and the dot-product extension).
 *
 * For each group of 4 weight rows the kernel decodes every block once into
 * int8 and interleaves the rows by pairs: register q of a pair holds values
 * 8q..8q+7 of the pair's first row, then those of its second (SMMLA's 2x8
 * operand). These and the rows' scales stay in a stack cache while the
 * call's tokens stream past, 4 at a time, interleaved by pairs the same way
 * on the fly; a tile keeps 2 x 2 accumulators of [r0 t0, r0 t1, r1 t0,
 * r1 t1]. Rows left over (nr % 4), rows longer than the cache and single
 * tokens go through the vec_dot kernels; an odd last token is paired with
 * itself and its copy dropped. The integer parts are exact, so results
 * equal vec_dot per row and token up to float summation order
 * (tests/test_gemm.c). Speed: unmeasured (no Arm hardware here). */
#include "quant/quant_int.h"

#include <arm_neon.h>

#if !defined(__ARM_FEATURE_MATMUL_INT8)
#error "quant_i8mm_neon.c needs -march=armv8.2-a+i8mm+dotprod (see CMakeLists.txt)"
#endif

enum { NB_MAX = 512 }; /* 32-value blocks per row the cache holds (n <= 16384) */

typedef enum { K_Q4_0, K_Q8_0 } kind;

/* One 4-row group: per block and row pair, the 32 values of both rows as
 * four registers [row 2p values 8q..8q+7 | row 2p+1 the same] and the
 * scales (d_2p, d_2p, d_2p+1, d_2p+1), the lane order of a tile. */
typedef struct cache {
    int8x16_t w[NB_MAX][2][4];
    float32x4_t d[NB_MAX][2];
} cache;

/* the table the kernels were installed in: its vec_dot kernels take the
 * row tails */
static const pk_qtraits *table;

static inline float h2f(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* [a's low 8 bytes | b's low 8], [a's high 8 | b's high 8] */
static inline int8x16_t zip_lo(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
static inline int8x16_t zip_hi(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

/* block k of a row as signed values 0-15 and 16-31, and its scale */
static inline __attribute__((always_inline)) float decode(kind kd, const uint8_t *row, int k, int8x16_t v[2]) {
    if (kd == K_Q4_0) {
        const pk_block_q4_0 *b = (const pk_block_q4_0 *)(const void *)row + k;
        const uint8x16_t q = vld1q_u8(b->qs);
        const int8x16_t eight = vdupq_n_s8(8);
        v[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), eight);
        v[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
        return h2f(b->d);
    }
    const pk_block_q8_0 *b = (const pk_block_q8_0 *)(const void *)row + k;
    v[0] = vld1q_s8(b->qs);
    v[1] = vld1q_s8(b->qs + 16);
    return h2f(b->d);
}

static inline __attribute__((always_inline)) void fill_cache(kind kd, const uint8_t *w, size_t wrow, int nb,
                                                             cache *c) {
    for (int k = 0; k < nb; k++)
        for (int p = 0; p < 2; p++) {
            int8x16_t a[2], b[2];
            float da = decode(kd, w + (size_t)(2 * p) * wrow, k, a);
            float db = decode(kd, w + (size_t)(2 * p + 1) * wrow, k, b);
            c->w[k][p][0] = zip_lo(a[0], b[0]);
            c->w[k][p][1] = zip_hi(a[0], b[0]);
            c->w[k][p][2] = zip_lo(a[1], b[1]);
            c->w[k][p][3] = zip_hi(a[1], b[1]);
            const float dv[4] = { da, da, db, db };
            c->d[k][p] = vld1q_f32(dv);
        }
}

/* 4 cached rows x tp token pairs (tokens 2j, 2j + 1 at xs[2j], xs[2j + 1]):
 * acc[p][j] = [r2p t2j, r2p t2j+1, r2p+1 t2j, r2p+1 t2j+1] */
static inline __attribute__((always_inline)) void tile(int tp, int nb, const cache *c,
                                                       const pk_block_q8_0 *const *xs, float32x4_t acc[2][2]) {
    for (int p = 0; p < 2; p++)
        for (int j = 0; j < tp; j++) acc[p][j] = vdupq_n_f32(0);
    for (int k = 0; k < nb; k++)
        for (int j = 0; j < tp; j++) {
            const pk_block_q8_0 *a = xs[2 * j] + k, *b = xs[2 * j + 1] + k;
            const int8x16_t a0 = vld1q_s8(a->qs), a1 = vld1q_s8(a->qs + 16);
            const int8x16_t b0 = vld1q_s8(b->qs), b1 = vld1q_s8(b->qs + 16);
            const int8x16_t xq[4] = { zip_lo(a0, b0), zip_hi(a0, b0), zip_lo(a1, b1), zip_hi(a1, b1) };
            const uint64_t dbits = (uint64_t)a->d | (uint64_t)b->d << 16 | (uint64_t)a->d << 32 | (uint64_t)b->d << 48;
            const float32x4_t dx = vcvt_f32_f16(vreinterpret_f16_u64(vcreate_u64(dbits)));
            for (int p = 0; p < 2; p++) {
                int32x4_t s = vdupq_n_s32(0);
                for (int q = 0; q < 4; q++) s = vmmlaq_s32(s, c->w[k][p][q], xq[q]);
                acc[p][j] = vfmaq_f32(acc[p][j], vcvtq_f32_s32(s), vmulq_f32(c->d[k][p], dx));
            }
        }
}

static inline __attribute__((always_inline)) void gemm_run(kind kd, pk_qtype qt, int n, int nr, int nt, float *y,
                                                           size_t ys, const uint8_t *w, size_t wrow,
                                                           const uint8_t *x, size_t xrow) {
    int nb = n / PK_QK, r4 = 0;
    if (nb <= NB_MAX && nt >= 2) {
        r4 = nr & ~3;
        cache c;
        for (int r = 0; r < r4; r += 4) {
            fill_cache(kd, w + (size_t)r * wrow, wrow, nb, &c);
            for (int t = 0; t < nt; t += 4) {
                int tn = PK_MIN(4, nt - t);
                const pk_block_q8_0 *xs[4];
                for (int i = 0; i < 4; i++) /* past the end: the last token again */
                    xs[i] = (const pk_block_q8_0 *)(const void *)(x + (size_t)PK_MIN(t + i, nt - 1) * xrow);
                float32x4_t acc[2][2];
                if (tn > 2) tile(2, nb, &c, xs, acc);
                else tile(1, nb, &c, xs, acc);
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

static void gemm_q4_0(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x,
                      size_t xrow) {
    gemm_run(K_Q4_0, PK_Q_Q4_0, n, nr, nt, y, ys, w, wrow, x, xrow);
}

static void gemm_q8_0(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x,
                      size_t xrow) {
    gemm_run(K_Q8_0, PK_Q_Q8_0, n, nr, nt, y, ys, w, wrow, x, xrow);
}

/* Called on the final table (after the vec_dot entries are set). */
void pk_quant_neon_i8mm_traits(pk_qtraits *t) {
    table = t;
    t[PK_Q_Q4_0].gemm = gemm_q4_0;
    t[PK_Q_Q8_0].gemm = gemm_q8_0;
}
