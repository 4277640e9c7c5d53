/* Logging: one function with a level and the module name, to stderr. */
#ifndef PVTAP_UTIL_LOG_H
#define PVTAP_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Values are syslog priorities, so journald keeps them ("<3>" prefixes). */
enum log_level {
    LOGL_ERR = 3,
    LOGL_WARNING = 4,
    LOGL_NOTICE = 5,
    LOGL_INFO = 6,
    LOGL_DEBUG = 7,
};

/* The one global of util/: the threshold and output style, set once by main
 * (or the daemon on SIGHUP). Messages above the threshold are dropped.
 * Under systemd (JOURNAL_STREAM set) lines start with "<N>" instead of a
 * time stamp. Thread-safe: each message is one write(2). */
void log_init(enum log_level threshold);
void log_set_level(enum log_level threshold);
enum log_level log_get_level(void);

/* "error", "warning", "notice", "info", "debug" -> level; -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rate-limited complaints for a device that stays down (after collectd's
 * utils_complain): the first failure is logged, then at most once per
 * interval (doubling up to a day); the first success after failures logs
 * "recovered" once. Owned by the caller, zero-initialise it. */
struct complaint {
    int64_t last_s;       /* when we last complained */
    int64_t interval_s;   /* current quiet time */
    uint64_t failures;    /* since the last success */
    bool failing;
};

void complain(struct complaint *c, int64_t now_s, enum log_level level, const char *module,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Returns true when it logged the recovery (the state was failing). */
bool complain_clear(struct complaint *c, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A cap on lines a peer can cause at will (bad web requests): at most
 * LOG_BURST_MAX lines per LOG_BURST_WINDOW_S; the rest are counted and said
 * in one summary line once the window is over (by the next message or
 * log_burst_flush()). Owned by the caller, zero-initialise it; the caller
 * serialises calls on one struct. */
enum { LOG_BURST_MAX = 10, LOG_BURST_WINDOW_S = 60 };
struct log_burst {
    int64_t window_start; /* first message of the current window */
    unsigned logged;      /* lines printed in it */
    uint64_t suppressed;  /* lines dropped in it */
};

/* Returns true when the line was printed. */
bool log_burst(struct log_burst *b, int64_t now_s, enum log_level level, const char *module,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* When the window is over and lines were dropped: print the summary
 * ("N more such messages in the last S s") and start afresh. */
void log_burst_flush(struct log_burst *b, int64_t now_s, enum log_level level, const char *module);

#endif
