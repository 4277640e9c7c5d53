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

#endif
