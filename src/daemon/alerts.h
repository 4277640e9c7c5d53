/* Alerts: conditions a user must hear about, raised once and cleared once. */
#ifndef PVTAP_DAEMON_ALERTS_H
#define PVTAP_DAEMON_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ALERTS_MAX = 64 };

struct alert {
    char id[96];    /* stable key, e.g. "supervisor_silent:sniff#1" */
    char text[256]; /* what a person reads */
    int64_t since_s;
};

/* The active set. Each raise is logged once (and each clear once); a
 * change bumps `version` so the daemon re-publishes the set. */
struct alert_set {
    struct alert a[ALERTS_MAX];
    size_t n;
    uint64_t version;
};

/* Raise (on) or clear (!on) the alert id; text is kept up to date while
 * it stays on without a new log line. */
void alerts_update(struct alert_set *s, const char *id, bool on, int64_t now_s, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
bool alerts_active(const struct alert_set *s, const char *id);
/* JSON array [{"id":..,"text":..,"since":"..Z"}]; caller frees. */
char *alerts_json(const struct alert_set *s);

#endif
