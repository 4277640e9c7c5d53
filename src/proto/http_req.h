/* Resumable HTTP/1.1 message parser (requests client->server, replies server->client). */
#ifndef PVTAP_PROTO_HTTP_REQ_H
#define PVTAP_PROTO_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Body bytes kept over all parsers sharing one budget (owned by the caller). */
struct http_budget {
    size_t used;
    size_t max;
};

struct http_limits {
    size_t max_header_bytes; /* start line + headers (+ trailers) of one message */
    size_t max_body_bytes;   /* Content-Length or the chunks' sum, kept or not */
    struct http_budget *budget; /* may be NULL: no shared cap */
};

void http_limits_default(struct http_limits *l);

enum http_kind { HTTP_REQUEST, HTTP_RESPONSE };

/* One complete message, borrowed for the duration of on_message(). */
struct http_msg {
    enum http_kind kind;
    char method[16];   /* requests: "POST" */
    char path[256];    /* requests: the target's path (absolute form's host and query dropped) */
    bool path_cut;     /* the path was longer than path[] holds */
    int status;        /* responses: 200, ... */
    bool chunked;
    bool body_kept;    /* want_body said yes (requests) / first bytes kept (responses) */
    const uint8_t *body;
    size_t body_len;   /* kept bytes (responses keep at most HTTP_REPLY_KEEP) */
    uint64_t body_wire_len; /* body bytes on the wire (after de-chunking) */
};

enum { HTTP_REPLY_KEEP = 256 };

/* Problems that make the parser drop the current message and resync at the
 * next start line. */
enum http_problem {
    HTTP_P_NOT_HTTP = 1, /* the first line of a stream is not a start line */
    HTTP_P_BAD_START,    /* a start line after a message is malformed */
    HTTP_P_BAD_HEADER,   /* header line without a colon, bad Content-Length, ... */
    HTTP_P_BAD_CHUNK,    /* garbage chunk size or missing chunk CRLF */
    HTTP_P_HEADER_LIMIT, /* headers larger than max_header_bytes */
    HTTP_P_BODY_LIMIT,   /* body larger than max_body_bytes */
    HTTP_P_BUDGET_LIMIT, /* the shared body budget is spent */
    HTTP_P_NOMEM,
    HTTP_P_HOLE,         /* bytes missing from the stream (a partial message is dropped) */
    HTTP_P_TRUNCATED,    /* the stream ended inside a message */
};
const char *http_problem_name(enum http_problem p);

struct http_callbacks {
    /* Requests: after the headers, keep this body? (NULL: never). */
    bool (*want_body)(void *ctx, const struct http_msg *m);
    void (*on_message)(void *ctx, const struct http_msg *m);
    void (*on_problem)(void *ctx, enum http_problem p); /* may be NULL */
};

/* Parser state; zero it with http_parser_init, release with http_parser_free. */
struct http_parser {
    enum http_kind kind;
    struct http_limits lim;
    int state;
    bool seen_any;        /* a start line was parsed on this stream */
    bool line_overlong;   /* discarding the rest of an overlong line */
    uint8_t *line;        /* a partial line carried between feeds */
    size_t line_len, line_cap;
    size_t header_bytes;
    uint64_t content_length;
    bool have_cl, te_chunked;
    uint64_t chunk_left;
    uint8_t *body;
    size_t body_len, body_cap;
    size_t budget_held;   /* what body_cap took from the shared budget */
    struct http_msg msg;
    uint64_t messages;    /* complete messages so far */
};

void http_parser_init(struct http_parser *p, enum http_kind kind, const struct http_limits *lim);
void http_parser_free(struct http_parser *p);
/* Feed stream bytes (any split). Never fails: problems go to on_problem and
 * the parser resyncs at the next start line. */
void http_feed(struct http_parser *p, const uint8_t *data, size_t len,
               const struct http_callbacks *cb, void *ctx);
/* Bytes missing: drop any partial message, resync at the next start line. */
void http_hole(struct http_parser *p, const struct http_callbacks *cb, void *ctx);
/* End of stream: a reply without length ends here; a partial message is reported. */
void http_eof(struct http_parser *p, const struct http_callbacks *cb, void *ctx);

#endif
