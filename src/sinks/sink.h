/* Sinks: where committed intervals and live values go (PVOutput, MQTT, web page). */
#ifndef PVTAP_SINKS_SINK_H
#define PVTAP_SINKS_SINK_H

#include <libconfig.h>

#include "util/config.h"

struct sink;

/* One const table per sink, registered in sinks/sinks.def. A sink runs
 * only when its config group is present. The daemon issue adds the run-time
 * hooks; create() validates the group's keys (FILE:LINE) into priv. */
struct sink_ops {
    const char *name; /* the config group: "pvoutput", "mqtt", "http" */
    int (*create)(struct sink *sink, const config_setting_t *group);
    /* The effective settings, one "key = value;" per line, secrets redacted. */
    void (*dump)(const struct sink *sink, FILE *out);
    void (*destroy)(struct sink *sink);
};

struct sink {
    const struct sink_ops *ops;
    const struct pvtap_env *env;
    void *priv;
};

extern const struct sink_ops *const sink_backends[];
const struct sink_ops *sink_backend_find(const char *name);

#endif
