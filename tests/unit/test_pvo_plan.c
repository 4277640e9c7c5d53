/* Unit tests of the PVOutput planner on a real store: batches, replies, revisions, too old,
 * rejected, pause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "sinks/pvo_plan.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

struct fx {
    char dir[64], path[128];
    struct tz *tz;
    struct store *st;
    struct pvo_plan plan;
    struct pvo_batch b;
    struct pvo_plan_stats stats;
};

/* 2017-06-07 local (LA) 06:00 = 13:00Z: k-th interval of the morning. */
static int64_t T(int k)
{
    return 1496840400 + 300 * (int64_t)k;
}

static void put(struct fx *f, const char *series, int k, double prod, double net, unsigned flags)
{
    struct interval_row r = {.interval_end = T(k),
                             .series = series,
                             .production_wh = prod,
                             .net_wh = net,
                             .consumption_wh = prod + net,
                             .has = IHAS_PRODUCTION | IHAS_NET | IHAS_CONSUMPTION,
                             .flags = flags};
    const char *sinks[] = {PVO_SINK_NAME};
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_upsert_interval(f->st, &r, sinks, 1, 1), 0);
    assert_int_equal(store_commit(f->st), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pvtap-test-pvo-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/pvtap.db", f->dir);
    if (tz_load("America/Los_Angeles", &f->tz) || store_open(f->path, f->tz, 0, &f->st))
        return -1;
    f->plan = (struct pvo_plan){
        .store = f->st, .tz = f->tz, .series = "sniff", .backload_days = PVO_BACKLOAD_DAYS};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    char p[200];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    tz_free(f->tz);
    free(f);
    return 0;
}

static const int64_t NOW = 1496880000; /* 2017-06-08T00:00Z, the next afternoon local */

static void next(struct fx *f, size_t cap, int64_t now)
{
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(pvo_plan_next(&f->plan, now, cap, &f->b, &f->stats), 0);
    assert_int_equal(store_commit(f->st), 0);
}

/* Reply to the batch with flag for every status (or skip index skip). */
static size_t reply(struct fx *f, int flag, size_t skip)
{
    struct pvo_reply_item it[PVO_BATCH_MAX_DONATION];
    size_t n = 0, missing = 0;
    for (size_t i = 0; i < f->b.n; i++)
        if (i != skip)
            it[n++] = (struct pvo_reply_item){f->b.st[i].date, f->b.st[i].minute, flag};
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(pvo_plan_apply(&f->plan, &f->b, it, n, NOW, &f->stats, &missing), 0);
    assert_int_equal(store_commit(f->st), 0);
    return missing;
}

static int64_t count(struct fx *f, enum outbox_state s)
{
    int64_t n = -1;
    assert_int_equal(store_outbox_count(f->st, PVO_SINK_NAME, s, &n), 0);
    return n;
}

static void test_batches_in_order(void **state)
{
    struct fx *f = *state;
    for (int k = 0; k < 40; k++) {
        put(f, "sniff", k, 100 + k, -50, 0);
        if (k < 5)
            put(f, "poll", k, 99, -49, 0);
    }
    next(f, PVO_BATCH_MAX, NOW);
    assert_int_equal(f->b.n, 30);
    assert_int_equal(f->stats.other_series, 5); /* poll's entries are not ours */
    assert_string_equal(f->b.text[0], "20170607,06:00,100,1200,50,600");
    assert_string_equal(f->b.text[1], "20170607,06:05,201,1212,101,612");
    for (size_t i = 1; i < f->b.n; i++)
        assert_true(f->b.st[i].end_s[0] > f->b.st[i - 1].end_s[0]);
    char body[4096];
    size_t len = pvo_batch_body(&f->b, false, body, sizeof body);
    assert_true(len > 0);
    assert_memory_equal(body, "data=20170607,06:00,100,1200,50,600;20170607,06:05,", 51);
    assert_null(strstr(body, "&n=1"));
    assert_int_equal(reply(f, 1, SIZE_MAX), 0);
    assert_int_equal(count(f, OUTBOX_DELIVERED), 30);
    next(f, PVO_BATCH_MAX, NOW);
    assert_int_equal(f->b.n, 10);
    assert_string_equal(f->b.compare[0], "20170607,08:30,3565,1560,2015,960");
    /* a status missing from the reply stays pending */
    assert_int_equal(reply(f, 1, 3), 1);
    assert_int_equal(count(f, OUTBOX_PENDING), 1);
    next(f, PVO_BATCH_MAX, NOW);
    assert_int_equal(f->b.n, 1);
    assert_int_equal(f->b.st[0].end_s[0], T(33));
    reply(f, 1, SIZE_MAX);
    next(f, PVO_BATCH_MAX, NOW);
    assert_int_equal(f->b.n, 0);
    assert_int_equal(count(f, OUTBOX_DELIVERED), 40);
}

static void test_revision_resends_rest_of_day(void **state)
{
    struct fx *f = *state;
    for (int k = 0; k < 10; k++)
        put(f, "sniff", k, 100, -50, 0);
    next(f, 30, NOW);
    reply(f, 1, SIZE_MAX);
    /* interval 6 revised: its status and the 3 later ones (running totals) */
    put(f, "sniff", 6, 110, -50, IFLAG_INTERPOLATED);
    next(f, 30, NOW);
    assert_int_equal(f->b.n, 4);
    assert_string_equal(f->b.compare[0], "20170607,06:30,710,1320,360,720");
    assert_string_equal(f->b.compare[3], "20170607,06:45,1010,1200,510,600");
    reply(f, 1, SIZE_MAX);
    /* only flags change: PVOutput has these values, nothing is sent */
    put(f, "sniff", 7, 100, -50, IFLAG_INTERPOLATED);
    next(f, 30, NOW);
    assert_int_equal(f->b.n, 0);
    assert_int_equal(f->stats.unchanged, 1);
    assert_int_equal(count(f, OUTBOX_PENDING), 0);
}

static void test_too_old_and_gaps(void **state)
{
    struct fx *f = *state;
    put(f, "sniff", 0, 100, -50, 0);
    struct interval_row gap = {.interval_end = T(1), .series = "sniff", .flags = IFLAG_GAP};
    const char *sinks[] = {PVO_SINK_NAME};
    store_begin(f->st);
    store_upsert_interval(f->st, &gap, sinks, 1, 1);
    store_commit(f->st);
    put(f, "sniff", 2, 100, -50, 0);
    next(f, 30, NOW + 20 * 86400);
    assert_int_equal(f->b.n, 0);
    assert_int_equal(f->stats.too_old, 3);
    assert_int_equal(count(f, OUTBOX_UNDELIVERABLE), 3);
}

static void test_rejected_not_resent(void **state)
{
    struct fx *f = *state;
    for (int k = 0; k < 3; k++)
        put(f, "sniff", k, 100, -50, 0);
    next(f, 1, NOW);
    assert_int_equal(f->b.n, 1);
    store_begin(f->st);
    assert_int_equal(pvo_plan_reject(&f->plan, &f->b, 0, "Moon Powered", NOW, &f->stats), 0);
    store_commit(f->st);
    next(f, 30, NOW);
    assert_int_equal(f->b.n, 2); /* the rest goes on */
    assert_int_equal(f->b.st[0].end_s[0], T(1));
    /* flag 0 in a reply: rejected too */
    reply(f, 0, SIZE_MAX);
    assert_int_equal(count(f, OUTBOX_UNDELIVERABLE), 3);
    /* the same values revised in flags only are not tried again */
    put(f, "sniff", 0, 100, -50, IFLAG_INTERPOLATED);
    next(f, 30, NOW);
    assert_int_equal(f->b.n, 0);
    assert_int_equal(f->stats.still_rejected, 1);
    /* new values are */
    put(f, "sniff", 0, 90, -50, 0);
    next(f, 30, NOW);
    assert_true(f->b.n >= 1);
    assert_string_equal(f->b.compare[0], "20170607,06:00,90,1080,40,480");
}

static void test_pause_kept(void **state)
{
    struct fx *f = *state;
    int64_t until = -1;
    assert_int_equal(pvo_pause_load(f->st, &until), 0);
    assert_int_equal(until, 0);
    assert_int_equal(pvo_pause_save(f->st, 1496851200), 0);
    store_close(f->st);
    assert_int_equal(store_open(f->path, f->tz, 0, &f->st), 0);
    assert_int_equal(pvo_pause_load(f->st, &until), 0);
    assert_int_equal(until, 1496851200);
    assert_int_equal(pvo_pause_save(f->st, 0), 0);
    assert_int_equal(pvo_pause_load(f->st, &until), 0);
    assert_int_equal(until, 0);
    char url[64];
    pvo_request_url("http://127.0.0.1:1/r2", "addbatchstatus.jsp", url, sizeof url);
    assert_string_equal(url, "http://127.0.0.1:1/r2/addbatchstatus.jsp");
    pvo_request_url("http://127.0.0.1:1/r2/", "getsystem.jsp", url, sizeof url);
    assert_string_equal(url, "http://127.0.0.1:1/r2/getsystem.jsp");
}

static bool output(struct fx *f, int64_t now, struct pvo_output_req *o)
{
    bool found = false;
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(pvo_plan_output(&f->plan, now, o, &found), 0);
    assert_int_equal(store_commit(f->st), 0);
    return found;
}

static void output_done(struct fx *f, const struct pvo_output_req *o, bool ok)
{
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(pvo_plan_output_done(&f->plan, o, ok, NOW), 0);
    assert_int_equal(store_commit(f->st), 0);
}

static void deliver_all(struct fx *f, int64_t now)
{
    for (;;) {
        next(f, PVO_BATCH_MAX, now);
        if (f->b.n == 0)
            break;
        reply(f, 1, SIZE_MAX);
    }
}

/* The interval ending at local 00:00 of 06-08 (07:00Z) completes 06-07. */
static const int64_t MIDNIGHT_0608 = 1496905200;

static void put_at(struct fx *f, int64_t end, double prod, double net)
{
    struct interval_row r = {.interval_end = end,
                             .series = "sniff",
                             .production_wh = prod,
                             .net_wh = net,
                             .consumption_wh = prod + net,
                             .has = IHAS_PRODUCTION | IHAS_NET | IHAS_CONSUMPTION};
    const char *sinks[] = {PVO_SINK_NAME};
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_upsert_interval(f->st, &r, sinks, 1, 1), 0);
    assert_int_equal(store_commit(f->st), 0);
}

static void test_daily_output(void **state)
{
    struct fx *f = *state;
    struct pvo_output_req o;
    int64_t now = MIDNIGHT_0608 + 3600;
    for (int k = 0; k < 40; k++)
        put(f, "sniff", k, 100.5, -50.2, 0);
    /* the day is not complete: its statuses go, no output */
    deliver_all(f, now);
    assert_false(output(f, now, &o));
    /* the interval ending at local 00:00 completes it; not before its status went */
    put_at(f, MIDNIGHT_0608, 0, 10);
    assert_false(output(f, now, &o));
    deliver_all(f, now);
    assert_true(output(f, now, &o));
    assert_int_equal(o.o.date, 20170607);
    assert_string_equal(o.body, "d=20170607&g=4020&c=2012"); /* 40 x 100.5, 40 x 50.3 */
    output_done(f, &o, true);
    /* sent once: the 06-08 day is not complete */
    assert_false(output(f, now, &o));
    /* a revision that changes the day's totals sends it again, once */
    put(f, "sniff", 5, 200.5, -50.2, 0);
    assert_false(output(f, now, &o)); /* its statuses first */
    deliver_all(f, now);
    assert_true(output(f, now, &o));
    assert_string_equal(o.body, "d=20170607&g=4120&c=2112");
    output_done(f, &o, true);
    assert_false(output(f, now, &o));
    /* a revision that leaves the totals as they were sends no output */
    put(f, "sniff", 6, 150.5, -50.2, 0);
    put(f, "sniff", 7, 50.5, -50.2, 0);
    deliver_all(f, now);
    assert_false(output(f, now, &o));
    /* refused totals are not tried again; new ones are */
    put(f, "sniff", 8, 101.5, -50.2, 0);
    deliver_all(f, now);
    assert_true(output(f, now, &o));
    output_done(f, &o, false);
    assert_false(output(f, now, &o));
    /* past the backload window: not sent */
    put(f, "sniff", 9, 102.5, -50.2, 0);
    int64_t late = MIDNIGHT_0608 + 20 * 86400;
    deliver_all(f, late);
    assert_false(output(f, late, &o));
}

static void test_daily_output_dry_run(void **state)
{
    struct fx *f = *state;
    int64_t now = MIDNIGHT_0608 + 3600;
    for (int k = 0; k < 3; k++)
        put(f, "sniff", k, 10, -5, 0);
    put_at(f, MIDNIGHT_0608, 1, 1);
    deliver_all(f, now);
    char buf[1024] = "";
    FILE *mem = fmemopen(buf, sizeof buf, "w");
    assert_non_null(mem);
    size_t n = 0;
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(
        pvo_plan_dry_outputs(&f->plan, now, "http://127.0.0.1:1/service/r2", 42, mem, &n), 0);
    store_rollback(f->st);
    fclose(mem);
    assert_int_equal(n, 1);
    assert_non_null(strstr(buf, "POST http://127.0.0.1:1/service/r2/addoutput.jsp\n"));
    assert_non_null(strstr(buf, "X-Pvoutput-Apikey: <redacted>\nX-Pvoutput-SystemId: 42\n"));
    assert_non_null(strstr(buf, "\n\nd=20170607&g=30&c=15\n"));
    /* rolled back: still due */
    struct pvo_output_req o;
    assert_true(output(f, now, &o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batches_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revision_resends_rest_of_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_old_and_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_not_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_output_dry_run, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
