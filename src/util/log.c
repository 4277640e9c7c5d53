/* Logging to stderr with levels; syslog priority prefixes under journald. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level g_threshold = LOGL_INFO;
static int g_journal = -1; /* -1 unknown, 0 plain, 1 journald prefixes */

void log_init(enum log_level threshold)
{
    g_threshold = threshold;
    g_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(enum log_level threshold)
{
    g_threshold = threshold;
}

enum log_level log_get_level(void)
{
    return g_threshold;
}

static const struct {
    const char *name;
    enum log_level level;
} level_names[] = {
    {"error", LOGL_ERR}, {"warning", LOGL_WARNING}, {"notice", LOGL_NOTICE},
    {"info", LOGL_INFO}, {"debug", LOGL_DEBUG},
};

int log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(level_names[i].name, name) == 0)
            return (int)level_names[i].level;
    return -1;
}

const char *log_level_name(enum log_level level)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (level_names[i].level == level)
            return level_names[i].name;
    return "?";
}

static void log_vmsg(enum log_level level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_vmsg(enum log_level level, const char *module, const char *fmt, va_list ap)
{
    if (level > g_threshold)
        return;
    if (g_journal < 0)
        g_journal = getenv("JOURNAL_STREAM") != NULL;
    char line[2048];
    size_t n = 0;
    int w;
    if (g_journal) {
        w = snprintf(line, sizeof line, "<%d>%s: ", (int)level, module);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        w = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02dZ pvtap %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     log_level_name(level), module);
    }
    if (w > 0)
        n = (size_t)w < sizeof line ? (size_t)w : sizeof line - 1;
    w = vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (w > 0)
        n += (size_t)w < sizeof line - n ? (size_t)w : sizeof line - n - 1;
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* One write per line so threads never interleave inside a message. */
    ssize_t r = write(STDERR_FILENO, line, n);
    (void)r;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, module, fmt, ap);
    va_end(ap);
}

enum { COMPLAIN_FIRST_S = 60, COMPLAIN_MAX_S = 86400 };

void complain(struct complaint *c, int64_t now_s, enum log_level level, const char *module,
              const char *fmt, ...)
{
    c->failures++;
    /* A clock stepped back (NTP after a boot on a stale clock) must not
     * silence a device for as long as the step: complain, and measure the
     * quiet time from the new clock. */
    if (c->failing && now_s >= c->last_s && now_s - c->last_s < c->interval_s)
        return;
    if (!c->failing) {
        c->failing = true;
        c->interval_s = COMPLAIN_FIRST_S;
    } else if (c->interval_s < COMPLAIN_MAX_S) {
        c->interval_s *= 2;
        if (c->interval_s > COMPLAIN_MAX_S)
            c->interval_s = COMPLAIN_MAX_S;
    }
    c->last_s = now_s;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (c->failures > 1)
        log_msg(level, module, "%s (still failing, %llu failures)", text,
                (unsigned long long)c->failures);
    else
        log_msg(level, module, "%s", text);
}

bool complain_clear(struct complaint *c, const char *module, const char *fmt, ...)
{
    if (!c->failing) {
        c->failures = 0;
        return false;
    }
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    log_msg(LOGL_NOTICE, module, "%s (recovered after %llu failures)", text,
            (unsigned long long)c->failures);
    c->failing = false;
    c->failures = 0;
    c->interval_s = 0;
    return true;
}

void log_burst_flush(struct log_burst *b, int64_t now_s, enum log_level level, const char *module)
{
    /* a clock stepped back ends the window too: never silent for the step */
    bool over = now_s < b->window_start || now_s - b->window_start >= LOG_BURST_WINDOW_S;
    if (!over || !b->logged)
        return;
    if (b->suppressed)
        log_msg(level, module, "%llu more such messages in the last %lld s",
                (unsigned long long)b->suppressed, (long long)(now_s - b->window_start));
    b->logged = 0;
    b->suppressed = 0;
}

bool log_burst(struct log_burst *b, int64_t now_s, enum log_level level, const char *module,
               const char *fmt, ...)
{
    log_burst_flush(b, now_s, level, module);
    if (b->logged == 0)
        b->window_start = now_s;
    if (b->logged >= LOG_BURST_MAX) {
        b->suppressed++;
        return false;
    }
    b->logged++;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    log_msg(level, module, "%s", text);
    return true;
}
