/* Per-inverter energy of a time range, derived from the store's raw records (for the web page's per-panel view). */
#ifndef PVTAP_STORE_STORE_DEVICES_H
#define PVTAP_STORE_STORE_DEVICES_H

#include <stddef.h>
#include <stdint.h>

/* A read-only SQLite connection of its own to a store file: for a thread
 * that is not the daemon's loop (the web server's). */
struct store_devices;

/* PVTAP_EIO when the file cannot be opened read-only. *out: caller frees
 * with store_devices_close(). */
int store_devices_open(const char *path, struct store_devices **out);
void store_devices_close(struct store_devices *sd);

/* One interval's share of one device's lifetime-counter difference. */
struct device_interval {
    int64_t interval_end;
    double energy_wh;
    unsigned flags; /* IFLAG_* as the engine's: interpolated, gap, counter_reset */
};

struct device_energy {
    const char *device;              /* borrowed for the callback */
    const char *kind;                /* "inverter" */
    double energy_wh;                /* sum of the intervals below */
    size_t n;
    const struct device_interval *iv; /* sorted by interval_end; borrowed for the callback */
};

/* Every inverter of series with records whose interval falls in
 * [from_s, to_s): each record's lifetime-energy difference from the
 * device's previous record is given to the interval holding the record, or
 * split evenly over the 2..12 intervals since the previous one (flagged
 * interpolated); a longer silence with more than 1 Wh is a gap (not
 * attributed); a counter that went down contributes 0 (counter_reset).
 * Devices in name order; cb returns nonzero to stop (returned). */
typedef int (*store_device_cb)(void *ctx, const struct device_energy *e);
int store_device_energy(struct store_devices *sd, const char *series, int64_t from_s,
                        int64_t to_s, store_device_cb cb, void *ctx);

#endif
