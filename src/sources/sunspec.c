/* The `sunspec` source: any SunSpec inverter (models 1, 101-103) over Modbus RTU or TCP. */
#include "sources/sunspec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/modbus_rtu.h"
#include "sources/modbus_source.h"
#include "util/err.h"
#include "util/timeutil.h"

#define MODULE "sunspec"

static void not_found(struct modbus_link_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void not_found(struct modbus_link_error *err, int code, const char *fmt, ...)
{
    err->code = code;
    err->exception = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

/* Read a model's registers (and, when it fits, the next header in the same
 * transaction: a walk then costs one read per model it needs). */
static int read_model(struct modbus_link *l, int address, const struct sunspec_model_ref *m,
                      uint16_t *body, uint16_t next_header[2], bool *have_next,
                      struct modbus_link_error *err)
{
    *have_next = false;
    if ((size_t)m->len + 2 <= MODBUS_MAX_READ_REGS) {
        uint16_t regs[MODBUS_MAX_READ_REGS];
        int rc = modbus_link_read(l, address, m->addr, (uint16_t)(m->len + 2), regs, err);
        if (rc < 0)
            return rc;
        memcpy(body, regs, (size_t)m->len * sizeof *regs);
        next_header[0] = regs[m->len];
        next_header[1] = regs[m->len + 1];
        *have_next = true;
        return 0;
    }
    /* A long model 1 with vendor padding: body in pieces of at most 125. */
    for (size_t done = 0; done < m->len;) {
        size_t chunk = m->len - done > MODBUS_MAX_READ_REGS ? MODBUS_MAX_READ_REGS : m->len - done;
        int rc = modbus_link_read(l, address, (uint16_t)(m->addr + done), (uint16_t)chunk,
                                  body + done, err);
        if (rc < 0)
            return rc;
        done += chunk;
    }
    return 0;
}

int sunspec_discover(struct modbus_link *l, int address, struct sunspec_dev *out,
                     struct modbus_link_error *err)
{
    memset(out, 0, sizeof *out);
    uint16_t head[4];
    int rc = PVTAP_ENOTFOUND;
    size_t b;
    for (b = 0; b < sunspec_n_base_candidates; b++) {
        rc = modbus_link_read(l, address, sunspec_base_candidates[b], 4, head, err);
        if (rc == 0 && sunspec_chain_start(&out->chain, sunspec_base_candidates[b], head) == 0)
            break;
        /* No answer at all is no device: trying other bases would only wait. */
        if (rc == PVTAP_ETIMEOUT || rc == PVTAP_EIO || rc == PVTAP_EBUSY)
            return rc;
        rc = PVTAP_ENOTFOUND;
    }
    if (rc < 0) {
        not_found(err, PVTAP_ENOTFOUND,
                  "%s: address %d answers but holds no SunSpec marker (\"SunS\" at 40000, "
                  "40001, 50000 or 0)",
                  modbus_link_name(l), address);
        return PVTAP_ENOTFOUND;
    }
    uint16_t header[2] = {head[2], head[3]};
    for (;;) {
        rc = sunspec_chain_feed(&out->chain, header);
        if (rc == 1)
            break;
        if (rc < 0) {
            not_found(err, rc, "%s: address %d has a broken SunSpec model chain",
                      modbus_link_name(l), address);
            return rc;
        }
        const struct sunspec_model_ref *m = &out->chain.models[out->chain.n - 1];
        bool wanted = m->id == 1 || (m->id >= 101 && m->id <= 103 && out->inverter.id == 0);
        bool have_next = false;
        if (wanted) {
            uint16_t *body = calloc(m->len ? m->len : 1, sizeof *body);
            if (!body) {
                err->code = PVTAP_ENOMEM;
                snprintf(err->text, sizeof err->text, "out of memory");
                return PVTAP_ENOMEM;
            }
            rc = read_model(l, address, m, body, header, &have_next, err);
            if (rc == 0 && m->id == 1)
                out->has_common = sunspec_decode_common(body, m->len, &out->common) == 0;
            else if (rc == 0 && m->len >= SUNSPEC_INVERTER_LEN)
                out->inverter = *m;
            free(body);
            if (rc < 0)
                return rc;
        }
        if (!have_next) {
            rc = modbus_link_read(l, address, out->chain.next_addr, 2, header, err);
            if (rc < 0)
                return rc;
        }
    }
    if (out->inverter.id == 0) {
        not_found(err, PVTAP_ENOTFOUND,
                  "%s: the SunSpec device at address %d has no inverter model (101, 102 or 103)",
                  modbus_link_name(l), address);
        return PVTAP_ENOTFOUND;
    }
    return 0;
}

int sunspec_read_inverter(struct modbus_link *l, int address, const struct sunspec_dev *d,
                          struct sunspec_inverter *out, struct modbus_link_error *err)
{
    uint16_t regs[SUNSPEC_INVERTER_LEN];
    int rc = modbus_link_read(l, address, d->inverter.addr, SUNSPEC_INVERTER_LEN, regs, err);
    if (rc < 0)
        return rc;
    return sunspec_decode_inverter(d->inverter.id, regs, SUNSPEC_INVERTER_LEN, out);
}

void sunspec_emit(const struct sunspec_inverter *inv, const char *device, const char *series,
                  int64_t time_s, const struct reading_sink *sink)
{
    struct reading r = {
        .source = "sunspec",
        .series = series,
        .kind = DEVICE_INVERTER,
        .time = time_s,
        .clock = CLOCK_POLL,
    };
    snprintf(r.device, sizeof r.device, "%s", device);
    const struct {
        bool has;
        enum quantity q;
        double v;
    } pts[] = {
        {inv->has_energy_kWh, Q_ENERGY_LIFETIME_KWH, inv->energy_kWh},
        {inv->has_power_W, Q_POWER_W, inv->power_W},
        {inv->has_voltage_V, Q_VOLTAGE_V, inv->voltage_V},
        {inv->has_current_A, Q_CURRENT_A, inv->current_A},
        {inv->has_frequency_Hz, Q_FREQUENCY_HZ, inv->frequency_Hz},
        {inv->has_dc_power_W, Q_DC_POWER_W, inv->dc_power_W},
        {inv->has_dc_voltage_V, Q_DC_VOLTAGE_V, inv->dc_voltage_V},
        {inv->has_dc_current_A, Q_DC_CURRENT_A, inv->dc_current_A},
        {inv->has_temperature_C, Q_TEMPERATURE_C, inv->temperature_C},
        {inv->has_status, Q_STATUS, (double)inv->status},
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        if (!pts[i].has)
            continue;
        r.q = pts[i].q;
        r.value = pts[i].v;
        reading_emit(sink, &r);
    }
}

/* ---- the source backend -------------------------------------------------- */

struct sunspec_priv {
    struct modbus_source_common c; /* first: modbus_source_attach() relies on it */
    bool discovered;
    struct sunspec_dev dev;
};

static int ss_create(struct source *src, const config_setting_t *section)
{
    return modbus_source_create(src, section, SERIAL_CFG_TCP, sizeof(struct sunspec_priv),
                                "sunspec");
}

static int ss_open(struct source *src)
{
    return modbus_source_open(src, MODULE);
}

static int ss_step(struct source *src, const struct reading_sink *sink)
{
    struct sunspec_priv *p = src->priv;
    int64_t now = time_mono_ms();
    if (!modbus_source_due(&p->c, now))
        return PVTAP_EAGAIN;
    int rc = modbus_source_link(&p->c, MODULE, p->c.device);
    if (rc < 0)
        return rc;
    struct modbus_link_error err = {0};
    if (!p->discovered) {
        rc = sunspec_discover(p->c.link, p->c.sc.address, &p->dev, &err);
        if (rc < 0) {
            modbus_source_failed(&p->c, MODULE, p->c.device, &err, now);
            return rc;
        }
        p->discovered = true;
        if (p->dev.has_common && p->dev.common.serial[0])
            snprintf(p->c.device, sizeof p->c.device, "%.31s", p->dev.common.serial);
        log_msg(LOGL_INFO, MODULE, "%s: %s %s, model %u at %u on %s", p->c.device,
                p->dev.common.manufacturer, p->dev.common.model, p->dev.inverter.id,
                p->dev.inverter.addr, modbus_link_name(p->c.link));
    }
    struct sunspec_inverter inv;
    int64_t t = time_now_s();
    rc = sunspec_read_inverter(p->c.link, p->c.sc.address, &p->dev, &inv, &err);
    if (rc < 0) {
        modbus_source_failed(&p->c, MODULE, p->c.device, &err, now);
        return rc;
    }
    p->c.dropped += inv.out_of_range;
    sunspec_emit(&inv, p->c.device, src->series, t, sink);
    modbus_source_succeeded(&p->c, MODULE, p->c.device, now);
    return 0;
}

static void ss_close(struct source *src)
{
    struct sunspec_priv *p = src->priv;
    if (p) {
        modbus_source_unlink(&p->c);
        /* A re-plugged or replaced inverter may have moved its models. */
        p->discovered = false;
    }
}

static void ss_destroy(struct source *src)
{
    ss_close(src);
    free(src->priv);
    src->priv = NULL;
}

const struct source_ops sunspec_source_ops = {
    .name = "sunspec",
    .default_series = "poll",
    .blocking = true,
    .create = ss_create,
    .open = ss_open,
    .fd = modbus_source_fd_op,
    .step = ss_step,
    .close = ss_close,
    .destroy = ss_destroy,
};
