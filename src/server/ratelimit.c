/* ratelimit.c: token buckets per client address and per principal, and login
 * throttling, all in this process's memory (several processes each enforce their own
 * limit; the store holds none of it).
 *
 * Token bucket (the classic traffic-shaping algorithm, e.g. RFC 2697's single-rate
 * meter without colours): a bucket holds up to `burst` tokens and refills at `rate`
 * per second; a request takes one token or is refused with the time until the next.
 *
 * Buckets live in a fixed table indexed by a 64-bit hash of the key (FNV-1a) with
 * linear probing over a short window; when the window is full the stalest entry is
 * reused (an idle client's bucket is full again anyway after burst/rate seconds). So
 * memory is fixed and a flood of addresses cannot grow it.
 *
 * Login throttling: per e-mail and per address, failures within LOGIN_WINDOW_MS are
 * counted; past LOGIN_MAX_FAILURES_ACCOUNT (or _ADDRESS) attempts wait for the window
 * to pass. A success clears the account's count.
 */
#include <math.h>
#include <string.h>

#include "server/server_internal.h"

#define N_SLOTS 4096 /* power of two */
#define PROBE 8
#define LOGIN_WINDOW_MS (15LL * 60 * 1000)
#define LOGIN_MAX_FAILURES_ACCOUNT 5 /* OWASP Authentication Cheat Sheet: lock after a few failures */
#define LOGIN_MAX_FAILURES_ADDRESS 20

typedef struct bucket {
    uint64_t key; /* 0 = free */
    double tokens;
    uint64_t last_ns;
} bucket;

typedef struct failures {
    uint64_t key;
    int n;
    uint64_t window_start_ns;
} failures;

struct srv_ratelimit {
    pthread_mutex_t lock;
    double ip_rate, ip_burst, user_rate, user_burst;
    bucket buckets[N_SLOTS];
    failures fails[N_SLOTS];
};

static uint64_t fnv1a(const char *tag, const void *bytes, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (const char *t = tag; *t; t++) h = (h ^ (uint8_t)*t) * 1099511628211ull;
    const uint8_t *p = bytes;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h ? h : 1;
}

md_status srv_ratelimit_new(const md_server_params *p, srv_ratelimit **out) {
    srv_ratelimit *rl = md_calloc(1, sizeof *rl);
    if (!rl) return MD_ERR_NOMEM;
    pthread_mutex_init(&rl->lock, NULL);
    rl->ip_rate = p->rate_ip_per_s;
    rl->ip_burst = p->rate_ip_burst > 1 ? p->rate_ip_burst : 1;
    rl->user_rate = p->rate_user_per_s;
    rl->user_burst = p->rate_user_burst > 1 ? p->rate_user_burst : 1;
    *out = rl;
    return MD_OK;
}

void srv_ratelimit_free(srv_ratelimit *rl) {
    if (!rl) return;
    pthread_mutex_destroy(&rl->lock);
    md_free(rl);
}

static bucket *find_bucket(srv_ratelimit *rl, uint64_t key, double burst, uint64_t now) {
    size_t i0 = (size_t)key & (N_SLOTS - 1), stalest = i0;
    for (size_t k = 0; k < PROBE; k++) {
        bucket *b = &rl->buckets[(i0 + k) & (N_SLOTS - 1)];
        if (b->key == key) return b;
        if (b->key == 0 || b->last_ns < rl->buckets[stalest].last_ns) stalest = (i0 + k) & (N_SLOTS - 1);
        if (b->key == 0) break;
    }
    bucket *b = &rl->buckets[stalest];
    *b = (bucket){.key = key, .tokens = burst, .last_ns = now};
    return b;
}

static bool take(srv_ratelimit *rl, uint64_t key, double rate, double burst, int *retry_after_s) {
    uint64_t now = md_clock_monotonic_ns();
    bucket *b = find_bucket(rl, key, burst, now);
    double dt = (double)(now - b->last_ns) / 1e9;
    b->tokens = fmin(burst, b->tokens + dt * rate);
    b->last_ns = now;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    double wait = (1.0 - b->tokens) / rate;
    *retry_after_s = (int)ceil(wait) > 0 ? (int)ceil(wait) : 1;
    return false;
}

bool srv_ratelimit_take(srv_ratelimit *rl, const char *client_ip, int64_t principal_key, int *retry_after_s) {
    bool ok = true;
    pthread_mutex_lock(&rl->lock);
    if (client_ip && rl->ip_rate > 0)
        ok = take(rl, fnv1a("ip:", client_ip, strlen(client_ip)), rl->ip_rate, rl->ip_burst, retry_after_s);
    else if (!client_ip && principal_key != 0 && rl->user_rate > 0)
        ok = take(rl, fnv1a("principal:", &principal_key, sizeof principal_key), rl->user_rate, rl->user_burst,
                  retry_after_s);
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

static failures *find_failures(srv_ratelimit *rl, uint64_t key, bool create, uint64_t now) {
    size_t i0 = (size_t)key & (N_SLOTS - 1), stalest = i0;
    for (size_t k = 0; k < PROBE; k++) {
        failures *f = &rl->fails[(i0 + k) & (N_SLOTS - 1)];
        if (f->key == key) {
            if (now - f->window_start_ns > (uint64_t)LOGIN_WINDOW_MS * 1000000u) {
                f->n = 0;
                f->window_start_ns = now;
            }
            return f;
        }
        if (f->key == 0 || f->window_start_ns < rl->fails[stalest].window_start_ns)
            stalest = (i0 + k) & (N_SLOTS - 1);
        if (f->key == 0) break;
    }
    if (!create) return NULL;
    failures *f = &rl->fails[stalest];
    *f = (failures){.key = key, .n = 0, .window_start_ns = now};
    return f;
}

static int seconds_left(const failures *f, uint64_t now) {
    uint64_t end = f->window_start_ns + (uint64_t)LOGIN_WINDOW_MS * 1000000u;
    return end > now ? (int)((end - now) / 1000000000u) + 1 : 1;
}

bool srv_login_allowed(srv_ratelimit *rl, const char *email, const char *client_ip, int *retry_after_s) {
    uint64_t now = md_clock_monotonic_ns();
    bool ok = true;
    pthread_mutex_lock(&rl->lock);
    failures *fa = find_failures(rl, fnv1a("login:", email, strlen(email)), false, now);
    failures *fi = find_failures(rl, fnv1a("login-ip:", client_ip, strlen(client_ip)), false, now);
    if (fa && fa->n >= LOGIN_MAX_FAILURES_ACCOUNT) {
        ok = false;
        *retry_after_s = seconds_left(fa, now);
    } else if (fi && fi->n >= LOGIN_MAX_FAILURES_ADDRESS) {
        ok = false;
        *retry_after_s = seconds_left(fi, now);
    }
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

void srv_login_failed(srv_ratelimit *rl, const char *email, const char *client_ip) {
    uint64_t now = md_clock_monotonic_ns();
    pthread_mutex_lock(&rl->lock);
    failures *fa = find_failures(rl, fnv1a("login:", email, strlen(email)), true, now);
    failures *fi = find_failures(rl, fnv1a("login-ip:", client_ip, strlen(client_ip)), true, now);
    fa->n++;
    fi->n++;
    pthread_mutex_unlock(&rl->lock);
}

void srv_login_succeeded(srv_ratelimit *rl, const char *email) {
    uint64_t now = md_clock_monotonic_ns();
    pthread_mutex_lock(&rl->lock);
    failures *fa = find_failures(rl, fnv1a("login:", email, strlen(email)), false, now);
    if (fa) fa->n = 0;
    pthread_mutex_unlock(&rl->lock);
}
