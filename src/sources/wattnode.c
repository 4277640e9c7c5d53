/* The `wattnode` source: polls a WattNode WNC meter over Modbus RTU with libmodbus. */
#include "sources/wattnode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/modbus_rtu.h"
#include "sources/modbus_source.h"
#include "util/err.h"
#include "util/timeutil.h"

#define MODULE "wattnode"

int wattnode_read(struct modbus_link *l, int address, enum wn_use use, struct wn_values *out,
                  struct modbus_link_error *err)
{
    memset(out, 0, sizeof *out);
    struct modbus_block blocks[8];
    int nb = wattnode_plan(use, WATTNODE_MAX_GAP_REGS, blocks, 8);
    if (nb < 0)
        return nb;
    for (int i = 0; i < nb; i++) {
        uint16_t regs[MODBUS_MAX_READ_REGS];
        int rc = modbus_link_read(l, address, blocks[i].addr, blocks[i].count, regs, err);
        if (rc < 0)
            return rc;
        wattnode_decode(regs, blocks[i].count, blocks[i].addr, out);
    }
    return 0;
}

void wattnode_device_name(const struct wn_values *identity, int address, char *out, size_t out_size)
{
    if (identity && identity->present[WN_SERIAL])
        snprintf(out, out_size, "%.0f", identity->value[WN_SERIAL]);
    else
        snprintf(out, out_size, "wattnode@%d", address);
}

void wattnode_invert(struct wn_values *v)
{
    static const enum wn_field negate[] = {WN_ENERGY_SUM, WN_ENERGY_SUM_NR, WN_POWER_SUM,
                                           WN_POWER_A,    WN_POWER_B,       WN_POWER_C};
    for (size_t i = 0; i < sizeof negate / sizeof negate[0]; i++)
        v->value[negate[i]] = -v->value[negate[i]];
    /* Reversed CTs count import as export and the other way round. */
    static const enum wn_field pairs[][2] = {{WN_ENERGY_POS_SUM, WN_ENERGY_NEG_SUM},
                                             {WN_ENERGY_POS_SUM_NR, WN_ENERGY_NEG_SUM_NR}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        enum wn_field a = pairs[i][0], b = pairs[i][1];
        double tv = v->value[a];
        bool tp = v->present[a];
        v->value[a] = v->value[b];
        v->present[a] = v->present[b];
        v->value[b] = tv;
        v->present[b] = tp;
    }
}

void wattnode_emit(const struct wn_values *v, const char *device, enum meter_role role,
                   const char *series, int64_t time_s, const struct reading_sink *sink)
{
    size_t n;
    const struct wn_reg *map = wattnode_map(&n);
    struct reading r = {
        .source = "wattnode",
        .series = series,
        .kind = meter_role_kind(role),
        .time = time_s,
        .clock = CLOCK_POLL,
    };
    snprintf(r.device, sizeof r.device, "%s", device);
    /* Totals only: the reading model has no phases (per-phase values are
     * printed by `pvtap poll`). */
    for (size_t i = 0; i < n; i++) {
        if (map[i].use != WN_USE_POLL || !map[i].q || map[i].phase != 0 ||
            !v->present[map[i].field])
            continue;
        r.q = map[i].q;
        r.value = v->value[map[i].field];
        reading_emit(sink, &r);
    }
}

/* ---- the source backend -------------------------------------------------- */

struct wattnode_priv {
    struct modbus_source_common c; /* first: modbus_source_attach() relies on it */
    bool have_identity;
    struct wn_values identity;
};

static int wn_create(struct source *src, const config_setting_t *section)
{
    return modbus_source_create(src, section, SERIAL_CFG_METER, sizeof(struct wattnode_priv),
                                "wattnode");
}

static int wn_open(struct source *src)
{
    return modbus_source_open(src, MODULE);
}

static int wn_step(struct source *src, const struct reading_sink *sink)
{
    struct wattnode_priv *p = src->priv;
    int64_t now = time_mono_ms();
    if (!modbus_source_due(&p->c, now))
        return PVTAP_EAGAIN;
    int rc = modbus_source_link(&p->c, MODULE, p->c.device);
    if (rc < 0)
        return rc;
    struct modbus_link_error err = {0};
    if (!p->have_identity) {
        /* Serial and model once: they name the device in every reading. */
        rc = wattnode_read(p->c.link, p->c.sc.address, WN_USE_IDENTITY, &p->identity, &err);
        if (rc < 0) {
            modbus_source_failed(&p->c, MODULE, p->c.device, &err, now);
            return rc;
        }
        p->have_identity = true;
        wattnode_device_name(&p->identity, p->c.sc.address, p->c.device, sizeof p->c.device);
        log_msg(LOGL_INFO, MODULE, "%s at address %d on %s: model %.0f, firmware %.0f", p->c.device,
                p->c.sc.address, modbus_link_name(p->c.link), p->identity.value[WN_MODEL],
                p->identity.value[WN_VERSION]);
    }
    struct wn_values v;
    int64_t t = time_now_s();
    rc = wattnode_read(p->c.link, p->c.sc.address, WN_USE_POLL, &v, &err);
    if (rc < 0) {
        modbus_source_failed(&p->c, MODULE, p->c.device, &err, now);
        return rc;
    }
    if (v.out_of_range) {
        p->c.dropped += v.out_of_range;
        log_msg(LOGL_DEBUG, MODULE, "%s: %u values outside their sanity range dropped", p->c.device,
                v.out_of_range);
    }
    if (p->c.sc.invert)
        wattnode_invert(&v);
    wattnode_emit(&v, p->c.device, p->c.sc.role, src->series, t, sink);
    modbus_source_succeeded(&p->c, MODULE, p->c.device, now);
    return 0;
}

static void wn_close(struct source *src)
{
    struct wattnode_priv *p = src->priv;
    if (p)
        modbus_source_unlink(&p->c);
}

static void wn_destroy(struct source *src)
{
    wn_close(src);
    free(src->priv);
    src->priv = NULL;
}

const struct source_ops wattnode_source_ops = {
    .name = "wattnode",
    .default_series = "poll",
    .blocking = true,
    .create = wn_create,
    .open = wn_open,
    .fd = modbus_source_fd_op,
    .step = wn_step,
    .close = wn_close,
    .destroy = wn_destroy,
};
