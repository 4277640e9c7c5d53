/* Shared plumbing of the polled Modbus sources: link, schedule, rate-limited complaints, back-off.
 */
#include "sources/modbus_source.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/err.h"
#include "util/timeutil.h"

void modbus_source_attach(struct source *src, struct modbus_ports *ports)
{
    struct modbus_source_common *c = src->priv;
    if (c && !c->link)
        c->ports = ports;
}

int modbus_source_link(struct modbus_source_common *c, const char *module, const char *device)
{
    if (c->link)
        return 0;
    struct modbus_link_error err = {0};
    int rc = c->ports ? modbus_ports_acquire(c->ports, &c->sc, &c->link, &err)
                      : modbus_link_open(&c->sc, &c->link, &err);
    if (rc < 0) {
        c->link = NULL;
        modbus_source_failed(c, module, device, &err, time_mono_ms());
    }
    return rc;
}

void modbus_source_unlink(struct modbus_source_common *c)
{
    if (!c->link)
        return;
    if (c->ports)
        modbus_ports_release(c->ports, c->link);
    else
        modbus_link_close(c->link);
    c->link = NULL;
}

int modbus_source_fd(struct modbus_source_common *c, int64_t *next_due_ms)
{
    *next_due_ms = c->next_due_ms;
    return -1;
}

int modbus_source_due(const struct modbus_source_common *c, int64_t now_ms)
{
    return now_ms >= c->next_due_ms;
}

void modbus_source_failed(struct modbus_source_common *c, const char *module, const char *device,
                          const struct modbus_link_error *err, int64_t now_ms)
{
    c->failures++;
    int64_t interval_ms = (int64_t)(c->sc.interval_s * 1000.0);
    int64_t cap_ms = interval_ms > 60000 ? interval_ms : 60000;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : interval_ms;
    if (c->backoff_ms > cap_ms)
        c->backoff_ms = cap_ms;
    c->next_due_ms = now_ms + c->backoff_ms;
    complain(&c->complaint, time_now_s(), err->code == PVTAP_EBUSY ? LOGL_ERR : LOGL_WARNING,
             module, "%s: %s", device, err->text[0] ? err->text : pvtap_strerror(err->code));
}

void modbus_source_succeeded(struct modbus_source_common *c, const char *module, const char *device,
                             int64_t now_ms)
{
    c->cycles++;
    c->backoff_ms = 0;
    complain_clear(&c->complaint, module, "%s: answering again", device);
    int64_t interval_ms = (int64_t)(c->sc.interval_s * 1000.0);
    /* Keep the cadence; after a stall, restart it from now. */
    c->next_due_ms += interval_ms;
    if (c->next_due_ms <= now_ms)
        c->next_due_ms = now_ms + interval_ms;
}

int modbus_source_create(struct source *src, const config_setting_t *section, unsigned flags,
                         size_t priv_size, const char *prefix)
{
    struct modbus_source_common *c = calloc(1, priv_size);
    if (!c)
        return PVTAP_ENOMEM;
    serial_config_defaults(&c->sc);
    int rc = serial_config_parse(&c->sc, src->env, section, flags);
    if (rc < 0) {
        free(c);
        return rc;
    }
    snprintf(c->device, sizeof c->device, "%s@%d", prefix, c->sc.address);
    /* The daemon serialises every transmitting source of one port on one
     * thread, and refuses a listener beside them. */
    snprintf(src->port, sizeof src->port, "%s", c->sc.port);
    src->transmits = 1;
    src->max_poll_gap_s = (int)c->sc.max_poll_gap_s;
    src->priv = c;
    return 0;
}

int modbus_source_open(struct source *src, const char *module)
{
    struct modbus_source_common *c = src->priv;
    c->next_due_ms = time_mono_ms();
    return modbus_source_link(c, module, c->device);
}

int modbus_source_fd_op(struct source *src, int64_t *next_due_ms)
{
    return modbus_source_fd(src->priv, next_due_ms);
}
