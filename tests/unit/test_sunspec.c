/* Unit tests: SunSpec chain walk, model 1 strings, models 101-103 with scale factors and sentinels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sunspec.h"
#include "util/err.h"

static void put_string(uint16_t *regs, size_t nregs, const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < nregs; i++) {
        uint8_t hi = 2 * i < len ? (uint8_t)s[2 * i] : 0;
        uint8_t lo = 2 * i + 1 < len ? (uint8_t)s[2 * i + 1] : 0;
        regs[i] = (uint16_t)(hi << 8 | lo);
    }
}

/* A device image from 40000: SunS, model 1, model 101, model 160 (MPPT, to
 * be skipped), end. Walk it by feeding headers as a poller would. */
static void walk_chain(void **state)
{
    (void)state;
    static uint16_t img[200];
    memset(img, 0, sizeof img);
    size_t p = 0;
    img[p++] = 0x5375;
    img[p++] = 0x6E53;
    img[p++] = 1;
    img[p++] = 66;
    p += 66;
    img[p++] = 101;
    img[p++] = 50;
    p += 50;
    img[p++] = 160;
    img[p++] = 20;
    p += 20;
    img[p++] = 0xFFFF;
    img[p++] = 0;

    struct sunspec_chain c;
    assert_int_equal(sunspec_chain_start(&c, 40000, img), 0);
    int rc;
    int steps = 0;
    while ((rc = sunspec_chain_feed(&c, img + (c.next_addr - 40000))) == 0)
        steps++;
    assert_int_equal(rc, 1);
    assert_int_equal(steps, 3);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.models[0].id, 1);
    assert_int_equal(c.models[0].addr, 40004);
    assert_int_equal(c.models[1].id, 101);
    assert_int_equal(c.models[1].addr, 40004 + 66 + 2);
    assert_int_equal(c.models[1].len, 50);
    assert_ptr_equal(sunspec_chain_inverter(&c), &c.models[1]);
    assert_ptr_equal(sunspec_chain_find(&c, 160), &c.models[2]);
    assert_null(sunspec_chain_find(&c, 103));
    /* Fed again after the end it stays done. */
    assert_int_equal(sunspec_chain_feed(&c, img), 1);
}

static void walk_rejects_bad_chains(void **state)
{
    (void)state;
    struct sunspec_chain c;
    const uint16_t not_suns[2] = {0x5375, 0x6E54};
    assert_int_equal(sunspec_chain_start(&c, 40000, not_suns), PVTAP_ENOTMINE);
    const uint16_t suns[2] = {0x5375, 0x6E53};

    /* Erased memory after the marker: corrupt, never an endless walk. */
    assert_int_equal(sunspec_chain_start(&c, 40000, suns), 0);
    const uint16_t zero[2] = {0, 0};
    assert_int_equal(sunspec_chain_feed(&c, zero), PVTAP_ECORRUPT);

    /* A length that runs past the address space. */
    assert_int_equal(sunspec_chain_start(&c, 50000, suns), 0);
    const uint16_t huge[2] = {1, 0xFFF0};
    assert_int_equal(sunspec_chain_feed(&c, huge), PVTAP_ECORRUPT);

    /* A chain of tiny models that never ends hits the model limit. */
    assert_int_equal(sunspec_chain_start(&c, 0, suns), 0);
    const uint16_t tiny[2] = {7, 0};
    int rc = 0;
    for (int i = 0; i < SUNSPEC_MAX_MODELS + 1 && rc == 0; i++)
        rc = sunspec_chain_feed(&c, tiny);
    assert_int_equal(rc, PVTAP_ELIMIT);
}

static void common_model(void **state)
{
    (void)state;
    uint16_t body[66];
    memset(body, 0, sizeof body);
    put_string(body + 0, 16, "SunPower");
    put_string(body + 16, 16, "SPR-5000m");
    put_string(body + 40, 8, "2.1   ");
    put_string(body + 48, 16, "1234\x01Z");
    body[64] = 3;
    struct sunspec_common cm;
    assert_int_equal(sunspec_decode_common(body, 66, &cm), 0);
    assert_string_equal(cm.manufacturer, "SunPower");
    assert_string_equal(cm.model, "SPR-5000m");
    assert_string_equal(cm.version, "2.1");
    assert_string_equal(cm.serial, "1234?Z"); /* a control byte is shown, not passed on */
    assert_string_equal(cm.options, "");
    assert_int_equal(cm.device_address, 3);
    assert_int_equal(sunspec_decode_common(body, 64, &cm), PVTAP_ETRUNC);

    /* Sixteen registers of text fill the field exactly, still terminated. */
    put_string(body + 48, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    assert_int_equal(sunspec_decode_common(body, 65, &cm), 0);
    assert_string_equal(cm.serial, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
}

/* A model 101 body as a SunSpec inverter reports at midday. */
static void fill_101(uint16_t *b)
{
    for (int i = 0; i < 50; i++)
        b[i] = 0xFFFF;
    b[0] = 2450;               /* A */
    b[4] = (uint16_t)-2;       /* A_SF: 24.50 A */
    b[5] = 0xFFFF;             /* PPVphAB not implemented */
    b[8] = 24903;              /* PhVphA */
    b[11] = (uint16_t)-2;      /* V_SF: 249.03 V */
    b[12] = 5883;              /* W */
    b[13] = 0;                 /* W_SF */
    b[14] = 60010;             /* Hz */
    b[15] = (uint16_t)-3;      /* 60.010 Hz */
    b[22] = 0x0001;            /* WH = 0x0001E240 = 123456 */
    b[23] = 0xE240;
    b[24] = 1;                 /* WH_SF: x10 -> 1234560 Wh */
    b[25] = 0xFFFF;            /* DCA not implemented */
    b[26] = (uint16_t)-2;
    b[27] = 3801;              /* DCV */
    b[28] = (uint16_t)-1;      /* 380.1 V */
    b[29] = 6012;              /* DCW */
    b[30] = 0;
    b[31] = 0x8000;            /* TmpCab not implemented */
    b[32] = (uint16_t)-52;     /* TmpSnk = -5.2 C */
    b[35] = (uint16_t)-1;
    b[36] = 4;                 /* MPPT */
}

static void inverter_model(void **state)
{
    (void)state;
    uint16_t b[50];
    fill_101(b);
    struct sunspec_inverter inv;
    assert_int_equal(sunspec_decode_inverter(101, b, 50, &inv), 0);
    assert_true(inv.has_power_W && inv.power_W == 5883);
    assert_true(inv.has_energy_kWh && inv.energy_kWh == 1234.56);
    assert_true(inv.has_voltage_V && inv.voltage_V == 249.03);
    assert_true(inv.has_current_A && inv.current_A == 24.5);
    assert_true(inv.has_frequency_Hz && inv.frequency_Hz == 60.01);
    assert_false(inv.has_dc_current_A);
    assert_true(inv.has_dc_voltage_V && inv.dc_voltage_V == 380.1);
    assert_true(inv.has_dc_power_W && inv.dc_power_W == 6012);
    assert_false(inv.dc_power_derived);
    assert_true(inv.has_temperature_C && inv.temperature_C == -5.2);
    assert_true(inv.has_status && inv.status == 4);
    assert_string_equal(sunspec_state_name(inv.status), "MPPT");
    assert_null(sunspec_state_name(99));
    assert_int_equal(inv.out_of_range, 0);

    /* Sentinels: acc32 0, int16 0x8000, a scale factor of 0x8000. */
    b[22] = 0;
    b[23] = 0;
    b[12] = 0x8000;
    b[15] = 0x8000;
    b[36] = 0xFFFF;
    assert_int_equal(sunspec_decode_inverter(101, b, 50, &inv), 0);
    assert_false(inv.has_energy_kWh);
    assert_false(inv.has_power_W);
    assert_false(inv.has_frequency_Hz);
    assert_false(inv.has_status);
    assert_int_equal(inv.out_of_range, 0);

    /* Derived DC power when DCW is absent but V and A are there. */
    fill_101(b);
    b[25] = 1600;  /* 16.00 A */
    b[29] = 0x8000;
    assert_int_equal(sunspec_decode_inverter(101, b, 50, &inv), 0);
    assert_true(inv.dc_power_derived);
    assert_true(inv.dc_power_W > 6081.5 && inv.dc_power_W < 6081.7);

    /* Garbage that passes the sentinels but no sanity range is dropped and counted. */
    fill_101(b);
    b[8] = 60000;
    b[11] = 0;     /* 60 kV */
    b[35] = 3;     /* -52 x 1000 C */
    assert_int_equal(sunspec_decode_inverter(101, b, 50, &inv), 0);
    assert_false(inv.has_voltage_V);
    assert_false(inv.has_temperature_C);
    assert_int_equal(inv.out_of_range, 2);
    b[11] = 11;    /* a scale factor outside -10..10 is no scale factor */
    assert_int_equal(sunspec_decode_inverter(101, b, 50, &inv), 0);
    assert_false(inv.has_voltage_V);

    assert_int_equal(sunspec_decode_inverter(101, b, 49, &inv), PVTAP_ETRUNC);
    assert_int_equal(sunspec_decode_inverter(111, b, 50, &inv), PVTAP_ENOTMINE);
}

static void voltage_by_model(void **state)
{
    (void)state;
    uint16_t b[50];
    fill_101(b);
    b[5] = 24010;
    struct sunspec_inverter inv;
    assert_int_equal(sunspec_decode_inverter(102, b, 50, &inv), 0);
    assert_true(inv.voltage_V == 240.1);
    /* Three phase: mean of the implemented line-to-neutral voltages. */
    b[8] = 23000;
    b[9] = 23200;
    b[10] = 0xFFFF;
    assert_int_equal(sunspec_decode_inverter(103, b, 50, &inv), 0);
    assert_true(inv.voltage_V == 231.0);
    assert_true(sunspec_scale(24903, -2) == 249.03);
    assert_true(sunspec_scale(5, 3) == 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walk_chain),     cmocka_unit_test(walk_rejects_bad_chains),
        cmocka_unit_test(common_model),   cmocka_unit_test(inverter_model),
        cmocka_unit_test(voltage_by_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
