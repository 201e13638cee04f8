/* Rate limits (src/server/ratelimit.c): a bucket of `burst` tokens per client address
 * refills at `rate` per second, an empty one refuses with a Retry-After of at least
 * one second, addresses and principals have separate buckets, rate 0 turns a limit
 * off; login throttling refuses an account after 5 failures (and an address after
 * 20), a success clears the account's count. */
#include "check.h"
#include "server/server_internal.h"

#include <time.h>

static void test_buckets(void) {
    md_server_params p = md_server_default_params();
    p.rate_ip_per_s = 10;
    p.rate_ip_burst = 3;
    p.rate_user_per_s = 0; /* off */
    srv_ratelimit *rl = NULL;
    CHECK_EQ_INT(srv_ratelimit_new(&p, &rl), MD_OK);
    int retry = 0;
    for (int i = 0; i < 3; i++) CHECK(srv_ratelimit_take(rl, "10.0.0.1", 0, &retry));
    CHECK(!srv_ratelimit_take(rl, "10.0.0.1", 0, &retry));
    CHECK(retry >= 1);
    CHECK(srv_ratelimit_take(rl, "10.0.0.2", 0, &retry)); /* another address: its own bucket */
    for (int i = 0; i < 100; i++) CHECK(srv_ratelimit_take(rl, NULL, 42, &retry)); /* per user: off */
    struct timespec ts = {0, 150 * 1000000}; /* 10/s for 0.15 s: one token back */
    nanosleep(&ts, NULL);
    CHECK(srv_ratelimit_take(rl, "10.0.0.1", 0, &retry));
    CHECK(!srv_ratelimit_take(rl, "10.0.0.1", 0, &retry));
    srv_ratelimit_free(rl);

    p.rate_user_per_s = 1;
    p.rate_user_burst = 2;
    CHECK_EQ_INT(srv_ratelimit_new(&p, &rl), MD_OK);
    CHECK(srv_ratelimit_take(rl, NULL, 7, &retry));
    CHECK(srv_ratelimit_take(rl, NULL, 7, &retry));
    CHECK(!srv_ratelimit_take(rl, NULL, 7, &retry));
    CHECK(srv_ratelimit_take(rl, NULL, -7, &retry)); /* API key 7 is not user 7 */
    srv_ratelimit_free(rl);
}

static void test_login_throttle(void) {
    md_server_params p = md_server_default_params();
    srv_ratelimit *rl = NULL;
    CHECK_EQ_INT(srv_ratelimit_new(&p, &rl), MD_OK);
    int retry = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(srv_login_allowed(rl, "a@x.org", "1.2.3.4", &retry));
        srv_login_failed(rl, "a@x.org", "1.2.3.4");
    }
    srv_login_succeeded(rl, "a@x.org"); /* clears the account's count */
    for (int i = 0; i < 5; i++) {
        CHECK(srv_login_allowed(rl, "a@x.org", "1.2.3.5", &retry));
        srv_login_failed(rl, "a@x.org", "1.2.3.5");
    }
    CHECK(!srv_login_allowed(rl, "a@x.org", "9.9.9.9", &retry)); /* the account, from anywhere */
    CHECK(retry > 60);
    CHECK(srv_login_allowed(rl, "b@x.org", "9.9.9.9", &retry));
    /* One address trying many accounts. */
    char email[32];
    for (int i = 0; i < 20; i++) {
        snprintf(email, sizeof email, "u%d@x.org", i);
        srv_login_failed(rl, email, "6.6.6.6");
    }
    CHECK(!srv_login_allowed(rl, "fresh@x.org", "6.6.6.6", &retry));
    CHECK(srv_login_allowed(rl, "fresh@x.org", "6.6.6.7", &retry));
    srv_ratelimit_free(rl);
}

int main(void) {
    test_buckets();
    test_login_throttle();
    return check_report("test_server_ratelimit");
}
