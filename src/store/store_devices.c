/* Per-inverter energy per interval, from the records table, over a read-only connection of its own. */
#include "store/store_devices.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

static const char *const MOD = "store";

enum { MAX_SPLIT = 12, MAX_DEVICES = 4096 };

struct store_devices {
    sqlite3 *db;
    sqlite3_stmt *next_device, *energy_kind, *base, *range;
};

int store_devices_open(const char *path, struct store_devices **out)
{
    *out = NULL;
    struct store_devices *sd = calloc(1, sizeof *sd);
    if (!sd)
        return PVTAP_ENOMEM;
    int rc = sqlite3_open_v2(path, &sd->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(sd->db, 5000);
        /* The primary key (series, device, quantity, time) makes each of
         * these an index seek: the next device name, whether it has a
         * lifetime energy counter, its last record before the range, its
         * records in the range. (The next device is not asked together
         * with its quantity: that walked every record of a meter, years of
         * them, to find the device after it.) */
        rc = sqlite3_prepare_v2(sd->db,
                                "SELECT device FROM records WHERE series = ?1 AND device > ?2"
                                " ORDER BY device LIMIT 1",
                                -1, &sd->next_device, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(sd->db,
                                "SELECT kind FROM records WHERE series = ?1 AND device = ?2"
                                " AND quantity = 'energy_lifetime_kWh' LIMIT 1",
                                -1, &sd->energy_kind, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(sd->db,
                                "SELECT time, value FROM records WHERE series = ?1 AND device = ?2"
                                " AND quantity = 'energy_lifetime_kWh' AND time <= ?3"
                                " ORDER BY time DESC LIMIT 1",
                                -1, &sd->base, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(sd->db,
                                "SELECT time, value FROM records WHERE series = ?1 AND device = ?2"
                                " AND quantity = 'energy_lifetime_kWh' AND time > ?3 AND time <= ?4"
                                " ORDER BY time",
                                -1, &sd->range, NULL);
    if (rc != SQLITE_OK) {
        log_msg(LOGL_WARNING, MOD, "%s: %s", path, sd->db ? sqlite3_errmsg(sd->db) : "cannot open");
        store_devices_close(sd);
        return PVTAP_EIO;
    }
    *out = sd;
    return 0;
}

void store_devices_close(struct store_devices *sd)
{
    if (!sd)
        return;
    sqlite3_finalize(sd->next_device);
    sqlite3_finalize(sd->energy_kind);
    sqlite3_finalize(sd->base);
    sqlite3_finalize(sd->range);
    sqlite3_close(sd->db);
    free(sd);
}

struct acc {
    int64_t from, to;
    struct device_interval *v; /* one slot per interval of the range */
    size_t n;
};

static void give(struct acc *a, int64_t ie, double wh, unsigned flags)
{
    if (ie < a->from + INTERVAL_S || ie > a->to)
        return;
    struct device_interval *d = &a->v[(ie - a->from - INTERVAL_S) / INTERVAL_S];
    d->energy_wh += wh;
    d->flags |= flags;
    d->interval_end = ie;
}

/* prev -> cur: the engine's rules, applied to one device. */
static void attribute(struct acc *a, int64_t t0, double kwh0, int64_t t1, double kwh1)
{
    int64_t ie1 = interval_end(t1);
    int64_t k = (ie1 - interval_end(t0)) / INTERVAL_S;
    double wh = (kwh1 - kwh0) * 1000.0;
    if (wh < 0) {
        give(a, ie1, 0.0, IFLAG_COUNTER_RESET);
    } else if (k <= 1) {
        give(a, ie1, wh, 0);
    } else if (k <= MAX_SPLIT) {
        for (int64_t i = 0; i < k; i++)
            give(a, ie1 - i * INTERVAL_S, wh / (double)k, IFLAG_INTERPOLATED);
    } else if (wh > 1.0) {
        give(a, ie1, 0.0, IFLAG_GAP);
    }
}

int store_device_energy(struct store_devices *sd, const char *series, int64_t from_s,
                        int64_t to_s, store_device_cb cb, void *ctx)
{
    /* Interval ends on the grid: [from, to) of interval_end; a record at
     * time t belongs to interval_end(t). */
    int64_t from = interval_end(from_s), to = interval_end(to_s);
    if (to <= from)
        return 0;
    if ((to - from) / INTERVAL_S > 366 * 288)
        return PVTAP_ELIMIT;
    struct acc a = {.from = from - INTERVAL_S, .to = to - INTERVAL_S};
    a.n = (size_t)((to - from) / INTERVAL_S);
    a.v = calloc(a.n, sizeof *a.v);
    struct device_interval *out = calloc(a.n, sizeof *out);
    if (!a.v || !out) {
        free(a.v);
        free(out);
        return PVTAP_ENOMEM;
    }
    char dev[64] = "";
    int rc = 0;
    for (int devices = 0; rc == 0 && devices < MAX_DEVICES; devices++) {
        sqlite3_stmt *s = sd->next_device;
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, series, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, dev, -1, SQLITE_TRANSIENT);
        int st = sqlite3_step(s);
        if (st != SQLITE_ROW) {
            rc = st == SQLITE_DONE ? 0 : PVTAP_EDB;
            break;
        }
        const char *d = (const char *)sqlite3_column_text(s, 0);
        if (!d || strlen(d) >= sizeof dev)
            break;
        snprintf(dev, sizeof dev, "%s", d);
        sqlite3_reset(sd->energy_kind);
        sqlite3_bind_text(sd->energy_kind, 1, series, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(sd->energy_kind, 2, dev, -1, SQLITE_TRANSIENT);
        st = sqlite3_step(sd->energy_kind);
        if (st != SQLITE_ROW && st != SQLITE_DONE) {
            rc = PVTAP_EDB;
            break;
        }
        const char *kind =
            st == SQLITE_ROW ? (const char *)sqlite3_column_text(sd->energy_kind, 0) : NULL;
        if (!kind || strcmp(kind, "inverter") != 0)
            continue;
        memset(a.v, 0, a.n * sizeof *a.v);
        bool have = false;
        int64_t t0 = 0;
        double v0 = 0;
        /* the record before the first interval of the range is the base */
        sqlite3_reset(sd->base);
        sqlite3_bind_text(sd->base, 1, series, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(sd->base, 2, dev, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(sd->base, 3, from - INTERVAL_S);
        if (sqlite3_step(sd->base) == SQLITE_ROW) {
            have = true;
            t0 = sqlite3_column_int64(sd->base, 0);
            v0 = sqlite3_column_double(sd->base, 1);
        }
        sqlite3_reset(sd->range);
        sqlite3_bind_text(sd->range, 1, series, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(sd->range, 2, dev, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(sd->range, 3, from - INTERVAL_S);
        sqlite3_bind_int64(sd->range, 4, to - INTERVAL_S);
        bool any = false;
        while ((st = sqlite3_step(sd->range)) == SQLITE_ROW) {
            int64_t t1 = sqlite3_column_int64(sd->range, 0);
            double v1 = sqlite3_column_double(sd->range, 1);
            any = true;
            if (have)
                attribute(&a, t0, v0, t1, v1);
            have = true;
            t0 = t1;
            v0 = v1;
        }
        if (st != SQLITE_DONE) {
            rc = PVTAP_EDB;
            break;
        }
        if (!any)
            continue;
        struct device_energy e = {.device = dev, .kind = "inverter", .iv = out};
        for (size_t i = 0; i < a.n; i++)
            if (a.v[i].interval_end) {
                a.v[i].energy_wh = engine_round_wh(a.v[i].energy_wh);
                out[e.n++] = a.v[i];
                e.energy_wh += a.v[i].energy_wh;
            }
        e.energy_wh = engine_round_wh(e.energy_wh);
        rc = cb(ctx, &e);
    }
    sqlite3_reset(sd->next_device);
    sqlite3_reset(sd->energy_kind);
    sqlite3_reset(sd->base);
    sqlite3_reset(sd->range);
    free(a.v);
    free(out);
    return rc;
}
