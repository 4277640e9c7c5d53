/* Unit tests of the mqtt sink's pure payloads: sums, site/device state, live, alerts, HA discovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>

#include "sinks/ha_payload.h"
#include "util/err.h"

/* cmocka before 1.1.6 has no assert_double_equal */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

enum { P = IHAS_PRODUCTION, N = IHAS_NET, C = IHAS_CONSUMPTION, I = IHAS_IMPORT, E = IHAS_EXPORT };

/* ---- sums: counters where present, else the sign of net ---------------------- */

struct sums_case {
    const char *name;
    struct {
        double p, n, c, i, e;
        unsigned has;
    } rows[4];
    size_t n_rows;
    int64_t want_p, want_n, want_c, want_i, want_e; /* deci-Wh */
    unsigned want_has;
};

static const struct sums_case sums_cases[] = {
    {"net-sign-only", {{100, -30, 70, 0, 0, P | N | C}, {50, 20, 70, 0, 0, P | N | C}}, 2,
     1500, -100, 1400, 200, 300, P | N | C | I | E},
    {"counters-win-over-net", {{0, 10, 0, 25, 15, N | I | E}}, 1, 0, 100, 0, 250, 150, N | I | E},
    {"production-only", {{12.34, 0, 0, 0, 0, P}, {0.05, 0, 0, 0, 0, P}}, 2, 124, 0, 0, 0, 0, P},
    {"import-counter-export-from-net", {{0, -5, 0, 0.5, 0, N | I}}, 1, 0, -50, 0, 5, 50,
     N | I | E},
    {"rounding-as-printed", {{0.04, 0, 0, 0, 0, P}, {0.06, 0, 0, 0, 0, P}}, 2, 1, 0, 0, 0, 0, P},
    {"no-data", {{0, 0, 0, 0, 0, 0}}, 1, 0, 0, 0, 0, 0, 0},
};

static void test_sums(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof sums_cases / sizeof sums_cases[0]; k++) {
        const struct sums_case *t = &sums_cases[k];
        struct ha_sums s = {0};
        for (size_t r = 0; r < t->n_rows; r++) {
            struct interval_row row = {.interval_end = 300 * (int64_t)(r + 1),
                                       .series = "sniff",
                                       .production_wh = t->rows[r].p,
                                       .net_wh = t->rows[r].n,
                                       .consumption_wh = t->rows[r].c,
                                       .import_wh = t->rows[r].i,
                                       .export_wh = t->rows[r].e,
                                       .has = t->rows[r].has};
            ha_sums_add_row(&s, &row);
        }
        print_message("case %s\n", t->name);
        assert_int_equal(s.production_dwh, t->want_p);
        assert_int_equal(s.net_dwh, t->want_n);
        assert_int_equal(s.consumption_dwh, t->want_c);
        assert_int_equal(s.import_dwh, t->want_i);
        assert_int_equal(s.export_dwh, t->want_e);
        assert_int_equal(s.has, t->want_has);
        assert_int_equal(s.intervals, (int64_t)t->n_rows);
    }
}

static void test_floor(void **state)
{
    (void)state;
    struct ha_sums fl = {0};
    /* each step: computed production/net -> published */
    static const struct {
        int64_t p, n;
        unsigned has;
        int64_t want_p, want_n;
    } steps[] = {
        {100, -50, P | N, 100, -50},
        {90, -70, P | N, 100, -70}, /* a revision lowered production: held; net may fall */
        {130, 10, P | N, 130, 10},
        {0, 5, N, 130, 5}, /* production absent now: the floor keeps it */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct ha_sums s = {.production_dwh = steps[i].p, .net_dwh = steps[i].n, .has = steps[i].has};
        ha_sums_floor(&s, &fl);
        assert_int_equal(s.production_dwh, steps[i].want_p);
        assert_int_equal(s.net_dwh, steps[i].want_n);
        assert_true(s.has & P);
    }
}

/* ---- site/state -------------------------------------------------------------- */

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_site_state(void **state)
{
    (void)state;
    struct ha_site_state st = {0};
    st.row = (struct interval_row){.interval_end = 1496852400, /* 2017-06-07T16:20:00Z */
                                   .series = "sniff",
                                   .production_wh = 1234.54,
                                   .net_wh = -802,
                                   .consumption_wh = 432.54,
                                   .has = P | N | C,
                                   .flags = IFLAG_INTERPOLATED};
    st.today = (struct ha_sums){.production_dwh = 123456, .net_dwh = -50000, .consumption_dwh = 73456,
                                .import_dwh = 1000, .export_dwh = 51000, .has = P | N | C | I | E};
    st.total = (struct ha_sums){.production_dwh = 99999999, .has = P};
    char *json = ha_site_state_json(&st);
    assert_non_null(json);
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "interval_end")->valuestring, "2017-06-07T16:20:00Z");
    assert_string_equal(cJSON_GetObjectItem(o, "series")->valuestring, "sniff");
    assert_string_equal(cJSON_GetObjectItem(o, "flags")->valuestring, "interpolated");
    assert_near(num(o, "production_wh"), 1234.5, 1e-9);
    assert_near(num(o, "net_wh"), -802.0, 1e-9);
    assert_near(num(o, "consumption_wh"), 432.5, 1e-9);
    assert_near(num(o, "production_today_kWh"), 12.3456, 1e-12);
    assert_near(num(o, "consumption_today_kWh"), 7.3456, 1e-12);
    assert_near(num(o, "import_today_kWh"), 0.1, 1e-12);
    assert_near(num(o, "export_today_kWh"), 5.1, 1e-12);
    assert_near(num(o, "net_today_kWh"), -5.0, 1e-12);
    assert_near(num(o, "production_total_kWh"), 9999.9999, 1e-9);
    /* no data: left out, never 0 */
    assert_null(cJSON_GetObjectItem(o, "consumption_total_kWh"));
    assert_null(cJSON_GetObjectItem(o, "import_total_kWh"));
    assert_null(cJSON_GetObjectItem(o, "import_wh"));
    assert_true(ha_json_has_key(json, "production_total_kWh"));
    assert_false(ha_json_has_key(json, "import_total_kWh"));
    assert_false(ha_json_has_key("[1]", "x"));
    cJSON_Delete(o);
    ha_free(json);
}

/* ---- devices and live ---------------------------------------------------------- */

static struct reading rd(const char *dev, enum device_kind kind, int64_t t, enum quantity q,
                         double v)
{
    struct reading r = {.source = "sniff", .series = "sniff", .kind = kind, .time = t,
                        .clock = CLOCK_RECORD, .msg = kind == DEVICE_INVERTER ? 130 : 140,
                        .q = q, .value = v};
    snprintf(r.device, sizeof r.device, "%s", dev);
    return r;
}

static void test_device_update(void **state)
{
    (void)state;
    struct ha_device d = {0};
    struct reading r = rd("414051708000326", DEVICE_INVERTER, 1000, Q_POWER_W, 96.3);
    assert_true(ha_device_update(&d, &r));
    r = rd("414051708000326", DEVICE_INVERTER, 1000, Q_VOLTAGE_V, 249.03);
    assert_true(ha_device_update(&d, &r));
    r = rd("414051708000326", DEVICE_INVERTER, 700, Q_TEMPERATURE_C, 20); /* older: ignored */
    assert_false(ha_device_update(&d, &r));
    char *json = ha_device_state_json(&d);
    cJSON *o = cJSON_Parse(json);
    assert_string_equal(cJSON_GetObjectItem(o, "serial")->valuestring, "414051708000326");
    assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, "inverter");
    assert_near(num(o, "msg"), 130, 0);
    assert_near(num(o, "power_W"), 96.3, 1e-9);
    assert_near(num(o, "voltage_V"), 249.03, 1e-9);
    assert_null(cJSON_GetObjectItem(o, "temperature_C"));
    cJSON_Delete(o);
    ha_free(json);
    /* a newer record starts afresh */
    r = rd("414051708000326", DEVICE_INVERTER, 1300, Q_FREQUENCY_HZ, 60.01);
    assert_true(ha_device_update(&d, &r));
    assert_int_equal(d.has, 1u << Q_FREQUENCY_HZ);
    r = rd("414051708000326", DEVICE_INVERTER, 1300, Q_POWER_W, NAN);
    assert_false(ha_device_update(&d, &r));
}

struct live_case {
    const char *name;
    struct {
        const char *dev;
        enum device_kind kind;
        int64_t t;
        double w;
        const char *series;
    } in[4];
    size_t n;
    bool want_ok;
    unsigned want_has;
    double want_p, want_n, want_c;
};

static const struct live_case live_cases[] = {
    {"inverters-and-meter",
     {{"A", DEVICE_INVERTER, 1000, 200, "sniff"},
      {"B", DEVICE_INVERTER, 1000, 150, "sniff"},
      {"Mc", DEVICE_NET_METER, 1000, -100, "sniff"}},
     3, true, P | N | C, 350, -100, 250},
    {"stale-inverter-left-out",
     {{"A", DEVICE_INVERTER, 1000 - HA_LIVE_STALE_S - 1, 200, "sniff"},
      {"B", DEVICE_INVERTER, 1000, 150, "sniff"}},
     2, true, P, 150, 0, 0},
    {"production-meter-only-without-inverters",
     {{"Pp", DEVICE_PRODUCTION_METER, 1000, 500, "sniff"}, {"Mc", DEVICE_NET_METER, 1000, 20, "sniff"}},
     2, true, P | N | C, 500, 20, 520},
    {"other-series-ignored",
     {{"A", DEVICE_INVERTER, 1000, 200, "sniff"}, {"w@1", DEVICE_NET_METER, 1000, 50, "poll"}},
     2, true, P, 200, 0, 0},
    {"gross-site: the 'c' meter is the house, net = house - production",
     {{"A", DEVICE_INVERTER, 1000, 300, "sniff"},
      {"Mc", DEVICE_CONSUMPTION_METER, 1000, 500, "sniff"}},
     2, true, P | N | C, 300, 200, 500},
    {"gross-site at night: consumption only",
     {{"Mc", DEVICE_CONSUMPTION_METER, 1000, 400, "sniff"}}, 1, true, C, 0, 0, 400},
    {"nothing", {{0}}, 0, false, 0, 0, 0, 0},
};

static void test_live(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof live_cases / sizeof live_cases[0]; k++) {
        const struct live_case *t = &live_cases[k];
        struct ha_device devs[4];
        memset(devs, 0, sizeof devs);
        for (size_t i = 0; i < t->n; i++) {
            struct reading r = rd(t->in[i].dev, t->in[i].kind, t->in[i].t, Q_POWER_W, t->in[i].w);
            r.series = t->in[i].series;
            assert_true(ha_device_update(&devs[i], &r));
        }
        struct ha_live l;
        print_message("case %s\n", t->name);
        assert_int_equal(ha_live_compute(devs, t->n, "sniff", &l), t->want_ok);
        if (!t->want_ok)
            continue;
        assert_int_equal(l.has, t->want_has);
        assert_near(l.production_W, t->want_p, 1e-9);
        assert_near(l.net_W, t->want_n, 1e-9);
        assert_near(l.consumption_W, t->want_c, 1e-9);
        char *json = ha_live_json(&l);
        assert_non_null(json);
        assert_int_equal(ha_json_has_key(json, "consumption_W"), (t->want_has & C) != 0);
        assert_true(ha_json_has_key(json, "time"));
        ha_free(json);
    }
}

static void test_alerts(void **state)
{
    (void)state;
    struct ha_device devs[2];
    memset(devs, 0, sizeof devs);
    struct reading r = rd("A", DEVICE_INVERTER, 10000, Q_POWER_W, 1);
    ha_device_update(&devs[0], &r);
    r = rd("B", DEVICE_INVERTER, 10000 - HA_SILENT_S - 300, Q_POWER_W, 1);
    ha_device_update(&devs[1], &r);
    struct interval_row row = {.interval_end = 9900, .series = "sniff", .flags = IFLAG_GAP};
    struct ha_alert a[8];
    size_t n = ha_alerts_compute(&row, devs, 2, a, 8);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].id, "gap");
    assert_string_equal(a[1].id, "silent:B");
    char *json = ha_alerts_json(a, n);
    cJSON *arr = cJSON_Parse(json);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    cJSON_Delete(arr);
    ha_free(json);
    row.flags = 0;
    devs[1].time = 10000;
    assert_int_equal(ha_alerts_compute(&row, devs, 2, a, 8), 0);
    json = ha_alerts_json(a, 0);
    assert_string_equal(json, "[]");
    ha_free(json);
}

/* ---- discovery -------------------------------------------------------------------- */

static void test_object_id(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"My House", "my_house"}, {"PVS5M562239c", "pvs5m562239c"}, {"wattnode@1", "wattnode_1"},
        {"a/b+c#d", "a_b_c_d"},   {"ok-name_1", "ok-name_1"},        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        ha_object_id_part(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
    char small[4];
    ha_object_id_part("abcdef", small, sizeof small);
    assert_string_equal(small, "abc");
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void test_discovery_site(void **state)
{
    (void)state;
    struct ha_context ctx = {"pvtap", "homeassistant", "My House", "0.1.0"};
    /* the four the Energy dashboard needs, at least, each total_increasing */
    static const char *const required[] = {"production_total_kWh", "consumption_total_kWh",
                                           "import_total_kWh", "export_total_kWh"};
    for (size_t r = 0; r < 4; r++) {
        bool found = false;
        for (size_t i = 0; i < ha_n_site_state_sensors; i++)
            if (strcmp(ha_site_state_sensors[i].key, required[r]) == 0) {
                found = true;
                assert_string_equal(ha_site_state_sensors[i].state_class, "total_increasing");
            }
        assert_true(found);
    }
    bool has_total = false;
    for (size_t i = 0; i < ha_n_site_state_sensors; i++) {
        const struct ha_sensor *s = &ha_site_state_sensors[i];
        char topic[256];
        char *payload = NULL;
        assert_int_equal(ha_discovery(&ctx, s, NULL, "pvtap/site/state", topic, sizeof topic, &payload), 0);
        char want_topic[256];
        snprintf(want_topic, sizeof want_topic, "homeassistant/sensor/pvtap_my_house_%s/config", s->key);
        for (char *c = want_topic; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        assert_string_equal(topic, want_topic);
        cJSON *o = cJSON_Parse(payload);
        assert_non_null(o);
        assert_string_equal(str(o, "device_class"), "energy");
        assert_string_equal(str(o, "unit_of_measurement"), "kWh");
        const char *sc = str(o, "state_class");
        assert_true(strcmp(sc, "total_increasing") == 0 || strcmp(sc, "total") == 0);
        has_total |= strcmp(sc, "total") == 0;
        char tmpl[96];
        snprintf(tmpl, sizeof tmpl, "{{ value_json.%s }}", s->key);
        assert_string_equal(str(o, "value_template"), tmpl);
        assert_string_equal(str(o, "state_topic"), "pvtap/site/state");
        assert_string_equal(str(o, "availability_topic"), "pvtap/status");
        assert_non_null(strstr(str(o, "unique_id"), "pvtap_my_house_"));
        const cJSON *dev = cJSON_GetObjectItem(o, "device");
        assert_true(cJSON_IsObject(dev));
        const cJSON *ids = cJSON_GetObjectItem(dev, "identifiers");
        assert_true(cJSON_IsArray(ids));
        assert_string_equal(cJSON_GetArrayItem(ids, 0)->valuestring, "pvtap_my_house");
        assert_string_equal(str(dev, "sw_version"), "0.1.0");
        cJSON_Delete(o);
        ha_free(payload);
    }
    assert_true(has_total); /* net: may fall */
}

static void test_discovery_device(void **state)
{
    (void)state;
    struct ha_context ctx = {"pvtap", "ha", "roof", "0.1.0"};
    struct ha_device d = {0};
    struct reading r = rd("PVS5M562239c", DEVICE_NET_METER, 1000, Q_POWER_W, -5);
    ha_device_update(&d, &r);
    static const struct {
        enum quantity q;
        const char *dc, *unit, *sc;
    } cases[] = {
        {Q_ENERGY_LIFETIME_KWH, "energy", "kWh", "total_increasing"},
        {Q_ENERGY_NET_LIFETIME_KWH, "energy", "kWh", "total"},
        {Q_POWER_W, "power", "W", "measurement"},
        {Q_VOLTAGE_V, "voltage", "V", "measurement"},
        {Q_FREQUENCY_HZ, "frequency", "Hz", "measurement"},
        {Q_TEMPERATURE_C, "temperature", "\u00b0C", "measurement"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ha_sensor *s = ha_quantity_sensor(cases[i].q);
        assert_non_null(s);
        assert_string_equal(s->key, quantity_name(cases[i].q)); /* the state JSON's key */
        char topic[256];
        char *payload;
        assert_int_equal(ha_discovery(&ctx, s, &d, "pvtap/device/PVS5M562239c/state", topic,
                                      sizeof topic, &payload), 0);
        cJSON *o = cJSON_Parse(payload);
        assert_string_equal(str(o, "device_class"), cases[i].dc);
        assert_string_equal(str(o, "unit_of_measurement"), cases[i].unit);
        assert_string_equal(str(o, "state_class"), cases[i].sc);
        const cJSON *dev = cJSON_GetObjectItem(o, "device");
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(dev, "identifiers"), 0)->valuestring,
                            "pvtap_roof_pvs5m562239c");
        assert_string_equal(str(dev, "via_device"), "pvtap_roof");
        assert_non_null(strstr(topic, "ha/sensor/pvtap_roof_pvs5m562239c_"));
        cJSON_Delete(o);
        ha_free(payload);
    }
    assert_null(ha_quantity_sensor((enum quantity)0));
    assert_null(ha_quantity_sensor(Q_COUNT_));
    /* a topic that cannot fit is refused, not cut */
    char tiny[16];
    char *payload;
    assert_int_equal(ha_discovery(&ctx, ha_quantity_sensor(Q_POWER_W), &d, "t", tiny, sizeof tiny,
                                  &payload),
                     PVTAP_ELIMIT);
}

static void test_interval_json(void **state)
{
    (void)state;
    struct interval_row row = {.interval_end = 1496852400, .series = "poll", .import_wh = 3.25,
                               .export_wh = 0, .has = I | E, .flags = IFLAG_GAP | IFLAG_COUNTER_RESET};
    char *json = ha_interval_json(&row, 3);
    cJSON *o = cJSON_Parse(json);
    assert_near(num(o, "import_wh"), 3.3, 1e-9);
    assert_near(num(o, "export_wh"), 0, 0);
    assert_near(num(o, "revision"), 3, 0);
    assert_string_equal(str(o, "flags"), "gap;counter_reset");
    assert_null(cJSON_GetObjectItem(o, "production_wh"));
    cJSON_Delete(o);
    ha_free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums),          cmocka_unit_test(test_floor),
        cmocka_unit_test(test_site_state),    cmocka_unit_test(test_device_update),
        cmocka_unit_test(test_live),          cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_object_id),     cmocka_unit_test(test_discovery_site),
        cmocka_unit_test(test_discovery_device), cmocka_unit_test(test_interval_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
