/* libFuzzer target: the resumable HTTP parser alone, chunked, with holes and a shared budget. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
    const struct http_limits *lim;
    uint64_t messages;
    bool keep;
};

static bool want_body(void *c, const struct http_msg *m)
{
    struct ctx *x = c;
    return x->keep && strcmp(m->method, "POST") == 0;
}

static void on_message(void *c, const struct http_msg *m)
{
    struct ctx *x = c;
    x->messages++;
    if (m->body_len > x->lim->max_body_bytes || m->body_len > m->body_wire_len ||
        (m->body_len && !m->body) || strnlen(m->path, sizeof m->path) == sizeof m->path ||
        strnlen(m->method, sizeof m->method) == sizeof m->method)
        abort();
    if (m->kind == HTTP_RESPONSE && m->body_len > HTTP_REPLY_KEEP)
        abort();
    if (m->kind == HTTP_REQUEST && !m->body_kept && m->body_len)
        abort();
    /* touch every kept byte: ASan checks the borrowed pointer */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < m->body_len; i++)
        sum += m->body[i];
    (void)sum;
}

static void on_problem(void *c, enum http_problem p)
{
    (void)c;
    if (!http_problem_name(p))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Byte 0: limits and whether request bodies are kept. Then chunks as
     * [ctl len] + len bytes: ctl bit 0 is the direction, bit 1 a hole
     * before the chunk, bit 2 the end of that stream (a new one starts). */
    if (size < 1)
        return 0;
    struct http_budget budget = {0, 600 + (size_t)(data[0] & 0x0F) * 300};
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_header_bytes = 64 + (size_t)(data[0] & 0x30) * 8;
    lim.max_body_bytes = 1024;
    lim.budget = &budget;
    struct ctx x = {&lim, 0, (data[0] & 0x40) != 0};
    static const struct http_callbacks cb = {want_body, on_message, on_problem};
    struct http_parser p[2];
    http_parser_init(&p[0], HTTP_REQUEST, &lim);
    http_parser_init(&p[1], HTTP_RESPONSE, &lim);
    size_t off = 1;
    while (off + 2 <= size) {
        uint8_t ctl = data[off];
        size_t len = data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        struct http_parser *hp = &p[ctl & 1];
        if (ctl & 2)
            http_hole(hp, &cb, &x);
        http_feed(hp, data + off, len, &cb, &x);
        off += len;
        if (budget.used > budget.max)
            abort();
        if (ctl & 4) {
            http_eof(hp, &cb, &x);
            enum http_kind k = hp->kind;
            http_parser_free(hp);
            http_parser_init(hp, k, &lim);
        }
    }
    http_eof(&p[0], &cb, &x);
    http_eof(&p[1], &cb, &x);
    http_parser_free(&p[0]);
    http_parser_free(&p[1]);
    /* everything taken from the shared budget is given back */
    if (budget.used != 0)
        abort();
    return 0;
}
