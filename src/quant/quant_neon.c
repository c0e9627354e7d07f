/* quant_neon.c: AArch64 NEON kernels on the ARMv8-A baseline (no extension
 * needed): F32 and F16 dot products, F16 to F32, the Q8_0 and Q8_K
 * activation quantizers, and the integer dot products of quant_neon.inc
 * (Q8_0, Q4_0, IQ4_NL x Q8_0; Q4_K, Q5_K, Q6_K, IQ4_XS x Q8_K; each also
 * in a four-row version for prefill and a GEMV for decode) with int8
 * products widened by vmull_s8; the prefill GEMMs of quant_gemm_neon.inc
 * with SDOT by lane emulated the same way; an F16 GEMV. On CPUs with
 * the dot-product extension quant_simd.c then installs the SDOT versions
 * from quant_dotprod_neon.c over the integer ones. Also SwiGLU's
 * silu(g) * u (pk_silu_mul). */
#include "quant/quant_int.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

/* acc += the 16 products a * b, as int32 pair sums (|a|, |b| <= 127) */
static inline int32x4_t dot16_widen(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

#define NEON_DOT16(acc, a, b) dot16_widen(acc, a, b)
#define NEON_NAME(f) f##_neon
#include "quant/quant_neon.inc"

/* SDOT by lane without the extension: acc lane r += the 4 products of
 * bytes 4r..4r+3 of w with xb's (x's lane broadcast); products summed in
 * pairs in int16 (activations within +-127, weights +-128: pairs within
 * +-32512), then into the int32 lanes */
static inline int32x4_t dot_lane_widen(int32x4_t acc, int8x16_t w, int8x16_t xb) {
    const int16x8_t p = vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(xb)), vmull_high_s8(w, xb));
    return vpadalq_s16(acc, p);
}
#define GEMM_SMMLA 0
#define GEMM_DOT_LANE(acc, w, x, lane) \
    dot_lane_widen(acc, w, vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(x), lane)))
#include "quant/quant_gemm_neon.inc"

/* ---- f32 / f16 ---- */

static void dot_f32_neon(int n, float *out, const void *a, const void *b) {
    const float *x = a, *y = b;
    float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 4; k++) acc[k] = vfmaq_f32(acc[k], vld1q_f32(x + i + 4 * k), vld1q_f32(y + i + 4 * k));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for (; i < n; i++) s += x[i] * y[i]; /* tail */
    *out = s;
}

static inline float32x4_t load_f16x4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

static void dot_f16_neon(int n, float *out, const void *a, const void *b) {
    const uint16_t *x = a, *y = b;
    float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 4; k++) acc[k] = vfmaq_f32(acc[k], load_f16x4(x + i + 4 * k), load_f16x4(y + i + 4 * k));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for (; i < n; i++) s += h2f(x[i]) * h2f(y[i]); /* tail */
    *out = s;
}

/* decode: f16 rows after row, each as dot_f16 with a prefetch per 64 bytes */
static void gemv_f16_neon(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    const uint16_t *v = x;
    for (int r = 0; r < nr; r++) {
        const uint16_t *u = (const uint16_t *)(const void *)((const uint8_t *)w + (size_t)r * wrow);
        float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };
        int i = 0;
        for (; i + 32 <= n; i += 32) {
            prefetch_ahead(u + i, 64);
            for (int k = 0; k < 8; k++)
                acc[k % 4] = vfmaq_f32(acc[k % 4], load_f16x4(u + i + 4 * k), load_f16x4(v + i + 4 * k));
        }
        float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]))), t = 0;
        if (i < n) dot_f16_neon(n - i, &t, u + i, v + i); /* tail */
        y[r] = s + t;
    }
}

static void f16_to_f32_neon(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, load_f16x4(h + i));
    for (; i < n; i++) dst[i] = h2f(h[i]); /* tail */
}

/* ---- activation quantizers: bit-identical to the references ---- */

/* largest |x| of n (a multiple of 16) values; NaNs are skipped, as the
 * reference's `fabsf(x) > amax` does */
static float absmax(const float *x, int n) {
    float32x4_t m = vdupq_n_f32(0);
    for (int j = 0; j < n; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    return vmaxnmvq_f32(m);
}

/* 16 int32 lanes (|v| <= 127) to int8 */
static inline int8x16_t narrow16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
    int16x8_t lo = vcombine_s16(vmovn_s32(a), vmovn_s32(b)), hi = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
    return vcombine_s8(vmovn_s16(lo), vmovn_s16(hi));
}

/* q8_0: d = amax / 127, q = round(x / d) half away from zero (roundf ==
 * vcvtaq); the float products are the reference's, so the bytes are too */
static void q8_0_from_float_neon(const float *src, void *dst, int64_t n) {
    pk_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK) {
        const float d = absmax(src, PK_QK) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        int32x4_t v[8];
        for (int k = 0; k < 8; k++) v[k] = vcvtaq_s32_f32(vmulq_n_f32(vld1q_f32(src + 4 * k), id));
        vst1q_s8(y[i].qs, narrow16(v[0], v[1], v[2], v[3]));
        vst1q_s8(y[i].qs + 16, narrow16(v[4], v[5], v[6], v[7]));
        y[i].d = pk_fp32_to_fp16(d);
    }
}

/* q8_K: scale -127 / (the value of largest magnitude, the first one on
 * ties), q = nearest-even (vcvtnq, as pk_q_nearest_int) capped at 127 */
static void q8_K_from_float_neon(const float *src, void *dst, int64_t n) {
    pk_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++, src += PK_QK_K) {
        const float amax = absmax(src, PK_QK_K);
        memset(&y[i], 0, sizeof(y[i]));
        if (!amax) continue;
        float max = amax;
        for (int j = 0; j < PK_QK_K; j++)
            if (fabsf(src[j]) == amax) {
                max = src[j];
                break;
            }
        const float iscale = -127.f / max;
        const int32x4_t cap = vdupq_n_s32(127);
        for (int g = 0; g < PK_QK_K / 16; g++) {
            int32x4_t v[4];
            for (int k = 0; k < 4; k++)
                v[k] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(src + 16 * g + 4 * k), iscale)), cap);
            int8x16_t q = narrow16(v[0], v[1], v[2], v[3]);
            vst1q_s8(y[i].qs + 16 * g, q);
            y[i].bsums[g] = vaddlvq_s8(q);
        }
        y[i].d = 1 / iscale;
    }
}

/* ---- SwiGLU: quant_avx2.c's exp_ps and pk_silu_mul_avx2, 4 lanes ---- */

static inline float32x4_t exp4(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.3f));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    static const float c[] = { 1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f };
    float32x4_t p = vdupq_n_f32(c[0]);
    for (int i = 1; i < 8; i++) p = vfmaq_f32(vdupq_n_f32(c[i]), p, r);
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

static inline float32x4_t silu_mul4(float32x4_t g, float32x4_t u) {
    return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(g)))), u);
}

/* the last n % 4 through a zero-padded copy, with the same arithmetic */
void pk_silu_mul_neon(float *o, const float *u, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(o + i, silu_mul4(vld1q_f32(o + i), vld1q_f32(u + i)));
    if (i < n) {
        float g[4] = { 0 }, v[4] = { 0 };
        memcpy(g, o + i, sizeof(float) * (n - i));
        memcpy(v, u + i, sizeof(float) * (n - i));
        vst1q_f32(g, silu_mul4(vld1q_f32(g), vld1q_f32(v)));
        memcpy(o + i, g, sizeof(float) * (n - i));
    }
}

/* ---- table ---- */

void pk_quant_neon_traits(pk_qtraits *t) {
    t[PK_Q_F32].vec_dot = dot_f32_neon;
    t[PK_Q_F16].vec_dot = dot_f16_neon;
    t[PK_Q_F16].to_float = f16_to_f32_neon;
    t[PK_Q_F16].gemv = gemv_f16_neon;
    t[PK_Q_Q8_0].from_float = q8_0_from_float_neon;
    t[PK_Q_Q8_K].from_float = q8_K_from_float_neon;
    fill_neon(t);
    gemm_fill(t);
}
