/* A web answer produced piece by piece as the client reads it (/api/intervals over any range),
 * so no answer is ever held whole in memory. */
#ifndef PVTAP_SINKS_WEB_STREAM_H
#define PVTAP_SINKS_WEB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;
struct web_stream;

enum web_stream_format { WEB_STREAM_JSON, WEB_STREAM_CSV };

/* The intervals of series (NULL: every series) with from <= interval_end <
 * to, as /api/intervals answers them (a JSON array of `pvtap intervals
 * --format jsonl` objects, or its CSV), rows_per_piece rows a query (whole
 * interval_ends only). The first piece is made now, so a store that cannot
 * be read fails here (PVTAP_E*). *open_count is incremented here and
 * decremented by web_stream_free (st and open_count borrowed till then). */
int web_stream_intervals(struct store *st, const char *series, int64_t from, int64_t to,
                         enum web_stream_format fmt, size_t rows_per_piece, unsigned *open_count,
                         struct web_stream **out);
/* True when the whole answer was in the first piece: then *body (malloc'd,
 * the caller's) and *len are it, and the stream is left empty. */
bool web_stream_take_whole(struct web_stream *s, char **body, size_t *len);
/* The next bytes, up to max, into buf: how many; 0 at the end; PVTAP_E*
 * when the store fails mid-way. */
ssize_t web_stream_read(struct web_stream *s, char *buf, size_t max);
void web_stream_free(struct web_stream *s);

#endif
