/* Clocks: monotonic time never goes backwards and measures a real sleep; the wall
 * timestamp has the exact RFC 3339 shape and agrees with time(). */
#include "check.h"
#include "medify/base.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_monotonic(void) {
    uint64_t prev = md_clock_monotonic_ns();
    CHECK(prev > 0);
    int never_back = 1;
    for (int i = 0; i < 100000; i++) {
        uint64_t now = md_clock_monotonic_ns();
        never_back &= now >= prev;
        prev = now;
    }
    CHECK(never_back);
    uint64_t t0 = md_clock_monotonic_ns();
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
    uint64_t elapsed = md_clock_monotonic_ns() - t0;
    CHECK_MSG(elapsed >= 20u * 1000 * 1000, "slept 20 ms, measured %llu ns",
              (unsigned long long)elapsed);
    CHECK(elapsed < 5ull * 1000 * 1000 * 1000);
}

static void test_wall(void) {
    char ts[32];
    memset(ts, '#', sizeof(ts));
    time_t before = time(NULL);
    md_clock_wall_iso8601(ts);
    time_t after = time(NULL);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    CHECK_EQ_INT(strlen(ts), 24);
    int shape_ok = strlen(ts) == 24;
    for (size_t i = 0; shape_ok && shape[i]; i++) {
        shape_ok &= shape[i] == 'd' ? isdigit((unsigned char)ts[i]) != 0 : ts[i] == shape[i];
    }
    CHECK_MSG(shape_ok, "timestamp %s", ts);

    /* parse it back and compare with time(): same second (or the next one) */
    struct tm tm = {0};
    int ms = -1;
    int n = sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms);
    CHECK_EQ_INT(n, 7);
    CHECK(ms >= 0 && ms <= 999);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t parsed = timegm(&tm);
    CHECK_MSG(parsed >= before && parsed <= after, "%s vs time() %lld", ts, (long long)before);
}

int main(void) {
    test_monotonic();
    test_wall();
    return check_report("test_base_clock");
}
