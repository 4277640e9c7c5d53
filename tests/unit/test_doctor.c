/* doctor's verdicts: each situation gets the right level and says what to do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "daemon/doctor.h"

static void test_mirror_verdicts(void **state)
{
    (void)state;
    static const struct {
        struct mirror_counts c;
        enum doctor_level level;
        const char *says;
    } cases[] = {
        {{0, 0, 0, 0, 0}, DOCTOR_FAIL, "is the Pi on port 5"},
        {{500, 40, 0, 2, 30}, DOCTOR_OK, "2 supervisor uploads with 30 records"},
        {{500, 0, 60, 0, 0}, DOCTOR_FAIL, "encrypted"},
        {{500, 12, 0, 0, 0}, DOCTOR_WARN, "run longer"},
        {{500, 0, 0, 0, 0}, DOCTOR_WARN, "port 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct doctor_result r;
        doctor_mirror_verdict("eth0", 20, &cases[i].c, &r);
        assert_int_equal(r.level, cases[i].level);
        assert_non_null(strstr(r.verdict, cases[i].says));
        assert_string_equal(r.check, "mirror port eth0");
    }
}

static void test_bus_verdicts(void **state)
{
    (void)state;
    static const struct {
        size_t bytes, requests, responses;
        bool transmit;
        enum doctor_level level;
        const char *says;
    } cases[] = {
        {0, 0, 0, false, DOCTOR_WARN, "A-/B+/common"},
        {0, 0, 0, true, DOCTOR_OK, "pvtap may poll here"},
        {300, 0, 0, false, DOCTOR_FAIL, "A and B swapped"},
        {300, 10, 0, false, DOCTOR_FAIL, "requests but no replies"},
        {900, 10, 10, true, DOCTOR_FAIL, "type = \"listen\""},
        {900, 10, 10, false, DOCTOR_OK, "a listen source can read it"},
        {400, 0, 8, false, DOCTOR_OK, "0 requests and 8 replies"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct modbus_rtu_scan scan;
        memset(&scan, 0, sizeof scan);
        scan.requests = cases[i].requests;
        scan.responses = cases[i].responses;
        struct doctor_result r;
        doctor_bus_verdict("/dev/ttyRS485-0", 10, cases[i].bytes, &scan, cases[i].transmit, &r);
        if (r.level != cases[i].level || !strstr(r.verdict, cases[i].says)) {
            print_error("case %zu: level %d: %s\n", i, r.level, r.verdict);
            fail();
        }
    }
}

static void test_latency_and_clock(void **state)
{
    (void)state;
    struct doctor_result r;
    doctor_latency_verdict("/dev/ttyUSB0", 16, &r);
    assert_int_equal(r.level, DOCTOR_WARN);
    assert_non_null(strstr(r.verdict, "16 ms"));
    doctor_latency_verdict("/dev/ttyUSB0", 1, &r);
    assert_int_equal(r.level, DOCTOR_OK);
    doctor_latency_verdict("/dev/pts/3", -1, &r);
    assert_int_equal(r.level, DOCTOR_SKIP);
    doctor_clock_verdict(true, 86400, &r);
    assert_int_equal(r.level, DOCTOR_FAIL);
    doctor_clock_verdict(false, 1800000000, &r);
    assert_int_equal(r.level, DOCTOR_WARN);
    doctor_clock_verdict(true, 1800000000, &r);
    assert_int_equal(r.level, DOCTOR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mirror_verdicts),
        cmocka_unit_test(test_bus_verdicts),
        cmocka_unit_test(test_latency_and_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
