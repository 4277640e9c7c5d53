/* HTTP parser: every split point, chunked with extensions and trailers, keep-alive, limits, resync, replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/http_req.h"

struct got {
    int n;
    char paths[8][300];
    char bodies[8][256];
    int status[8];
    int problems[16];
    int n_problems;
};

static bool want(void *ctx, const struct http_msg *m)
{
    (void)ctx;
    return strcmp(m->method, "POST") == 0 && strstr(m->path, "SMS2DataCollector") != NULL;
}

static void on_msg(void *ctx, const struct http_msg *m)
{
    struct got *g = ctx;
    assert_true(g->n < 8);
    snprintf(g->paths[g->n], sizeof g->paths[0], "%s %s", m->method, m->path);
    snprintf(g->bodies[g->n], sizeof g->bodies[0], "%.*s", (int)m->body_len,
             m->body ? (const char *)m->body : "");
    g->status[g->n] = m->status;
    g->n++;
}

static void on_problem(void *ctx, enum http_problem p)
{
    struct got *g = ctx;
    if (g->n_problems < 16)
        g->problems[g->n_problems++] = (int)p;
}

static const struct http_callbacks cb = {want, on_msg, on_problem};

static void run_split(enum http_kind kind, const char *text, size_t split, struct got *g,
                      const struct http_limits *lim)
{
    struct http_parser p;
    http_parser_init(&p, kind, lim);
    memset(g, 0, sizeof *g);
    size_t n = strlen(text);
    if (split > n)
        split = n;
    http_feed(&p, (const uint8_t *)text, split, &cb, g);
    http_feed(&p, (const uint8_t *)text + split, n - split, &cb, g);
    http_eof(&p, &cb, g);
    http_parser_free(&p);
}

static const char keepalive[] =
    "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\n"
    "content-type: text/plain\r\nHOST: collector.sunpowermonitor.com\r\n"
    "Content-Length: 11\r\n\r\n"
    "100\tSPMS\n12"
    "\r\n" /* an empty line before the next request is allowed */
    "POST http://collector.sunpowermonitor.com/Command/SMS2DataCollector.aspx?x=1 HTTP/1.1\n"
    "Transfer-Encoding: chunked\n\n"
    "4;ext=1\r\n102\t\r\n"
    "000a\r\nnomAQPq+JV\r\n"
    "0\r\nX-Trailer: yes\r\n\r\n"
    "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n";

static void test_every_split(void **state)
{
    (void)state;
    struct got g;
    for (size_t split = 0; split <= sizeof keepalive - 1; split++) {
        run_split(HTTP_REQUEST, keepalive, split, &g, NULL);
        assert_int_equal(g.n, 3);
        assert_int_equal(g.n_problems, 0);
        assert_string_equal(g.paths[0], "POST /Data/SMS2DataCollector.aspx");
        assert_string_equal(g.bodies[0], "100\tSPMS\n12");
        assert_string_equal(g.paths[1], "POST /Command/SMS2DataCollector.aspx");
        assert_string_equal(g.bodies[1], "102\tnomAQPq+JV");
        assert_string_equal(g.paths[2], "GET /favicon.ico");
        assert_string_equal(g.bodies[2], "");
    }
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    struct http_parser p;
    struct got g;
    memset(&g, 0, sizeof g);
    http_parser_init(&p, HTTP_REQUEST, NULL);
    for (size_t i = 0; i < sizeof keepalive - 1; i++)
        http_feed(&p, (const uint8_t *)keepalive + i, 1, &cb, &g);
    http_parser_free(&p);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.bodies[1], "102\tnomAQPq+JV");
}

static void test_giant_content_length_resyncs(void **state)
{
    (void)state;
    struct got g;
    run_split(HTTP_REQUEST,
              "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n"
              "garbage\r\n"
              "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
              5, &g, NULL);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.bodies[0], "abc");
    assert_int_equal(g.problems[0], HTTP_P_BODY_LIMIT);
    /* Unparsable and conflicting lengths are malformed headers. */
    run_split(HTTP_REQUEST,
              "POST /a HTTP/1.1\r\nContent-Length: 999999999999999999999999999999\r\n\r\n", 3,
              &g, NULL);
    assert_int_equal(g.problems[0], HTTP_P_BODY_LIMIT);
    run_split(HTTP_REQUEST, "POST /a HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 3, &g, NULL);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.problems[0], HTTP_P_BAD_HEADER);
    run_split(HTTP_REQUEST, "POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
              3, &g, NULL);
    assert_int_equal(g.problems[0], HTTP_P_BAD_HEADER);
    run_split(HTTP_REQUEST, "POST /a HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nxyz", 3, &g, NULL);
    assert_int_equal(g.n, 1);
}

static void test_garbage_chunk_size(void **state)
{
    (void)state;
    struct got g;
    static const char *const bad[] = {
        "zz\r\n", "\r\n", "12345678901234567\r\n", "5 junk\r\n", "-1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[512];
        snprintf(req, sizeof req,
                 "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "%s"
                 "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nContent-Length: 2\r\n\r\nok",
                 bad[i]);
        run_split(HTTP_REQUEST, req, 7, &g, NULL);
        assert_int_equal(g.n_problems, 1);
        assert_int_equal(g.problems[0], HTTP_P_BAD_CHUNK);
        assert_int_equal(g.n, 1);
        assert_string_equal(g.bodies[0], "ok");
    }
    /* Data longer than the chunk size said: no CRLF where one must be. */
    run_split(HTTP_REQUEST,
              "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 0, &g,
              NULL);
    assert_int_equal(g.problems[0], HTTP_P_BAD_CHUNK);
    /* A TE the parser cannot frame. */
    run_split(HTTP_REQUEST, "POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, &g, NULL);
    assert_int_equal(g.problems[0], HTTP_P_BAD_HEADER);
}

static void test_header_and_body_limits(void **state)
{
    (void)state;
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_header_bytes = 64;
    lim.max_body_bytes = 8;
    struct got g;
    run_split(HTTP_REQUEST,
              "POST /a HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
              10, &g, &lim);
    assert_int_equal(g.problems[0], HTTP_P_HEADER_LIMIT);
    lim.max_header_bytes = 1024;
    run_split(HTTP_REQUEST,
              "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n",
              0, &g, &lim);
    assert_int_equal(g.problems[0], HTTP_P_BODY_LIMIT);
    assert_int_equal(g.n, 0);
    /* A shared budget smaller than one body. */
    struct http_budget b = {0, 4};
    lim.max_body_bytes = 1024;
    lim.budget = &b;
    run_split(HTTP_REQUEST,
              "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nContent-Length: 6\r\n\r\n123456", 0,
              &g, &lim);
    assert_int_equal(g.problems[0], HTTP_P_BUDGET_LIMIT);
    assert_int_equal(b.used, 0);
}

static void test_hole_not_http_truncated(void **state)
{
    (void)state;
    struct http_parser p;
    struct got g;
    memset(&g, 0, sizeof g);
    http_parser_init(&p, HTTP_REQUEST, NULL);
    const char *a = "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nContent-Length: 10\r\n\r\n12";
    http_feed(&p, (const uint8_t *)a, strlen(a), &cb, &g);
    http_hole(&p, &cb, &g);
    const char *b = "890\r\nPOST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nContent-Length: 1\r\n\r\nZ"
                    "POST /Data/SMS2DataCollector.aspx HTTP/1.1\r\nContent-Length: 5\r\n\r\nab";
    http_feed(&p, (const uint8_t *)b, strlen(b), &cb, &g);
    http_eof(&p, &cb, &g);
    http_parser_free(&p);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.bodies[0], "Z");
    assert_int_equal(g.problems[0], HTTP_P_HOLE);
    assert_int_equal(g.problems[1], HTTP_P_TRUNCATED);
    /* TLS on port 80: not HTTP, said at the first byte. */
    const uint8_t tls[] = {0x16, 0x03, 0x01, 0x00, 0x10, 'a', '\n', 'b'};
    memset(&g, 0, sizeof g);
    http_parser_init(&p, HTTP_REQUEST, NULL);
    http_feed(&p, tls, sizeof tls, &cb, &g);
    http_parser_free(&p);
    assert_int_equal(g.problems[0], HTTP_P_NOT_HTTP);
    assert_int_equal(g.n_problems, 1);
    run_split(HTTP_REQUEST, "POST / HTTP/2.0\r\n\r\n", 0, &g, NULL);
    assert_int_equal(g.problems[0], HTTP_P_NOT_HTTP);
}

static void test_replies(void **state)
{
    (void)state;
    struct got g;
    const char *r = "HTTP/1.1 100 Continue\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n1002\t20170607162941"
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n1002\t\r\n0\r\n\r\n"
                    "HTTP/1.0 500 Oops\r\n\r\nuntil close";
    for (size_t split = 0; split < strlen(r); split += 7) {
        run_split(HTTP_RESPONSE, r, split, &g, NULL);
        assert_int_equal(g.n, 4);
        assert_int_equal(g.status[0], 100);
        assert_int_equal(g.status[1], 200);
        assert_string_equal(g.bodies[1], "1002\t20170607162941");
        assert_string_equal(g.bodies[2], "1002\t");
        assert_int_equal(g.status[3], 500);
        assert_string_equal(g.bodies[3], "until close");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_giant_content_length_resyncs),
        cmocka_unit_test(test_garbage_chunk_size),
        cmocka_unit_test(test_header_and_body_limits),
        cmocka_unit_test(test_hole_not_http_truncated),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
