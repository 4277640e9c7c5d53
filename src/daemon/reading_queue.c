/* Bounded multi-producer queue of readings with an eventfd for the loop's poll(). */
#include "daemon/reading_queue.h"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/err.h"

int reading_queue_init(struct reading_queue *q, size_t capacity)
{
    q->ring = calloc(capacity, sizeof *q->ring);
    if (!q->ring)
        return PVTAP_ENOMEM;
    q->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->event_fd < 0) {
        free(q->ring);
        q->ring = NULL;
        return PVTAP_EIO;
    }
    pthread_mutex_init(&q->lock, NULL);
    q->capacity = capacity;
    q->head = q->count = 0;
    q->dropped = 0;
    return 0;
}

void reading_queue_destroy(struct reading_queue *q)
{
    if (!q->ring)
        return;
    pthread_mutex_destroy(&q->lock);
    close(q->event_fd);
    free(q->ring);
    q->ring = NULL;
}

void reading_queue_push(struct reading_queue *q, const struct reading *r)
{
    pthread_mutex_lock(&q->lock);
    if (q->count == q->capacity) {
        q->head = (q->head + 1) % q->capacity;
        q->count--;
        q->dropped++;
    }
    q->ring[(q->head + q->count) % q->capacity] = *r;
    q->count++;
    pthread_mutex_unlock(&q->lock);
    uint64_t one = 1;
    ssize_t w = write(q->event_fd, &one, sizeof one);
    (void)w; /* EAGAIN only when the counter is saturated: already readable */
}

size_t reading_queue_pop(struct reading_queue *q, struct reading *out, size_t max)
{
    pthread_mutex_lock(&q->lock);
    size_t n = 0;
    while (n < max && q->count > 0) {
        out[n++] = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
    }
    if (q->count == 0) {
        uint64_t v;
        ssize_t r = read(q->event_fd, &v, sizeof v);
        (void)r;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

int reading_queue_fd(const struct reading_queue *q)
{
    return q->event_fd;
}

uint64_t reading_queue_dropped(struct reading_queue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t d = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return d;
}

static void queue_emit(void *ctx, const struct reading *r)
{
    reading_queue_push(ctx, r);
}

struct reading_sink reading_queue_sink(struct reading_queue *q)
{
    struct reading_sink s = {queue_emit, q};
    return s;
}
