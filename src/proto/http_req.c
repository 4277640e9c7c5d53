/* HTTP/1.1 message parsing as a resumable state machine with hard limits and resync. */
#include "proto/http_req.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    S_START,      /* expecting a start line (empty lines before it are skipped) */
    S_RESYNC,     /* after a problem or a hole: skip lines until a start line */
    S_HEADERS,
    S_BODY,       /* Content-Length bytes left in chunk_left */
    S_BODY_EOF,   /* a reply without length: body runs to the end of the stream */
    S_CHUNK_SIZE,
    S_CHUNK_DATA,
    S_CHUNK_END,  /* the CRLF after a chunk's data */
    S_TRAILERS,
};

enum { BODY_KEEP_CAP_MAX = 64 * 1024 }; /* a larger buffer is released after each message */

void http_limits_default(struct http_limits *l)
{
    l->max_header_bytes = 16 * 1024;
    /* Backlog bursts reach hundreds of kB (docs/protocol.md section 1). */
    l->max_body_bytes = 4 * 1024 * 1024;
    l->budget = NULL;
}

const char *http_problem_name(enum http_problem p)
{
    switch (p) {
    case HTTP_P_NOT_HTTP: return "not HTTP";
    case HTTP_P_BAD_START: return "malformed start line";
    case HTTP_P_BAD_HEADER: return "malformed header";
    case HTTP_P_BAD_CHUNK: return "malformed chunk";
    case HTTP_P_HEADER_LIMIT: return "header size limit";
    case HTTP_P_BODY_LIMIT: return "body size limit";
    case HTTP_P_BUDGET_LIMIT: return "body memory budget";
    case HTTP_P_NOMEM: return "out of memory";
    case HTTP_P_HOLE: return "bytes missing";
    case HTTP_P_TRUNCATED: return "stream ended inside a message";
    }
    return "?";
}

void http_parser_init(struct http_parser *p, enum http_kind kind, const struct http_limits *lim)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    if (lim)
        p->lim = *lim;
    else
        http_limits_default(&p->lim);
    p->state = S_START;
}

static void body_release(struct http_parser *p)
{
    free(p->body);
    p->body = NULL;
    p->body_cap = 0;
    if (p->lim.budget)
        p->lim.budget->used -= p->budget_held;
    p->budget_held = 0;
}

void http_parser_free(struct http_parser *p)
{
    body_release(p);
    free(p->line);
    p->line = NULL;
    p->line_cap = p->line_len = 0;
}

static void msg_reset(struct http_parser *p)
{
    p->header_bytes = 0;
    p->content_length = 0;
    p->have_cl = p->te_chunked = false;
    p->chunk_left = 0;
    p->body_len = 0;
    if (p->body_cap > BODY_KEEP_CAP_MAX)
        body_release(p);
    memset(&p->msg, 0, sizeof p->msg);
    p->msg.kind = p->kind;
}

static void fail(struct http_parser *p, const struct http_callbacks *cb, void *ctx,
                 enum http_problem why)
{
    msg_reset(p);
    p->state = S_RESYNC;
    if (cb->on_problem)
        cb->on_problem(ctx, why);
}

/* Grow the body buffer to hold need bytes, within the limit and the budget. */
static int body_reserve(struct http_parser *p, size_t need, enum http_problem *why)
{
    if (need <= p->body_cap)
        return 0;
    size_t cap = p->body_cap ? p->body_cap * 2 : 4096;
    if (cap < need)
        cap = need;
    size_t max = p->kind == HTTP_RESPONSE ? HTTP_REPLY_KEEP : p->lim.max_body_bytes;
    if (cap > max)
        cap = max;
    if (need > cap) {
        *why = HTTP_P_BODY_LIMIT;
        return -1;
    }
    struct http_budget *b = p->lim.budget;
    if (b && b->used - p->budget_held + cap > b->max) {
        cap = need; /* try the exact size before giving up */
        if (b->used - p->budget_held + cap > b->max) {
            *why = HTTP_P_BUDGET_LIMIT;
            return -1;
        }
    }
    uint8_t *nb = realloc(p->body, cap);
    if (!nb) {
        *why = HTTP_P_NOMEM;
        return -1;
    }
    p->body = nb;
    p->body_cap = cap;
    if (b)
        b->used = b->used - p->budget_held + cap;
    p->budget_held = cap;
    return 0;
}

static int body_append(struct http_parser *p, const uint8_t *d, size_t n, enum http_problem *why)
{
    if (!p->msg.body_kept || n == 0)
        return 0;
    if (p->kind == HTTP_RESPONSE) {
        /* Only the first bytes of a reply matter ("1002\t..."). */
        if (p->body_len >= HTTP_REPLY_KEEP)
            return 0;
        if (n > HTTP_REPLY_KEEP - p->body_len)
            n = HTTP_REPLY_KEEP - p->body_len;
    }
    if (p->body_len + n > p->body_cap && body_reserve(p, p->body_len + n, why) != 0)
        return -1;
    memcpy(p->body + p->body_len, d, n);
    p->body_len += n;
    return 0;
}

static void finish(struct http_parser *p, const struct http_callbacks *cb, void *ctx)
{
    p->msg.body = p->msg.body_kept ? p->body : NULL;
    p->msg.body_len = p->msg.body_kept ? p->body_len : 0;
    p->messages++;
    if (cb->on_message)
        cb->on_message(ctx, &p->msg);
    msg_reset(p);
    p->state = S_START;
}

static bool is_tchar(uint8_t c)
{
    /* RFC 9110 token characters (method names, header names). */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool bytes_ieq(const uint8_t *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && strncasecmp((const char *)a, b, blen) == 0;
}

/* Request line (RFC 9112 section 3): method SP request-target SP HTTP-version,
 * HTTP-version = "HTTP/" DIGIT "." DIGIT. */
static bool parse_request_line(struct http_parser *p, const uint8_t *l, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar(l[i]))
        i++;
    if (i == 0 || i >= sizeof p->msg.method || i >= n || l[i] != ' ')
        return false;
    size_t mlen = i++;
    size_t t0 = i;
    while (i < n && l[i] != ' ')
        i++;
    size_t t1 = i;
    if (t1 == t0 || i >= n)
        return false;
    i++;
    if (n - i != 8 || memcmp(l + i, "HTTP/1.", 7) != 0 || l[i + 7] < '0' || l[i + 7] > '9')
        return false;
    memcpy(p->msg.method, l, mlen);
    p->msg.method[mlen] = '\0';
    /* Absolute form "http://host/path": keep the path. */
    const uint8_t *t = l + t0;
    size_t tl = t1 - t0;
    if (tl > 7 && (strncasecmp((const char *)t, "http://", 7) == 0 ||
                   (tl > 8 && strncasecmp((const char *)t, "https://", 8) == 0))) {
        const uint8_t *slash = memchr(t + 8 - (t[4] == ':'), '/', tl - (size_t)(8 - (t[4] == ':')));
        if (slash) {
            tl -= (size_t)(slash - t);
            t = slash;
        } else {
            t = (const uint8_t *)"/";
            tl = 1;
        }
    }
    size_t pl = 0;
    while (pl < tl && t[pl] != '?' && t[pl] != '#')
        pl++;
    if (pl >= sizeof p->msg.path) {
        p->msg.path_cut = true;
        pl = sizeof p->msg.path - 1;
    }
    memcpy(p->msg.path, t, pl);
    p->msg.path[pl] = '\0';
    return true;
}

/* Status line (RFC 9112 section 4): HTTP-version SP 3DIGIT SP [reason]. */
static bool parse_status_line(struct http_parser *p, const uint8_t *l, size_t n)
{
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ')
        return false;
    int st = 0;
    for (int k = 9; k < 12; k++) {
        if (l[k] < '0' || l[k] > '9')
            return false;
        st = st * 10 + (l[k] - '0');
    }
    if (n > 12 && l[12] != ' ')
        return false;
    p->msg.status = st;
    return true;
}

static bool start_line(struct http_parser *p, const uint8_t *l, size_t n)
{
    memset(&p->msg, 0, sizeof p->msg);
    p->msg.kind = p->kind;
    return p->kind == HTTP_REQUEST ? parse_request_line(p, l, n) : parse_status_line(p, l, n);
}

/* A decimal Content-Length (RFC 9110 section 8.6); "5, 5" (a repeated
 * value) is accepted, differing values are not. 0 ok, -1 malformed,
 * -2 a number too large to be real. */
static int parse_cl(const uint8_t *v, size_t n, uint64_t *out)
{
    bool have = false;
    uint64_t val = 0;
    size_t i = 0;
    while (i < n) {
        uint64_t x = 0;
        size_t d = 0;
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            if (x > (UINT64_C(1) << 56))
                return -2; /* digits, but more than anyone sends */
            x = x * 10 + (uint64_t)(v[i] - '0');
            i++;
            d++;
        }
        if (d == 0 || (have && x != val))
            return -1;
        val = x;
        have = true;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i < n) {
            if (v[i] != ',')
                return -1;
            i++;
            while (i < n && (v[i] == ' ' || v[i] == '\t'))
                i++;
        }
    }
    if (!have)
        return -1;
    *out = val;
    return 0;
}

/* header-field = field-name ":" OWS field-value OWS (RFC 9112 section 5). */
static enum http_problem header_line(struct http_parser *p, const uint8_t *l, size_t n)
{
    if (l[0] == ' ' || l[0] == '\t')
        return 0; /* obsolete line folding: a continuation of a header we ignore */
    const uint8_t *colon = memchr(l, ':', n);
    if (!colon || colon == l)
        return HTTP_P_BAD_HEADER;
    size_t nl = (size_t)(colon - l);
    for (size_t i = 0; i < nl; i++)
        if (!is_tchar(l[i]))
            return HTTP_P_BAD_HEADER;
    const uint8_t *v = colon + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (bytes_ieq(l, nl, "content-length")) {
        uint64_t cl;
        int r = parse_cl(v, vl, &cl);
        if (r == -2)
            return HTTP_P_BODY_LIMIT;
        if (r != 0 || (p->have_cl && cl != p->content_length))
            return HTTP_P_BAD_HEADER;
        p->have_cl = true;
        p->content_length = cl;
    } else if (bytes_ieq(l, nl, "transfer-encoding")) {
        /* The final coding decides the framing: "gzip, chunked" is chunked. */
        size_t s = vl;
        while (s && v[s - 1] != ',')
            s--;
        const uint8_t *last = v + s;
        size_t ll = vl - s;
        while (ll && (*last == ' ' || *last == '\t')) {
            last++;
            ll--;
        }
        if (bytes_ieq(last, ll, "chunked"))
            p->te_chunked = true;
        else if (p->kind == HTTP_REQUEST)
            return HTTP_P_BAD_HEADER; /* RFC 9112 6.3: the length cannot be known */
        else
            p->have_cl = false, p->content_length = 0; /* reply read to close */
    }
    return 0;
}

static void end_of_headers(struct http_parser *p, const struct http_callbacks *cb, void *ctx)
{
    struct http_msg *m = &p->msg;
    m->chunked = p->te_chunked;
    if (p->have_cl && p->content_length > p->lim.max_body_bytes && !p->te_chunked) {
        fail(p, cb, ctx, HTTP_P_BODY_LIMIT);
        return;
    }
    if (p->kind == HTTP_REQUEST) {
        m->body_kept = cb->want_body ? cb->want_body(ctx, m) : false;
        if (p->te_chunked) {
            p->state = S_CHUNK_SIZE;
            return;
        }
        if (!p->have_cl || p->content_length == 0) {
            finish(p, cb, ctx);
            return;
        }
        if (m->body_kept) {
            enum http_problem why;
            if (body_reserve(p, (size_t)p->content_length, &why) != 0) {
                fail(p, cb, ctx, why);
                return;
            }
        }
        p->chunk_left = p->content_length;
        p->state = S_BODY;
        return;
    }
    m->body_kept = true;
    if (m->status / 100 == 1 || m->status == 204 || m->status == 304) {
        finish(p, cb, ctx);
        return;
    }
    if (p->te_chunked) {
        p->state = S_CHUNK_SIZE;
    } else if (p->have_cl) {
        p->chunk_left = p->content_length;
        if (p->chunk_left == 0)
            finish(p, cb, ctx);
        else
            p->state = S_BODY;
    } else {
        p->state = S_BODY_EOF;
    }
}

/* chunk-size [chunk-ext] CRLF, chunk-size = 1*HEXDIG (RFC 9112 section 7.1). */
static bool parse_chunk_size(const uint8_t *l, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n; i++) {
        uint8_t c = l[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10u;
        else
            break;
        if (i >= 15)
            return false; /* more than 2^60: nobody sends that */
        v = v << 4 | d;
    }
    if (i == 0)
        return false;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    if (i < n && l[i] != ';')
        return false;
    *out = v;
    return true;
}

/* One complete line (LF and a trailing CR removed). */
static void handle_line(struct http_parser *p, const uint8_t *l, size_t n,
                        const struct http_callbacks *cb, void *ctx)
{
    enum http_problem why;
    switch (p->state) {
    case S_START:
        if (n == 0)
            return; /* RFC 9112 2.2: ignore empty lines before a start line */
        if (!start_line(p, l, n)) {
            fail(p, cb, ctx, p->seen_any || p->messages ? HTTP_P_BAD_START : HTTP_P_NOT_HTTP);
            return;
        }
        p->seen_any = true;
        p->header_bytes = n;
        p->state = S_HEADERS;
        return;
    case S_RESYNC:
        if (n == 0 || !start_line(p, l, n))
            return;
        p->seen_any = true;
        p->header_bytes = n;
        p->state = S_HEADERS;
        return;
    case S_HEADERS:
    case S_TRAILERS:
        p->header_bytes += n + 2;
        if (p->header_bytes > p->lim.max_header_bytes) {
            fail(p, cb, ctx, HTTP_P_HEADER_LIMIT);
            return;
        }
        if (n == 0) {
            if (p->state == S_HEADERS)
                end_of_headers(p, cb, ctx);
            else
                finish(p, cb, ctx);
            return;
        }
        if (p->state == S_HEADERS && (why = header_line(p, l, n)) != 0)
            fail(p, cb, ctx, why);
        return;
    case S_CHUNK_SIZE: {
        uint64_t size;
        if (!parse_chunk_size(l, n, &size)) {
            fail(p, cb, ctx, HTTP_P_BAD_CHUNK);
            return;
        }
        if (size == 0) {
            p->state = S_TRAILERS;
            return;
        }
        if (size > p->lim.max_body_bytes || p->msg.body_wire_len + size > p->lim.max_body_bytes) {
            fail(p, cb, ctx, HTTP_P_BODY_LIMIT);
            return;
        }
        p->chunk_left = size;
        p->state = S_CHUNK_DATA;
        return;
    }
    case S_CHUNK_END:
        if (n != 0) {
            fail(p, cb, ctx, HTTP_P_BAD_CHUNK);
            return;
        }
        p->state = S_CHUNK_SIZE;
        return;
    default:
        return;
    }
}

static bool in_body_state(int s)
{
    return s == S_BODY || s == S_CHUNK_DATA || s == S_BODY_EOF;
}

/* How long a single line may be before it is a problem in this state. */
static size_t line_max(const struct http_parser *p)
{
    return p->lim.max_header_bytes;
}

static void line_overflow(struct http_parser *p, const struct http_callbacks *cb, void *ctx)
{
    p->line_len = 0;
    p->line_overlong = true;
    switch (p->state) {
    case S_START:
        fail(p, cb, ctx, p->seen_any ? HTTP_P_BAD_START : HTTP_P_NOT_HTTP);
        break;
    case S_HEADERS:
    case S_TRAILERS:
        fail(p, cb, ctx, HTTP_P_HEADER_LIMIT);
        break;
    case S_CHUNK_SIZE:
    case S_CHUNK_END:
        fail(p, cb, ctx, HTTP_P_BAD_CHUNK);
        break;
    default:
        break; /* resync: just skip it */
    }
}

void http_feed(struct http_parser *p, const uint8_t *data, size_t len,
               const struct http_callbacks *cb, void *ctx)
{
    while (len > 0) {
        if (in_body_state(p->state)) {
            size_t n = len;
            if (p->state != S_BODY_EOF && n > p->chunk_left)
                n = (size_t)p->chunk_left;
            enum http_problem why;
            if (p->state == S_BODY_EOF && p->msg.body_wire_len + n > p->lim.max_body_bytes) {
                fail(p, cb, ctx, HTTP_P_BODY_LIMIT);
                continue;
            }
            if (body_append(p, data, n, &why) != 0) {
                fail(p, cb, ctx, why);
                continue;
            }
            p->msg.body_wire_len += n;
            data += n;
            len -= n;
            if (p->state == S_BODY_EOF)
                continue;
            p->chunk_left -= n;
            if (p->chunk_left == 0) {
                if (p->state == S_BODY)
                    finish(p, cb, ctx);
                else
                    p->state = S_CHUNK_END;
            }
            continue;
        }
        /* A binary first byte on a fresh stream: not HTTP, say so at once. */
        if (p->state == S_START && !p->seen_any && p->line_len == 0 && !p->line_overlong &&
            !is_tchar(data[0]) && data[0] != '\r' && data[0] != '\n') {
            fail(p, cb, ctx, HTTP_P_NOT_HTTP);
            p->line_overlong = true; /* skip to the next line */
        }
        const uint8_t *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) + 1 : len;
        if (p->line_overlong) {
            if (nl)
                p->line_overlong = false;
            data += take;
            len -= take;
            continue;
        }
        size_t body = nl ? take - 1 : take;
        if (p->line_len + body > line_max(p)) {
            line_overflow(p, cb, ctx);
            if (nl)
                p->line_overlong = false;
            data += take;
            len -= take;
            continue;
        }
        if (!nl || p->line_len) {
            /* Carry a partial line to the next feed (or finish a carried one). */
            if (p->line_len + body > p->line_cap) {
                size_t cap = p->line_cap ? p->line_cap : 128;
                while (cap < p->line_len + body)
                    cap *= 2;
                uint8_t *nb = realloc(p->line, cap);
                if (!nb) {
                    p->line_len = 0;
                    fail(p, cb, ctx, HTTP_P_NOMEM);
                    p->line_overlong = !nl;
                    data += take;
                    len -= take;
                    continue;
                }
                p->line = nb;
                p->line_cap = cap;
            }
            memcpy(p->line + p->line_len, data, body);
            p->line_len += body;
            data += take;
            len -= take;
            if (!nl)
                continue;
            size_t n = p->line_len;
            p->line_len = 0;
            if (n && p->line[n - 1] == '\r')
                n--;
            handle_line(p, p->line, n, cb, ctx);
            continue;
        }
        size_t n = body;
        if (n && data[n - 1] == '\r')
            n--;
        const uint8_t *l = data;
        data += take;
        len -= take;
        handle_line(p, l, n, cb, ctx);
    }
}

void http_hole(struct http_parser *p, const struct http_callbacks *cb, void *ctx)
{
    bool inside = p->state != S_START && p->state != S_RESYNC;
    p->line_len = 0;
    p->line_overlong = false;
    if (inside || (p->state == S_START && p->seen_any)) {
        msg_reset(p);
        p->state = S_RESYNC;
        if (inside && cb->on_problem)
            cb->on_problem(ctx, HTTP_P_HOLE);
        return;
    }
    p->state = S_RESYNC;
}

void http_eof(struct http_parser *p, const struct http_callbacks *cb, void *ctx)
{
    if (p->state == S_BODY_EOF) {
        finish(p, cb, ctx);
    } else if (p->state != S_START && p->state != S_RESYNC) {
        fail(p, cb, ctx, HTTP_P_TRUNCATED);
    }
    p->line_len = 0;
    p->line_overlong = false;
}
