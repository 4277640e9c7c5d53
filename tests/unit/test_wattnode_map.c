/* Unit tests: the WattNode register table, its CDAB decoding and the read planner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/wattnode_map.h"
#include "util/err.h"

/* Put a float into a register image, low word first (as the meter does). */
static void put_float_cdab(uint16_t *regs, uint16_t start, uint16_t doc_reg, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    regs[wn_wire_addr(doc_reg) - start] = (uint16_t)(u & 0xFFFF);
    regs[wn_wire_addr(doc_reg) - start + 1] = (uint16_t)(u >> 16);
}

static void documented_vector(void **state)
{
    (void)state;
    /* docs/protocol.md section 2: EnergySum 1001 = 1.005 kWh reads as A3D7 3F80 at 0x03E8. */
    assert_int_equal(wn_wire_addr(1001), 0x03E8);
    uint16_t regs[2] = {0xA3D7, 0x3F80};
    struct wn_values v = {0};
    assert_int_equal(wattnode_decode(regs, 2, 0x03E8, &v), 1);
    assert_true(v.present[WN_ENERGY_SUM]);
    assert_true(v.value[WN_ENERGY_SUM] == 1.005);
    assert_false(v.present[WN_ENERGY_SUM_NR]);
}

static void the_main_block(void **state)
{
    (void)state;
    /* 1001-1034 as one read of 34 registers. */
    enum { START = 1000, N = 34 };
    uint16_t regs[N] = {0};
    put_float_cdab(regs, START, 1001, 5.5f);
    put_float_cdab(regs, START, 1005, -12.25f);
    put_float_cdab(regs, START, 1007, 1234.5f);
    put_float_cdab(regs, START, 1009, -1378.3f);
    put_float_cdab(regs, START, 1011, -700.0f);
    put_float_cdab(regs, START, 1013, -678.3f);
    put_float_cdab(regs, START, 1017, 121.2f);
    put_float_cdab(regs, START, 1019, 121.0f);
    put_float_cdab(regs, START, 1021, 121.4f);
    put_float_cdab(regs, START, 1033, 60.001f);
    struct wn_values v = {0};
    wattnode_decode(regs, N, START, &v);
    assert_true(v.value[WN_ENERGY_SUM_NR] == -12.25);
    assert_true(v.value[WN_ENERGY_POS_SUM_NR] == 1234.5);
    assert_true(v.value[WN_POWER_SUM] == -1378.3);
    assert_true(v.value[WN_POWER_B] == -678.3);
    assert_true(v.value[WN_VOLT_AVG_LN] == 121.2);
    assert_true(v.value[WN_FREQ] == 60.001);
    assert_true(v.present[WN_VOLT_C]);
    assert_true(v.value[WN_VOLT_C] == 0.0);
    assert_int_equal(v.out_of_range, 0);
    /* 1115 lies outside the block: not decoded. */
    assert_false(v.present[WN_ENERGY_NEG_SUM_NR]);

    /* A read that ends in the middle of a float decodes only what fits. */
    struct wn_values part = {0};
    wattnode_decode(regs, 5, START, &part); /* 1001..1005: 1005 needs 1006 too */
    assert_true(part.present[WN_ENERGY_POS_SUM]);
    assert_false(part.present[WN_ENERGY_SUM_NR]);
}

static void sanity_ranges_drop_garbage(void **state)
{
    (void)state;
    enum { START = 1000, N = 34 };
    uint16_t regs[N];
    memset(regs, 0xFF, sizeof regs); /* all NaN */
    struct wn_values v = {0};
    assert_int_equal(wattnode_decode(regs, N, START, &v), 0);
    assert_int_equal(v.out_of_range, 17);
    for (int f = 0; f < WN_FIELD_COUNT_; f++)
        assert_false(v.present[f]);

    memset(regs, 0, sizeof regs);
    put_float_cdab(regs, START, 1017, 1e9f); /* no meter measures a gigavolt */
    put_float_cdab(regs, START, 1007, -3.0f); /* import counters never go negative */
    memset(&v, 0, sizeof v);
    wattnode_decode(regs, N, START, &v);
    assert_false(v.present[WN_VOLT_AVG_LN]);
    assert_false(v.present[WN_ENERGY_POS_SUM_NR]);
    assert_false(v.present[WN_FREQ]); /* 0 Hz: cannot measure */
    assert_int_equal(v.out_of_range, 3);
}

static void identity_block(void **state)
{
    (void)state;
    enum { START = 1700, N = 8 };
    uint16_t regs[N] = {0};
    regs[0] = 0xE240; /* 123456 = 0x0001E240, low word first */
    regs[1] = 0x0001;
    regs[6] = 203; /* Model */
    regs[7] = 31;  /* Version */
    struct wn_values v = {0};
    wattnode_decode(regs, N, START, &v);
    assert_true(v.value[WN_SERIAL] == 123456);
    assert_true(v.value[WN_MODEL] == 203);
    assert_true(v.value[WN_VERSION] == 31);

    /* The int32 energies are 0.1 kWh, low word first. */
    uint16_t ints[2] = {0x3039, 0x0000}; /* 12345 -> 1234.5 kWh */
    memset(&v, 0, sizeof v);
    wattnode_decode(ints, 2, wn_wire_addr(1205), &v);
    assert_true(v.value[WN_ENERGY_SUM_NR_INT] == 1234.5);
}

static void plan_fewest_reads(void **state)
{
    (void)state;
    struct modbus_block b[8];
    int n = wattnode_plan(WN_USE_POLL, 8, b, 8);
    /* 1005-1034 in one read, 1115-1116 in another: 1115 is 80 registers on. */
    assert_int_equal(n, 2);
    assert_int_equal(b[0].addr, 1004);
    assert_int_equal(b[0].count, 30);
    assert_int_equal(b[1].addr, 1114);
    assert_int_equal(b[1].count, 2);

    /* Identity: 1701-1708 is one read (1703/1705 are documented fill). */
    n = wattnode_plan(WN_USE_IDENTITY, 8, b, 8);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].addr, 1700);
    assert_int_equal(b[0].count, 8);

    /* No merging at all when the gap allowance is 0. */
    n = wattnode_plan(WN_USE_IDENTITY, 0, b, 8);
    assert_int_equal(n, 2);

    /* Too little room is an error, not an overflow. */
    assert_int_equal(wattnode_plan(WN_USE_POLL, 8, b, 1), PVTAP_ELIMIT);

    /* Every polled row is covered by the plan, and every block fits a read. */
    size_t len;
    const struct wn_reg *map = wattnode_map(&len);
    n = wattnode_plan(WN_USE_POLL, 8, b, 8);
    for (size_t i = 0; i < len; i++) {
        if (map[i].use != WN_USE_POLL)
            continue;
        int covered = 0;
        for (int k = 0; k < n; k++)
            covered |= wn_wire_addr(map[i].doc_reg) >= b[k].addr &&
                       wn_wire_addr(map[i].doc_reg) + wn_reg_width(&map[i]) <=
                           (unsigned)b[k].addr + b[k].count;
        assert_true(covered);
    }
}

static void table_is_consistent(void **state)
{
    (void)state;
    size_t len;
    const struct wn_reg *map = wattnode_map(&len);
    for (size_t i = 0; i < len; i++) {
        assert_non_null(map[i].name);
        assert_true(map[i].min < map[i].max);
        assert_ptr_equal(wattnode_map_field(map[i].field), &map[i]);
        if (i > 0) /* sorted, no overlap */
            assert_true(map[i].doc_reg >= map[i - 1].doc_reg + wn_reg_width(&map[i - 1]));
    }
    /* The resettable net register is never a reading. */
    assert_int_equal(wattnode_map_field(WN_ENERGY_SUM)->q, 0);
    assert_int_equal(wattnode_map_field(WN_ENERGY_SUM_NR)->q, Q_ENERGY_NET_LIFETIME_KWH);
    assert_int_equal(wattnode_map_field(WN_ENERGY_NEG_SUM_NR)->q, Q_ENERGY_EXPORT_LIFETIME_KWH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documented_vector),   cmocka_unit_test(the_main_block),
        cmocka_unit_test(sanity_ranges_drop_garbage), cmocka_unit_test(identity_block),
        cmocka_unit_test(plan_fewest_reads),   cmocka_unit_test(table_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
