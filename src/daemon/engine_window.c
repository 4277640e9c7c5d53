/* The engine's bounded window: what it is fed at start, when it forgets, which readings are late.
 */
#include "daemon/daemon_internal.h"

#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

static const char *const MOD = "daemon";

/* A reading stamped more than a day ahead of the clock does not drag the
 * window forward (it would make a week of good data "late"). */
enum { FUTURE_SLACK_S = 86400 };

static int64_t floor_interval(int64_t t)
{
    int64_t r = ((t % INTERVAL_S) + INTERVAL_S) % INTERVAL_S;
    return t - r;
}

int64_t daemon_window_target(const struct daemon *d)
{
    if (!d->newest_data_s)
        return 0;
    int64_t newest = d->newest_data_s;
    int64_t ahead = time_now_s() + FUTURE_SLACK_S;
    if (newest > ahead)
        newest = ahead;
    int64_t t = floor_interval(newest - ENGINE_WINDOW_S);
    return t > 0 ? t : 0;
}

static void set_horizon(struct daemon *d, int64_t horizon)
{
    d->horizon_s = horizon;
    d->accept_from_s = horizon ? horizon + ENGINE_REACH_S + d->max_poll_gap_s : 0;
}

static void feed(void *ctx, const struct reading *r)
{
    engine_add(ctx, r);
}

int daemon_engine_since(struct daemon *d, int64_t from_s, struct engine **out)
{
    *out = engine_new(&d->ep);
    if (!*out)
        return PVTAP_ENOMEM;
    /* Rows from from_s on need every pair of points that reaches them: the
     * points from a reach (and a poll gap) earlier, each counter's last
     * point before that as its base. */
    int64_t load_from = from_s - ENGINE_REACH_S - d->max_poll_gap_s;
    struct reading_sink s = {feed, *out};
    int rc = from_s > 0 ? store_load_readings_since(d->store, load_from, &s)
                        : store_load_readings(d->store, NULL, &s);
    const struct interval_row *rows;
    size_t n;
    if (rc == 0)
        rc = engine_collect(*out, &rows, &n);
    if (rc < 0) {
        engine_free(*out);
        *out = NULL;
        return rc;
    }
    if (from_s > 0)
        engine_forget(*out, from_s);
    return 0;
}

int daemon_window_engine(struct daemon *d, struct engine **out)
{
    int64_t newest = 0;
    bool found = false;
    int rc = store_newest_record(d->store, &newest, &found);
    if (rc < 0)
        return rc;
    d->newest_data_s = found ? newest : 0;
    int64_t target = daemon_window_target(d);
    rc = daemon_engine_since(d, target, out);
    if (rc == 0)
        set_horizon(d, target);
    return rc;
}

void daemon_window_advance(struct daemon *d)
{
    int64_t target = daemon_window_target(d);
    if (target <= d->horizon_s || d->n_dirty)
        return;
    engine_forget(d->engine, target);
    set_horizon(d, target);
}

bool daemon_reading_late(struct daemon *d, const struct reading *r)
{
    /* Against the window as the data now stands, not as of the last
     * commit: the verdict does not depend on how readings fell into
     * batches (a capture file gives days of them between two commits). */
    int64_t target = daemon_window_target(d);
    int64_t from = target ? target + ENGINE_REACH_S + d->max_poll_gap_s : 0;
    if (from < d->accept_from_s)
        from = d->accept_from_s;
    return from && r->time < from;
}

void daemon_late_note(struct daemon *d, const struct reading *r)
{
    if (!d->late_waiting || r->time < d->late_from_s)
        d->late_from_s = r->time;
    if (!d->late_waiting)
        log_msg(LOGL_INFO, MOD,
                "a reading of %s at %lld is older than the engine's window: its intervals will "
                "be recomputed from the store's records",
                r->device, (long long)r->time);
    d->late_waiting = true;
    d->late_readings++;
}
