/* /api/intervals streamed: each piece is one short query from where the last one stopped (no read
 * transaction stays open while a slow client reads), formatted into a small buffer. */
#include "sinks/web_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/interval_format.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/err.h"

struct web_stream {
    struct store *st;
    char series[ENGINE_SERIES_MAX];
    bool all_series;
    int64_t next_from, to;
    enum web_stream_format fmt;
    size_t rows_per_piece;
    unsigned *open_count;
    bool done;
    size_t rows; /* written so far */
    char *buf;   /* the current piece, from off on still to send */
    size_t len, off;
};

struct piece {
    struct web_stream *s;
    FILE *f;
    size_t n;         /* rows in this piece */
    int64_t last_end; /* interval_end of its last row */
    bool more;        /* stopped at next_from */
};

/* A row into the piece; past rows_per_piece, stop at the next interval_end
 * (never between two series' rows of one interval_end). */
static int piece_row(void *ctx, const struct store_interval *iv)
{
    struct piece *p = ctx;
    struct web_stream *s = p->s;
    if (p->n >= s->rows_per_piece && iv->row.interval_end != p->last_end) {
        s->next_from = iv->row.interval_end;
        p->more = true;
        return 1;
    }
    if (s->fmt == WEB_STREAM_JSON) {
        /* as the array was built before: "[\n{row},\n{row}\n]\n" */
        fputs(s->rows ? ",\n" : "\n", p->f);
        interval_format_row(p->f, IFMT_JSONL, &iv->row);
        fseek(p->f, -1, SEEK_CUR); /* the JSONL line's newline */
    } else {
        interval_format_row(p->f, IFMT_CSV, &iv->row);
    }
    s->rows++;
    p->n++;
    p->last_end = iv->row.interval_end;
    return 0;
}

/* The next piece into s->buf (the last one closes the array). */
static int next_piece(struct web_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->off = 0;
    FILE *f = open_memstream(&s->buf, &s->len);
    if (!f)
        return PVTAP_ENOMEM;
    struct piece p = {s, f, 0, 0, false};
    int rc = store_query_intervals(s->st, s->all_series ? NULL : s->series, s->next_from, s->to,
                                   piece_row, &p);
    if (rc == 1 && p.more)
        rc = 0;
    if (rc == 0 && !p.more) {
        s->done = true;
        if (s->fmt == WEB_STREAM_JSON)
            fputs(s->rows ? "\n]\n" : "]\n", f);
    }
    if (fclose(f) != 0 && rc == 0)
        rc = PVTAP_ENOMEM;
    return rc;
}

int web_stream_intervals(struct store *st, const char *series, int64_t from, int64_t to,
                         enum web_stream_format fmt, size_t rows_per_piece, unsigned *open_count,
                         struct web_stream **out)
{
    *out = NULL;
    struct web_stream *s = calloc(1, sizeof *s);
    if (!s)
        return PVTAP_ENOMEM;
    s->st = st;
    s->all_series = series == NULL;
    if (series)
        snprintf(s->series, sizeof s->series, "%s", series);
    s->next_from = from;
    s->to = to;
    s->fmt = fmt;
    s->rows_per_piece = rows_per_piece ? rows_per_piece : 1;
    s->open_count = open_count;
    ++*open_count;
    /* the header (CSV) or the opening bracket, then the first rows */
    char *head = NULL;
    size_t hlen = 0;
    FILE *f = open_memstream(&head, &hlen);
    if (!f) {
        web_stream_free(s);
        return PVTAP_ENOMEM;
    }
    if (fmt == WEB_STREAM_CSV)
        interval_format_header(f, IFMT_CSV);
    else
        fputc('[', f);
    int rc = fclose(f) == 0 ? 0 : PVTAP_ENOMEM;
    if (rc == 0)
        rc = next_piece(s);
    if (rc == 0) {
        char *joined = malloc(hlen + s->len + 1);
        if (!joined) {
            rc = PVTAP_ENOMEM;
        } else {
            memcpy(joined, head, hlen);
            memcpy(joined + hlen, s->buf, s->len + 1);
            free(s->buf);
            s->buf = joined;
            s->len += hlen;
        }
    }
    free(head);
    if (rc != 0) {
        web_stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

bool web_stream_take_whole(struct web_stream *s, char **body, size_t *len)
{
    if (!s->done || s->off != 0)
        return false;
    *body = s->buf;
    *len = s->len;
    s->buf = NULL;
    s->len = 0;
    return true;
}

ssize_t web_stream_read(struct web_stream *s, char *buf, size_t max)
{
    while (s->off == s->len) {
        if (s->done)
            return 0;
        int rc = next_piece(s);
        if (rc != 0)
            return rc;
    }
    size_t n = s->len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

void web_stream_free(struct web_stream *s)
{
    if (!s)
        return;
    --*s->open_count;
    free(s->buf);
    free(s);
}
