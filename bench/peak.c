/*
 * peak.c - the measured peak of each matrix unit this CPU has, on 1 and 2
 * threads: what bench/speed.py's GFLOP/s are shares of.
 *   fp32 FMA     vfmadd231ps on zmm, 12 independent accumulators
 *   vdpbf16ps    AVX512-BF16, 12 independent accumulators (64 flops each)
 *   AMX bf16     _tile_dpbf16ps on four accumulator tiles from tiles held
 *                in registers (16 x 16 x 32 x 2 = 16384 flops each)
 * Each loop runs 0.5 s per thread; the best of three runs is printed, in
 * GFLOP/s, one line per unit.  A unit the CPU lacks is reported as such.
 *
 * usage: peak [--threads 1,2]
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/gemm_bf16.h"
#include "engine/simd.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define REPS 100000

/* twelve named accumulators (an array would be kept in memory at -O2) */
#define TWELVE(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i) __m512 a##i = _mm512_set1_ps((float)(i));
#define DECLZ(i) __m512 a##i = _mm512_setzero_ps();
#define FMA(i) a##i = _mm512_fmadd_ps(a##i, b, c);
#define DP(i) a##i = _mm512_dpbf16_ps(a##i, x, y);
#define SUM(i) sink += _mm512_reduce_add_ps(a##i);

__attribute__((target("avx512f"))) static double loop_fma(double secs)
{
    const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    TWELVE(DECL)
    double flops = 0, t0 = now();
    while (now() - t0 < secs) {
        for (int r = 0; r < REPS; r++) {
            TWELVE(FMA)
        }
        flops += (double)REPS * 12 * 32;
    }
    float sink = 0;
    TWELVE(SUM)
    if (sink == 1.2345f)
        puts("");
    return flops / (now() - t0);
}

__attribute__((target("avx512f,avx512bf16"))) static double loop_dpbf16(double secs)
{
    const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80), y = (__m512bh)_mm512_set1_epi32(0x3A003A00);
    TWELVE(DECLZ)
    double flops = 0, t0 = now();
    while (now() - t0 < secs) {
        for (int r = 0; r < REPS; r++) {
            TWELVE(DP)
        }
        flops += (double)REPS * 12 * 64;
    }
    float sink = 0;
    TWELVE(SUM)
    if (sink == 1.2345f)
        puts("");
    return flops / (now() - t0);
}

typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

__attribute__((target("amx-tile,amx-bf16"))) static double loop_amx(double secs)
{
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    static uint16_t src[16 * 32] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 32; i++)
        src[i] = 0x3A00;
    _tile_loadd(4, src, 64);
    _tile_loadd(5, src, 64);
    _tile_loadd(6, src, 64);
    _tile_loadd(7, src, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    double flops = 0, t0 = now();
    while (now() - t0 < secs) {
        for (int r = 0; r < REPS / 10; r++) {
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        flops += (double)(REPS / 10) * 4 * 16384;
    }
    _tile_release();
    return flops / (now() - t0);
}

typedef struct job {
    double (*fn)(double);
    double rate;
} job;

static void *run_job(void *p)
{
    job *j = p;
    j->rate = j->fn(0.5);
    return NULL;
}

/* The best of three runs of fn on nt threads at once, summed rates. */
static double measure(double (*fn)(double), int nt)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t th[64];
        job jobs[64];
        for (int i = 0; i < nt; i++) {
            jobs[i].fn = fn;
            pthread_create(&th[i], NULL, run_job, &jobs[i]);
        }
        double sum = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            sum += jobs[i].rate;
        }
        if (sum > best)
            best = sum;
    }
    return best / 1e9;
}

int main(int argc, char **argv)
{
    const char *threads = argc > 2 && !strcmp(argv[1], "--threads") ? argv[2] : "1,2";
    struct {
        const char *name;
        double (*fn)(double);
        int ok;
    } units[] = {
        {"fp32 FMA (zmm)", loop_fma, simd_level() == SIMD_AVX512},
        {"AVX512-BF16 vdpbf16ps", loop_dpbf16, bf16_kernel_available(BF16_AVX512)},
        {"AMX bf16 tile", loop_amx, bf16_kernel_available(BF16_AMX)},
    };
    printf("%-24s %8s %10s\n", "unit", "threads", "GFLOP/s");
    for (size_t u = 0; u < sizeof units / sizeof *units; u++)
        for (const char *t = threads; *t;) {
            int nt = atoi(t);
            if (units[u].ok && nt >= 1 && nt <= 64)
                printf("%-24s %8d %10.1f\n", units[u].name, nt, measure(units[u].fn, nt));
            else
                printf("%-24s %8d %10s\n", units[u].name, nt, "not here");
            t = strchr(t, ',');
            if (!t)
                break;
            t++;
        }
    return 0;
}
