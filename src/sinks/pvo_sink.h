/* The pvoutput sink's private handle and run-time hooks (pvoutput_sink.c, built with libcurl). */
#ifndef PVTAP_SINKS_PVO_SINK_H
#define PVTAP_SINKS_PVO_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sinks/sink.h"
#include "sinks/sink_config.h"

struct pvo_run;

/* sink->priv of the pvoutput sink: the validated group, and the run-time
 * state between start() and stop() (NULL otherwise). */
struct pvo_priv {
    struct pvoutput_config cfg;
    struct pvo_run *run;
};

/* The validated settings of a created pvoutput sink (borrowed). */
const struct pvoutput_config *pvoutput_config_of(const struct sink *sink);

int pvo_sink_start(struct sink *sink, const struct sink_runtime *rt);
size_t pvo_sink_pollfds(struct sink *sink, struct pollfd *fds, size_t max, int64_t *next_due_ms);
int pvo_sink_step(struct sink *sink);
void pvo_sink_live(struct sink *sink, const struct reading *r);
int pvo_sink_idle(struct sink *sink, char *why, size_t why_size);
void pvo_sink_stop(struct sink *sink);

/* Counters for `pvtap upload` and tests. */
struct pvo_sink_counts {
    int64_t requests, statuses_sent, delivered, undeliverable;
};
void pvo_sink_counts(const struct sink *sink, struct pvo_sink_counts *out);

#endif
