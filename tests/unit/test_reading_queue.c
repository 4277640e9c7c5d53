/* The reading queue: order, overflow dropping the oldest, eventfd readiness, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "daemon/reading_queue.h"

static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static struct reading make(int64_t t)
{
    struct reading r;
    memset(&r, 0, sizeof r);
    r.source = "wattnode";
    r.series = "poll";
    r.time = t;
    r.q = Q_POWER_W;
    r.value = (double)t;
    return r;
}

static void test_order_and_overflow(void **state)
{
    (void)state;
    struct reading_queue q;
    assert_int_equal(reading_queue_init(&q, 4), 0);
    assert_false(readable(reading_queue_fd(&q)));
    for (int64_t t = 1; t <= 6; t++) {
        struct reading r = make(t);
        reading_queue_push(&q, &r);
    }
    assert_true(readable(reading_queue_fd(&q)));
    assert_int_equal(reading_queue_dropped(&q), 2);
    struct reading out[8];
    size_t n = reading_queue_pop(&q, out, 3);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].time, 3); /* 1 and 2 were dropped: oldest first */
    assert_int_equal(out[2].time, 5);
    assert_true(readable(reading_queue_fd(&q))); /* one left */
    n = reading_queue_pop(&q, out, 8);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].time, 6);
    assert_false(readable(reading_queue_fd(&q)));
    reading_queue_destroy(&q);
}

enum { PER_THREAD = 5000, THREADS = 4 };

static void *producer(void *arg)
{
    struct reading_sink sink = reading_queue_sink(arg);
    for (int i = 0; i < PER_THREAD; i++) {
        struct reading r = make(i);
        reading_emit(&sink, &r);
    }
    return NULL;
}

static void test_threads_lose_nothing_when_drained(void **state)
{
    (void)state;
    struct reading_queue q;
    assert_int_equal(reading_queue_init(&q, THREADS * PER_THREAD), 0);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, producer, &q);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    struct reading out[256];
    size_t total = 0, n;
    double sum = 0;
    while ((n = reading_queue_pop(&q, out, 256)) > 0) {
        total += n;
        for (size_t i = 0; i < n; i++)
            sum += out[i].value;
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    assert_true(sum == (double)THREADS * PER_THREAD * (PER_THREAD - 1) / 2);
    assert_int_equal(reading_queue_dropped(&q), 0);
    reading_queue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_overflow),
        cmocka_unit_test(test_threads_lose_nothing_when_drained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
