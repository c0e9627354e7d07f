/* pool.c: the persistent thread pool. Workers spin briefly on a generation
 * counter (ops in a forward pass follow each other within microseconds),
 * then yield the CPU between looks, then sleep on a condition variable. The
 * caller is thread 0 and the return of pk_pool_run() is the barrier between
 * ops. Yielding costs nothing on an idle machine (nothing else to run) and
 * on a busy one hands the core to a preempted peer the waiter is waiting
 * for, instead of burning the time slice that peer needs. */
#define _GNU_SOURCE
#include "base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum {
    SPIN_PAUSE = 1 << 10, /* looks with a pause instruction, then with sched_yield */
    SPIN_ROUNDS = 1 << 12 /* looks before sleeping on the condition variable */
};

typedef struct worker {
    pk_pool *pool;
    int ith;
    pthread_t tid;
} worker;

struct pk_pool {
    int n;                  /* threads including the caller */
    worker *workers;        /* (n-1) */
    /* the job: written by the caller before bumping gen */
    pk_task_fn fn;
    void *arg;
    int n_active;           /* threads taking part in the current job */
    atomic_uint gen;        /* job generation; workers run when it changes */
    atomic_int pending;     /* workers of the current job not yet done */
    atomic_bool stop;
    pthread_mutex_t mu;     /* guards sleeping; pairs with cv */
    pthread_cond_t cv;
    int n_sleeping;         /* guarded by mu */
};

int pk_n_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void *worker_main(void *p) {
    worker *w = p;
    pk_pool *pool = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen &&
               !atomic_load(&pool->stop)) {
            if (++spins < SPIN_ROUNDS) {
                if (spins < SPIN_PAUSE) cpu_relax();
                else sched_yield();
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            pool->n_sleeping++;
            while (atomic_load(&pool->gen) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cv, &pool->mu);
            pool->n_sleeping--;
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->stop)) break;
        seen = g;
        if (w->ith < pool->n_active) {
            pool->fn(pool->arg, w->ith, pool->n_active);
            atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
        }
    }
    return NULL;
}

pk_status pk_pool_new(int n_threads, pk_pool **out) {
    *out = NULL;
    if (n_threads <= 0) n_threads = pk_n_cpus();
    if (n_threads > 256) return pk_err(PK_ERR_INVALID, "thread count %d above 256", n_threads);
    pk_pool *pool = pk_calloc(1, sizeof(*pool));
    if (!pool) return PK_ERR_NOMEM;
    pool->n = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    if (n_threads > 1) {
        pool->workers = pk_calloc((size_t)n_threads - 1, sizeof(worker));
        if (!pool->workers) {
            pk_pool_free(pool);
            return PK_ERR_NOMEM;
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker *w = &pool->workers[i - 1];
        w->pool = pool;
        w->ith = i;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            pool->n = i; /* join only those started */
            pk_pool_free(pool);
            return pk_err(PK_ERR_NOMEM, "could not start thread %d of %d", i, n_threads);
        }
    }
    *out = pool;
    return PK_OK;
}

void pk_pool_free(pk_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, true);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->workers[i - 1].tid, NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    pk_free(pool->workers);
    pk_free(pool);
}

int pk_pool_size(const pk_pool *pool) { return pool ? pool->n : 1; }

void pk_pool_run_n(pk_pool *pool, int n, pk_task_fn fn, void *arg) {
    if (!pool || pool->n == 1 || n <= 1) {
        fn(arg, 0, 1);
        return;
    }
    if (n > pool->n) n = pool->n;
    pool->fn = fn;
    pool->arg = arg;
    pool->n_active = n;
    atomic_store(&pool->pending, n - 1);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
    if (pool->n_sleeping) pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    fn(arg, 0, n);
    /* wait for the others; after a short spin, yield between looks in case
     * a worker is preempted or shares our core */
    for (unsigned spins = 0; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_PAUSE) cpu_relax();
        else sched_yield();
    }
}

void pk_pool_run(pk_pool *pool, pk_task_fn fn, void *arg) {
    pk_pool_run_n(pool, pool ? pool->n : 1, fn, arg);
}
