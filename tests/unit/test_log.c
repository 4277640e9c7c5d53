/* Unit tests for util/log: levels, line format, and complain() rate limiting (stderr captured). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* stderr goes to a temporary file between capture_begin() and
 * capture_end(); assertions run only after capture_end() so cmocka's own
 * messages are never swallowed. */
static FILE *g_cap;
static int g_saved_fd = -1;
static char g_out[1 << 18];

static void capture_begin(void)
{
    fflush(stderr);
    g_cap = tmpfile();
    assert_non_null(g_cap);
    /* O_APPEND, as a log file would be opened: concurrent writers then
     * never overwrite each other at a shared offset. */
    int fl = fcntl(fileno(g_cap), F_GETFL);
    assert_true(fl >= 0 && fcntl(fileno(g_cap), F_SETFL, fl | O_APPEND) == 0);
    g_saved_fd = dup(STDERR_FILENO);
    assert_true(g_saved_fd >= 0);
    assert_true(dup2(fileno(g_cap), STDERR_FILENO) >= 0);
}

/* The captured text, NUL-terminated, in g_out; returns its length. */
static size_t capture_end(void)
{
    fflush(stderr);
    int rc = dup2(g_saved_fd, STDERR_FILENO);
    close(g_saved_fd);
    g_saved_fd = -1;
    assert_true(rc >= 0);
    rewind(g_cap);
    size_t n = fread(g_out, 1, sizeof g_out - 1, g_cap);
    g_out[n] = '\0';
    fclose(g_cap);
    g_cap = NULL;
    assert_true(n < sizeof g_out - 1); /* all of it, or the test is wrong */
    return n;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int setup_plain(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    log_init(LOGL_DEBUG);
    return 0;
}

static void test_level_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int level;
    } cases[] = {
        {"error", LOGL_ERR},     {"warning", LOGL_WARNING}, {"notice", LOGL_NOTICE},
        {"info", LOGL_INFO},     {"debug", LOGL_DEBUG},     {"warn", -1},
        {"ERROR", -1},           {"", -1},                  {"debug ", -1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        assert_int_equal(log_level_parse(cases[i].name), cases[i].level);
        if (cases[i].level >= 0)
            assert_string_equal(log_level_name((enum log_level)cases[i].level), cases[i].name);
    }
    assert_int_equal(log_level_parse(NULL), -1);
    assert_string_equal(log_level_name((enum log_level)42), "?");
}

/* "2017-06-07T16:20:00Z pvtap LEVEL MODULE: text" */
static void assert_plain_line(const char *line, const char *rest)
{
    assert_true(strlen(line) > 21);
    for (int i = 0; i < 20; i++) {
        char c = line[i];
        if (i == 4 || i == 7)
            assert_int_equal(c, '-');
        else if (i == 10)
            assert_int_equal(c, 'T');
        else if (i == 13 || i == 16)
            assert_int_equal(c, ':');
        else if (i == 19)
            assert_int_equal(c, 'Z');
        else
            assert_true(c >= '0' && c <= '9');
    }
    assert_string_equal(line + 20, rest);
}

static void test_threshold_and_format(void **state)
{
    (void)state;
    capture_begin();
    log_set_level(LOGL_WARNING);
    log_msg(LOGL_INFO, "sniff", "dropped %d", 1);
    log_msg(LOGL_DEBUG, "sniff", "dropped %d", 2);
    log_msg(LOGL_WARNING, "sniff", "kept %d", 3);
    log_msg(LOGL_ERR, "store", "kept %s", "four");
    enum log_level got = log_get_level();
    log_set_level(LOGL_DEBUG);
    capture_end();
    assert_int_equal(got, LOGL_WARNING);
    assert_int_equal(count_lines(g_out), 2);
    char *second = strchr(g_out, '\n') + 1;
    second[-1] = '\0';
    assert_plain_line(g_out, " pvtap warning sniff: kept 3");
    assert_plain_line(second, " pvtap error store: kept four\n");
}

static void test_journal_prefix(void **state)
{
    (void)state;
    setenv("JOURNAL_STREAM", "8:12345", 1);
    log_init(LOGL_INFO);
    capture_begin();
    log_msg(LOGL_NOTICE, "daemon", "ready");
    log_msg(LOGL_DEBUG, "daemon", "not shown");
    log_msg(LOGL_ERR, "poll", "wattnode@%d: timeout", 1);
    capture_end();
    unsetenv("JOURNAL_STREAM");
    log_init(LOGL_DEBUG);
    assert_string_equal(g_out, "<5>daemon: ready\n<3>poll: wattnode@1: timeout\n");
}

static void test_long_message(void **state)
{
    (void)state;
    static char big[5000];
    memset(big, 'x', sizeof big - 1);
    capture_begin();
    log_msg(LOGL_ERR, "m", "%s", big);
    log_msg(LOGL_ERR, "m", "after");
    size_t n = capture_end();
    /* Truncated to one line of the buffer, then the next line intact. */
    assert_int_equal(count_lines(g_out), 2);
    char *nl = strchr(g_out, '\n');
    assert_true((size_t)(nl - g_out) < 2048);
    assert_true(nl - g_out > 2000);
    assert_int_equal(nl[-1], 'x');
    assert_true(n > 6 && strcmp(g_out + n - 6, "after\n") == 0);
}

/* A scripted device outage: each step complains (or clears) at a time and
 * says whether a line must appear and what it must end with. */
enum action { FAIL, CLEAR };
struct step {
    enum action act;
    int64_t now;
    const char *expect; /* NULL: silent; else the line's ending */
    int64_t interval_after;
};

static void run_steps(const struct step *steps, size_t n)
{
    struct complaint c = {0};
    for (size_t i = 0; i < n; i++) {
        capture_begin();
        bool cleared = false;
        if (steps[i].act == FAIL)
            complain(&c, steps[i].now, LOGL_WARNING, "poll", "wattnode@1: no answer");
        else
            cleared = complain_clear(&c, "poll", "wattnode@1 answers");
        capture_end();
        if (steps[i].expect == NULL) {
            if (g_out[0] != '\0')
                fail_msg("step %zu (t=%lld): unexpected \"%s\"", i, (long long)steps[i].now,
                         g_out);
        } else {
            size_t len = strlen(g_out), el = strlen(steps[i].expect);
            if (count_lines(g_out) != 1 || len < el ||
                strcmp(g_out + len - el, steps[i].expect) != 0)
                fail_msg("step %zu (t=%lld): got \"%s\", want ...\"%s\"", i,
                         (long long)steps[i].now, g_out, steps[i].expect);
        }
        if (steps[i].act == CLEAR)
            assert_int_equal(cleared, steps[i].expect != NULL);
        if (c.interval_s != steps[i].interval_after)
            fail_msg("step %zu: interval %lld, want %lld", i, (long long)c.interval_s,
                     (long long)steps[i].interval_after);
    }
}

static void test_complain_rate_limit(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {CLEAR, 0, NULL, 0}, /* never failed: silent */
        {FAIL, 1000, "warning poll: wattnode@1: no answer\n", 60},
        {FAIL, 1001, NULL, 60},
        {FAIL, 1059, NULL, 60},
        {FAIL, 1060, "no answer (still failing, 4 failures)\n", 120},
        {FAIL, 1179, NULL, 120},
        {FAIL, 1180, "no answer (still failing, 6 failures)\n", 240},
        {FAIL, 1419, NULL, 240},
        {FAIL, 1420, "(still failing, 8 failures)\n", 480},
        {CLEAR, 1421, "notice poll: wattnode@1 answers (recovered after 8 failures)\n", 0},
        {CLEAR, 1422, NULL, 0},
        /* A new outage starts over: first line plain, a minute's quiet. */
        {FAIL, 5000, "warning poll: wattnode@1: no answer\n", 60},
        {FAIL, 5030, NULL, 60},
        /* The clock steps back a day: complain now, not a day later. */
        {FAIL, 5000 - 86400, "(still failing, 3 failures)\n", 120},
        {FAIL, 5000 - 86400 + 119, NULL, 120},
        {FAIL, 5000 - 86400 + 120, "(still failing, 5 failures)\n", 240},
    };
    run_steps(steps, N_ELEMS(steps));
}

/* A device down for weeks, polled every 10 s: quiet times double to a day
 * and stay there, so the log sees a handful of lines, not 100 000s. */
static void test_complain_backoff_cap(void **state)
{
    (void)state;
    struct complaint c = {0};
    int64_t last_interval = 0;
    size_t logged, intervals_seen = 0;
    int64_t seen[32];
    capture_begin();
    for (int64_t t = 0; t < 30 * 86400; t += 10) {
        complain(&c, t, LOGL_ERR, "poll", "down");
        if (c.interval_s != last_interval && intervals_seen < N_ELEMS(seen))
            seen[intervals_seen++] = c.interval_s;
        last_interval = c.interval_s;
    }
    capture_end();
    logged = count_lines(g_out);
    /* 60, 120, ..., 61440, then capped at 86400. */
    static const int64_t want[] = {60,   120,  240,   480,   960,   1920,  3840,
                                   7680, 15360, 30720, 61440, 86400};
    assert_int_equal(intervals_seen, N_ELEMS(want));
    for (size_t i = 0; i < N_ELEMS(want); i++)
        assert_int_equal(seen[i], want[i]);
    /* Lines at 0, 60, 180, ... 122820, then one a day: 12 + the days left. */
    int64_t t = 0, interval = 60;
    size_t expect = 1;
    for (;;) {
        int64_t next = t + interval;
        next = (next + 9) / 10 * 10; /* the first poll at or after the due time */
        if (next >= 30 * 86400)
            break;
        t = next;
        expect++;
        interval = interval * 2 > 86400 ? 86400 : interval * 2;
    }
    assert_int_equal(logged, expect);
    assert_true(logged < 50);
    assert_int_equal(c.failures, 30 * 8640);
}

/* Complaints below the threshold are not printed, yet they count. */
static void test_complain_below_threshold(void **state)
{
    (void)state;
    struct complaint c = {0};
    log_set_level(LOGL_WARNING);
    capture_begin();
    complain(&c, 100, LOGL_INFO, "poll", "quiet");
    bool r = complain_clear(&c, "poll", "back");
    capture_end();
    log_set_level(LOGL_DEBUG);
    assert_string_equal(g_out, ""); /* the recovery is a notice: below warning too */
    assert_true(r);
    assert_false(c.failing);
    assert_int_equal(c.failures, 0);
}

/* Each message is one write(2): lines from threads never interleave. */
/* A flood of 5000 bad requests in 5 s: LOG_BURST_MAX lines, then one
 * summary when the window is over, then lines again. */
static void test_burst_limit(void **state)
{
    (void)state;
    struct log_burst b = {0};
    capture_begin();
    unsigned printed = 0;
    for (int i = 0; i < 5000; i++)
        printed += log_burst(&b, 1000 + i / 1000, LOGL_WARNING, "http", "bad request %d", i);
    log_burst_flush(&b, 1030, LOGL_WARNING, "http"); /* window not over: nothing */
    log_burst_flush(&b, 1060, LOGL_WARNING, "http");
    log_burst_flush(&b, 1061, LOGL_WARNING, "http"); /* said once */
    bool again = log_burst(&b, 1062, LOGL_WARNING, "http", "bad request again");
    capture_end();
    assert_int_equal(printed, LOG_BURST_MAX);
    assert_true(again);
    assert_int_equal(count_lines(g_out), LOG_BURST_MAX + 2);
    assert_non_null(strstr(g_out, "bad request 0\n"));
    assert_null(strstr(g_out, "bad request 10\n"));
    assert_non_null(strstr(g_out, "4990 more such messages in the last 60 s\n"));
    assert_non_null(strstr(g_out, "bad request again\n"));
}

/* A clock stepped back a day ends the window: no day of silence. */
static void test_burst_clock_back(void **state)
{
    (void)state;
    struct log_burst b = {0};
    capture_begin();
    for (int i = 0; i < 20; i++)
        log_burst(&b, 86400, LOGL_WARNING, "http", "bad %d", i);
    bool r = log_burst(&b, 10, LOGL_WARNING, "http", "after the step");
    capture_end();
    assert_true(r);
    assert_non_null(strstr(g_out, "10 more such messages"));
}

enum { THREADS = 4, PER_THREAD = 300 };

static const char FILLER[] = "................................................................";

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        log_msg(LOGL_INFO, "thread", "writer %d line %d %s", id, i, FILLER);
    return NULL;
}

static void test_threads_no_interleave(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    bool started[THREADS];
    capture_begin();
    for (int i = 0; i < THREADS; i++)
        started[i] = pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i) == 0;
    for (int i = 0; i < THREADS; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    capture_end();
    for (int i = 0; i < THREADS; i++)
        assert_true(started[i]);
    assert_int_equal(count_lines(g_out), THREADS * PER_THREAD);
    int seen[THREADS] = {0};
    char *save = NULL;
    for (char *line = g_out; line && *line; line = save) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        save = nl + 1;
        int id, n;
        const char *p = strstr(line, " pvtap info thread: writer ");
        assert_non_null(p);
        assert_int_equal(sscanf(p, " pvtap info thread: writer %d line %d", &id, &n), 2);
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(n, seen[id]); /* each thread's lines in its order */
        seen[id]++;
        /* Exactly one message on the line: one prefix, the filler at the end. */
        assert_null(strstr(p + strlen(" pvtap"), "pvtap"));
        size_t len = strlen(line);
        assert_true(len > sizeof FILLER);
        assert_string_equal(line + len - (sizeof FILLER - 1), FILLER);
        assert_int_equal(line[len - sizeof FILLER], ' ');
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(seen[i], PER_THREAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_level_names, setup_plain),
        cmocka_unit_test_setup(test_threshold_and_format, setup_plain),
        cmocka_unit_test_setup(test_journal_prefix, setup_plain),
        cmocka_unit_test_setup(test_long_message, setup_plain),
        cmocka_unit_test_setup(test_complain_rate_limit, setup_plain),
        cmocka_unit_test_setup(test_complain_backoff_cap, setup_plain),
        cmocka_unit_test_setup(test_complain_below_threshold, setup_plain),
        cmocka_unit_test_setup(test_threads_no_interleave, setup_plain),
        cmocka_unit_test_setup(test_burst_limit, setup_plain),
        cmocka_unit_test_setup(test_burst_clock_back, setup_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
