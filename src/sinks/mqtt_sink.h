/* The mqtt sink's private data and run-time hooks, shared by config_mqtt.c (always built) and mqtt.c (libmosquitto). */
#ifndef PVTAP_SINKS_MQTT_SINK_H
#define PVTAP_SINKS_MQTT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "pvtap_build.h"
#include "sinks/sink.h"
#include "sinks/sink_config.h"

struct mqtt_conn; /* mqtt.c: the connection, outbox position, devices */

struct mqtt_sink_priv {
    struct mqtt_config cfg;  /* validated by create(); series filled with its default */
    struct mqtt_conn *conn;  /* between start() and stop() */
};

#if PVTAP_HAVE_MOSQUITTO
int mqtt_sink_start(struct sink *sink, const struct sink_runtime *rt);
size_t mqtt_sink_pollfds(struct sink *sink, struct pollfd *fds, size_t max, int64_t *next_due_ms);
int mqtt_sink_step(struct sink *sink);
void mqtt_sink_alerts(struct sink *sink, const char *alerts_json);
void mqtt_sink_live(struct sink *sink, const struct reading *r);
int mqtt_sink_idle(struct sink *sink, char *why, size_t why_size);
void mqtt_sink_stop(struct sink *sink);
#endif

#endif
