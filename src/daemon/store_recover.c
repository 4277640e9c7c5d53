/* The daemon's store when it fails: commits retried with back-off, a deleted file re-created. */
#include "daemon/daemon_internal.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

static const char *const MOD = "daemon";

enum {
    STORE_RETRY_FIRST_MS = 1000,
    STORE_RETRY_MAX_MS = 60000,
};

static int64_t doubled(int64_t ms)
{
    if (ms < STORE_RETRY_FIRST_MS)
        return STORE_RETRY_FIRST_MS;
    return ms * 2 > STORE_RETRY_MAX_MS ? STORE_RETRY_MAX_MS : ms * 2;
}

void daemon_store_backoff(struct daemon *d, bool failed)
{
    if (!failed) {
        d->store_retry_ms = 0;
        d->store_backoff_ms = 0;
        return;
    }
    d->store_backoff_ms = doubled(d->store_backoff_ms);
    d->store_retry_ms = time_mono_ms() + d->store_backoff_ms;
}

void daemon_store_check_file(struct daemon *d)
{
    if (!d->store || !store_file_moved(d->store))
        return;
    int64_t now_ms = time_mono_ms();
    if (d->store_file_lost && now_ms < d->recreate_retry_ms)
        return; /* commits go on into the open (unlinked) file meanwhile */
    int64_t now = time_now_s();
    if (!d->store_file_lost) {
        d->store_file_lost = true;
        alerts_update(&d->alerts, "store_file", true, now,
                      "the store %s was deleted or replaced while pvtap ran: re-creating it "
                      "from the open database",
                      d->store_path);
    }
    int rc = store_recreate(d->store);
    if (rc < 0) {
        if (d->recreate_backoff_ms == 0) /* said once a loss, not at each retry */
            log_msg(LOGL_ERR, MOD,
                    "the store %s was deleted or replaced and cannot be re-created (%s): what "
                    "it holds is kept only until pvtap stops; retried with back-off",
                    d->store_path, store_last_error(d->store));
        d->recreate_backoff_ms = doubled(d->recreate_backoff_ms);
        d->recreate_retry_ms = now_ms + d->recreate_backoff_ms;
        alerts_update(&d->alerts, "store_file", true, now,
                      "the store %s was deleted or replaced while pvtap ran and cannot be "
                      "re-created (%s): what it holds is kept only until pvtap stops",
                      d->store_path, store_last_error(d->store));
        return;
    }
    d->store_file_lost = false;
    d->recreate_backoff_ms = 0;
    d->store_recreated_s = now;
    d->store_recreations++;
    char when[32];
    time_format_iso_utc(now, when, sizeof when);
    alerts_update(&d->alerts, "store_file", true, now,
                  "the store %s was deleted or replaced while pvtap ran; re-created at %s from "
                  "the open database, nothing lost",
                  d->store_path, when);
    log_msg(LOGL_NOTICE, MOD, "the store %s is re-created with everything it held", d->store_path);
    daemon_restart_sinks(d);
}
