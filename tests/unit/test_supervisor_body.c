/* Supervisor body: docs/protocol.md's sample as JSON, CRLF, no final LF, empty fields, unknown msg, bad time, layout overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/supervisor.h"
#include "util/err.h"

struct lines {
    char text[16][512];
    int n;
    struct pvs_layout layout;
    bool tsv;
};

static void collect(void *ctx, const struct pvs_record *rec)
{
    struct lines *l = ctx;
    struct pvs_out o = {0};
    if (l->tsv)
        pvs_record_tsv(rec, &o);
    else
        pvs_record_json(rec, &l->layout, &o);
    assert_false(o.failed);
    assert_true(l->n < 16);
    snprintf(l->text[l->n++], sizeof l->text[0], "%s", o.buf);
    pvs_out_free(&o);
}

static const char sample[] =
    "100\tSPMS\t10\tZT170285000441C0308\t20170607162941\n"
    "120\t20170607162500\tZT170285000441C0308\t0\t360\t0\t0\t306\t55561\t0.05\t23160\t12580\n"
    "130\t20170607162000\t414051708000326\tAC_Module_Type_C\t\t2.6042\t0.0963\t249.03\t0.5752\t"
    "0.0995\t56.0065\t1.7445\t28.75\t60.0096\t0\n"
    "140\t20170607162000\tPVS5M562239c\tPVS5M0400c\t100\t3.21\t-1.3783\t1.1428\t2.0108\t-0.6878\t"
    "60.001\t0\n"
    "102\tnomAQPq+JV15zemUzITk\n";

static void decode(struct lines *l, const char *body, size_t len, struct pvs_counts *c)
{
    l->n = 0;
    pvs_decode_body(body, len, &l->layout, collect, l, c);
}

static void test_protocol_sample(void **state)
{
    (void)state;
    struct lines l = {0};
    pvs_layout_default(&l.layout);
    struct pvs_counts c = {0};
    decode(&l, sample, strlen(sample), &c);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.text[0], "{\"msg\":100,\"time\":\"2017-06-07T16:29:41Z\",\"fields\":"
                                   "[\"SPMS\",\"10\",\"ZT170285000441C0308\",\"20170607162941\"]}");
    assert_string_equal(l.text[1],
                        "{\"msg\":120,\"time\":\"2017-06-07T16:25:00Z\",\"fields\":[\"20170607162500\","
                        "\"ZT170285000441C0308\",\"0\",\"360\",\"0\",\"0\",\"306\",\"55561\",\"0.05\","
                        "\"23160\",\"12580\"]}");
    /* The README's record examples (sniff, Output), byte for byte. */
    assert_string_equal(
        l.text[2],
        "{\"msg\":130,\"time\":\"2017-06-07T16:20:00Z\",\"serial\":\"414051708000326\",\"model\":"
        "\"AC_Module_Type_C\",\"energy_lifetime_kWh\":2.6042,\"power_kW\":0.0963,\"voltage_V\":"
        "249.03,\"current_A\":0.5752,\"dc_power_kW\":0.0995,\"dc_voltage_V\":56.0065,"
        "\"dc_current_A\":1.7445,\"temperature_C\":28.75,\"frequency_Hz\":60.0096,\"status\":0}");
    assert_string_equal(
        l.text[3],
        "{\"msg\":140,\"time\":\"2017-06-07T16:20:00Z\",\"serial\":\"PVS5M562239c\",\"model\":"
        "\"PVS5M0400c\",\"ct_scale\":100,\"energy_net_lifetime_kWh\":3.21,\"power_kW\":-1.3783,"
        "\"reactive_kvar\":1.1428,\"apparent_kVA\":2.0108,\"power_factor\":-0.6878,"
        "\"frequency_Hz\":60.001,\"status\":0}");
    /* 102 carries the request's send time from its 100 header. */
    assert_string_equal(l.text[4], "{\"msg\":102,\"time\":\"2017-06-07T16:29:41Z\",\"fields\":"
                                   "[\"nomAQPq+JV15zemUzITk\"]}");
    assert_int_equal(c.records, 5);
    assert_int_equal(c.bad_lines, 0);
}

static void test_crlf_and_no_final_newline(void **state)
{
    (void)state;
    struct lines a = {0}, b = {0};
    pvs_layout_default(&a.layout);
    pvs_layout_default(&b.layout);
    decode(&a, sample, strlen(sample), NULL);
    char crlf[2048];
    size_t n = 0;
    for (const char *p = sample; *p; p++) {
        if (*p == '\n')
            crlf[n++] = '\r';
        crlf[n++] = *p;
    }
    decode(&b, crlf, n - 2, NULL); /* and the last CRLF missing */
    assert_int_equal(a.n, b.n);
    for (int i = 0; i < a.n; i++)
        assert_string_equal(a.text[i], b.text[i]);
}

static void test_empty_unknown_bad(void **state)
{
    (void)state;
    struct lines l = {0};
    pvs_layout_default(&l.layout);
    struct pvs_counts c = {0};
    const char body[] = "\n"
                        "130\t20170607162000\tS1\t\t\t\t\t\t\t\t\t\t\t\t\n" /* all empty */
                        "999\tx\t\ty\n"                                   /* unknown, empty kept */
                        "abc\tnot a record\n"                             /* no msg number */
                        "140\t2017060716200\tM1c\tm\t1\t.5\t+1\t007\t1e3\t-0\t60\t0\n" /* bad time */
                        "131\t20171332000000\tz\n"                        /* impossible date */
                        "102\tonly\n";                                    /* no 100 before */
    decode(&l, body, sizeof body - 1, &c);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.text[0], "{\"msg\":130,\"time\":\"2017-06-07T16:20:00Z\",\"serial\":\"S1\"}");
    assert_string_equal(l.text[1], "{\"msg\":999,\"fields\":[\"x\",\"\",\"y\"]}");
    /* Not JSON numbers stay strings; the time is omitted. */
    assert_string_equal(l.text[2],
                        "{\"msg\":140,\"serial\":\"M1c\",\"model\":\"m\",\"ct_scale\":1,"
                        "\"energy_net_lifetime_kWh\":\".5\",\"power_kW\":\"+1\",\"reactive_kvar\":"
                        "\"007\",\"apparent_kVA\":1e3,\"power_factor\":-0,\"frequency_Hz\":60,"
                        "\"status\":0}");
    assert_string_equal(l.text[3], "{\"msg\":131,\"fields\":[\"20171332000000\",\"z\"]}");
    assert_string_equal(l.text[4], "{\"msg\":102,\"fields\":[\"only\"]}");
    assert_int_equal(c.bad_lines, 1);
    assert_int_equal(c.bad_times, 1);
    /* Strings are JSON-escaped. */
    const char esc[] = "999\ta\"b\\c\x01\n";
    decode(&l, esc, sizeof esc - 1, NULL);
    assert_string_equal(l.text[0], "{\"msg\":999,\"fields\":[\"a\\\"b\\\\c\\u0001\"]}");
    /* Too many fields is a bad line, not an overflow. */
    char wide[1024] = "999";
    for (int i = 0; i < PVS_MAX_FIELDS + 1; i++)
        strcat(wide, "\t1");
    memset(&c, 0, sizeof c);
    decode(&l, wide, strlen(wide), &c);
    assert_int_equal(l.n, 0);
    assert_int_equal(c.bad_lines, 1);
}

static void test_layout_override_and_numbers(void **state)
{
    (void)state;
    struct lines l = {0};
    pvs_layout_default(&l.layout);
    /* A firmware that swapped power and energy. */
    assert_int_equal(pvs_layout_set(&l.layout, 130, "power_kW", 4), PVTAP_OK);
    assert_int_equal(pvs_layout_set(&l.layout, 130, "energy_lifetime_kWh", 5), PVTAP_OK);
    assert_int_equal(pvs_layout_set(&l.layout, 130, "nope", 5), PVTAP_ENOTFOUND);
    assert_int_equal(pvs_layout_set(&l.layout, 120, "power_kW", 5), PVTAP_ENOTFOUND);
    assert_int_equal(pvs_layout_set(&l.layout, 130, "power_kW", 64), PVTAP_EINVAL);
    const char body[] = "130\t20170607162000\tS\tM\t\t0.5\t1234.5\n";
    struct pvs_record rec;
    decode(&l, body, sizeof body - 1, NULL);
    assert_string_equal(l.text[0], "{\"msg\":130,\"time\":\"2017-06-07T16:20:00Z\",\"serial\":\"S\","
                                   "\"model\":\"M\",\"energy_lifetime_kWh\":1234.5,\"power_kW\":0.5}");
    (void)rec;
    assert_true(pvs_is_json_number("2.6042", 6));
    assert_true(pvs_is_json_number("-0.5e-3", 7));
    assert_false(pvs_is_json_number("1.", 2));
    assert_false(pvs_is_json_number("", 0));
    assert_false(pvs_is_json_number("NaN", 3));
    /* TSV: msg, time, raw fields. */
    l.tsv = true;
    decode(&l, "140\t20170607162000\tP\t\tx", 24, NULL);
    assert_string_equal(l.text[0], "140\t2017-06-07T16:20:00Z\t20170607162000\tP\t\tx");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_sample),
        cmocka_unit_test(test_crlf_and_no_final_newline),
        cmocka_unit_test(test_empty_unknown_bad),
        cmocka_unit_test(test_layout_override_and_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
