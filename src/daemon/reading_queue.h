/* A bounded queue of readings from serial-source threads to the event loop. */
#ifndef PVTAP_DAEMON_READING_QUEUE_H
#define PVTAP_DAEMON_READING_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/reading.h"

/* Many producers (one thread per serial port), one consumer (the loop).
 * push() copies the reading; its `source` and `series` pointers must stay
 * valid for the daemon's life (they point into struct source). The loop
 * polls fd() for readability and drains with pop(). When full, the oldest
 * reading is dropped and counted: a stalled loop never blocks a bus. */
struct reading_queue {
    pthread_mutex_t lock;
    struct reading *ring;
    size_t capacity, head, count;
    uint64_t dropped;
    int event_fd;
};

int reading_queue_init(struct reading_queue *q, size_t capacity);
void reading_queue_destroy(struct reading_queue *q);
void reading_queue_push(struct reading_queue *q, const struct reading *r);
/* Moves up to max readings into out; returns how many. Clears the fd's
 * readability once empty. */
size_t reading_queue_pop(struct reading_queue *q, struct reading *out, size_t max);
int reading_queue_fd(const struct reading_queue *q);
uint64_t reading_queue_dropped(struct reading_queue *q);

/* A reading_sink whose emit() pushes into q (for source threads). */
struct reading_sink reading_queue_sink(struct reading_queue *q);

#endif
