/* Unit tests: pvs-api answers (both API generations) -> devices -> readings; URL and pin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pvs_json.h"
#include "proto/pvs_pin.h"
#include "util/err.h"
#include "util/timeutil.h"

/* ---- helpers ---------------------------------------------------------------- */

static char *read_data(const char *name, size_t *len)
{
    const char *dir = getenv("PVTAP_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/pvs/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static const struct pvs_device *find(const struct pvs_answer *a, const char *serial)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->dev[i].serial, serial) == 0)
            return &a->dev[i];
    return NULL;
}

enum { MAX_COLLECT = 256 };
struct collected {
    struct reading r[MAX_COLLECT];
    char device[MAX_COLLECT][32];
    size_t n;
};

static void collect(void *ctx, const struct reading *r)
{
    struct collected *c = ctx;
    assert_true(c->n < MAX_COLLECT);
    c->r[c->n] = *r;
    snprintf(c->device[c->n], sizeof c->device[0], "%s", r->device);
    c->n++;
}

static const struct reading *reading_of(const struct collected *c, const char *device,
                                        enum quantity q)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->r[i].q == q && strcmp(c->device[i], device) == 0)
            return &c->r[i];
    return NULL;
}

/* ---- the field mapping, table-driven ------------------------------------------ */

/* One expected value of one device of a sample file. present = false: the
 * field must be absent (an empty string, a key the device does not have). */
struct field_case {
    const char *file;
    enum pvs_api api;
    const char *serial;
    enum pvs_dev_kind kind;
    enum pvs_field f;
    bool present;
    double value;
};

static const struct field_case field_cases[] = {
    /* DeviceList: strings -> numbers, kW -> W */
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER,
     PF_ENERGY_LIFETIME_KWH, true, 2604.2078},
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_POWER_W, true,
     296.3},
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_VOLTAGE_V, true,
     245.03},
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_CURRENT_A, true,
     1.21},
    /* older firmware: p_mpptsum_kw stands in for p_mppt1_kw */
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_DC_POWER_W,
     true, 305.1},
    {"devicelist.json", PVS_API_DEVICELIST, "E00122307107854", PVS_DEV_INVERTER, PF_DC_POWER_W,
     true, 321.2},
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_DC_VOLTAGE_V,
     true, 56.0065},
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_DC_CURRENT_A,
     true, 5.4478},
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_TEMPERATURE_C,
     true, 38},
    {"devicelist.json", PVS_API_DEVICELIST, "E00121936040123", PVS_DEV_INVERTER, PF_FREQUENCY_HZ,
     true, 60.0096},
    {"devicelist.json", PVS_API_DEVICELIST, "E00122308008125", PVS_DEV_INVERTER, PF_STATUS, true,
     4},
    /* an empty string is no value, never 0 */
    {"devicelist.json", PVS_API_DEVICELIST, "E00122308008125", PVS_DEV_INVERTER, PF_POWER_W, false,
     0},
    {"devicelist.json", PVS_API_DEVICELIST, "E00122308008125", PVS_DEV_INVERTER, PF_DC_POWER_W,
     false, 0},
    /* meters: c is the net meter, p the production meter */
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 3210.88},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_IMPORT_LIFETIME_KWH, true, 13087.42},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_EXPORT_LIFETIME_KWH, true, 9876.54},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_POWER_W, true,
     -2451.7},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_REACTIVE_VAR,
     true, 1142.8},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_APPARENT_VA,
     true, 2705.1},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_POWER_FACTOR,
     true, -0.9063},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_POWER_L1_W,
     true, -1302.1},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_POWER_L2_W,
     true, -1149.6},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_VOLTAGE_L1_V,
     true, 122.3961},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_VOLTAGE_L1L2_V,
     true, 244.8165},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_CURRENT_L2_A,
     true, 9.4127},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_CT_SCALE, true,
     100},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736p", PVS_DEV_PRODUCTION_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 21544.31},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736p", PVS_DEV_PRODUCTION_METER, PF_POWER_W,
     true, 3821.1},
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736p", PVS_DEV_PRODUCTION_METER,
     PF_ENERGY_IMPORT_LIFETIME_KWH, false, 0},
    /* a meter key on an inverter is not read, nor an inverter key on a meter */
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER, PF_VOLTAGE_V,
     false, 0},
    {"devicelist.json", PVS_API_DEVICELIST, "ZT163485000441C1876", PVS_DEV_SUPERVISOR,
     PF_DL_COMM_ERR, true, 335},
    {"devicelist.json", PVS_API_DEVICELIST, "ZT163485000441C1876", PVS_DEV_SUPERVISOR,
     PF_DL_CPU_LOAD, true, 0.27},
    /* varserver: numbers, or numeric strings on some firmware */
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 3210.88},
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_IMPORT_LIFETIME_KWH, true, 13087.42},
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_EXPORT_LIFETIME_KWH, true, 9876.54},
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER, PF_POWER_W, true,
     -2451.7},
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER, PF_VOLTAGE_L2_V, true,
     122.4204},
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736p", PVS_DEV_PRODUCTION_METER, PF_POWER_W, true,
     3821.10643},
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736p", PVS_DEV_PRODUCTION_METER, PF_CT_SCALE, true,
     50},
    {"vars_inverter.json", PVS_API_VARS, "E00121936040123", PVS_DEV_INVERTER,
     PF_ENERGY_LIFETIME_KWH, true, 2604.2078},
    {"vars_inverter.json", PVS_API_VARS, "E00121936040123", PVS_DEV_INVERTER, PF_DC_POWER_W, true,
     305.1},
    {"vars_inverter.json", PVS_API_VARS, "E00121936040123", PVS_DEV_INVERTER, PF_TEMPERATURE_C,
     true, 38},
    {"vars_inverter.json", PVS_API_VARS, "E00122307107854", PVS_DEV_INVERTER,
     PF_ENERGY_LIFETIME_KWH, true, 686.5164},
    {"vars_inverter.json", PVS_API_VARS, "E00122307107854", PVS_DEV_INVERTER, PF_POWER_W, true,
     312.7},
    {"vars_inverter.json", PVS_API_VARS, "E00122308008125", PVS_DEV_INVERTER, PF_DC_POWER_W, true,
     0.68},
    {"vars_inverter.json", PVS_API_VARS, "E00122308008125", PVS_DEV_INVERTER, PF_POWER_W, false, 0},
    {"vars_inverter.json", PVS_API_VARS, "E00122308008125", PVS_DEV_INVERTER, PF_STATUS, false, 0},
    /* the flat form */
    {"vars_meter_flat.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 3210.88},
    {"vars_meter_flat.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER,
     PF_ENERGY_EXPORT_LIFETIME_KWH, true, 9876.54},
    {"vars_meter_flat.json", PVS_API_VARS, "PVS6M20281736p", PVS_DEV_PRODUCTION_METER, PF_POWER_W,
     true, 3821.1},
    /* 2023 DeviceList, TAB after each colon: the 'c' meter measures the whole
     * house (GROSS_CONSUMPTION_LINESIDE), the 'p' meter is live */
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231c", PVS_DEV_CONSUMPTION_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 18402.37},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231c", PVS_DEV_CONSUMPTION_METER,
     PF_ENERGY_IMPORT_LIFETIME_KWH, true, 18402.2299},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231c", PVS_DEV_CONSUMPTION_METER,
     PF_ENERGY_EXPORT_LIFETIME_KWH, true, 0},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231c", PVS_DEV_CONSUMPTION_METER,
     PF_POWER_W, true, 1382.1},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231c", PVS_DEV_CONSUMPTION_METER,
     PF_POWER_L2_W, true, 640.9},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231p", PVS_DEV_PRODUCTION_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 11873.52},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231p", PVS_DEV_PRODUCTION_METER,
     PF_POWER_W, true, 2431.2},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231p", PVS_DEV_PRODUCTION_METER,
     PF_CURRENT_A, true, 10.0871},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "E00122139001102", PVS_DEV_INVERTER,
     PF_ENERGY_LIFETIME_KWH, true, 398.0712},
    /* 2025 DeviceList: a net site exporting */
    {"devicelist_net_2025.json", PVS_API_DEVICELIST, "PVS6M22134410c", PVS_DEV_NET_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, -842.31},
    {"devicelist_net_2025.json", PVS_API_DEVICELIST, "PVS6M22134410c", PVS_DEV_NET_METER,
     PF_ENERGY_EXPORT_LIFETIME_KWH, true, 21919.8599},
    {"devicelist_net_2025.json", PVS_API_DEVICELIST, "PVS6M22134410c", PVS_DEV_NET_METER,
     PF_POWER_W, true, -2910.5},
    {"devicelist_net_2025.json", PVS_API_DEVICELIST, "PVS6M22134410p", PVS_DEV_PRODUCTION_METER,
     PF_POWER_W, true, 6202.1},
    {"devicelist_net_2025.json", PVS_API_DEVICELIST, "E00122218004412", PVS_DEV_INVERTER,
     PF_DC_POWER_W, true, 297.7},
    /* a 'c' meter commissioned NOT_USED that still reads net values */
    {"devicelist_notused.json", PVS_API_DEVICELIST, "PVS6M20510087c", PVS_DEV_NET_METER, PF_POWER_W,
     true, -1204.4},
    {"devicelist_notused.json", PVS_API_DEVICELIST, "PVS6M20510087c", PVS_DEV_NET_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 4410.12},
    /* CTs never fitted: the 'c' meter reads 0 (present, not absent) */
    {"devicelist_zero_c.json", PVS_API_DEVICELIST, "PVS5M508095c", PVS_DEV_NET_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 0},
    {"devicelist_zero_c.json", PVS_API_DEVICELIST, "PVS5M508095c", PVS_DEV_NET_METER, PF_POWER_W,
     true, 0},
    {"devicelist_zero_c.json", PVS_API_DEVICELIST, "PVS5M508095p", PVS_DEV_PRODUCTION_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 20544.81},
    /* flat varserver variables (2025 builds): strings; the 'c' meter at
     * index 0 and no subtype: net */
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512c", PVS_DEV_NET_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 5290.14},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512c", PVS_DEV_NET_METER,
     PF_ENERGY_IMPORT_LIFETIME_KWH, true, 14302.88},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512c", PVS_DEV_NET_METER,
     PF_ENERGY_EXPORT_LIFETIME_KWH, true, 9012.74},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512c", PVS_DEV_NET_METER, PF_POWER_W, true,
     -1827.331},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512c", PVS_DEV_NET_METER, PF_CURRENT_L2_A,
     true, 8.90114},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512p", PVS_DEV_PRODUCTION_METER,
     PF_ENERGY_NET_LIFETIME_KWH, true, 17120.6},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512p", PVS_DEV_PRODUCTION_METER,
     PF_POWER_FACTOR, true, 0.996081},
    {"vars_flat_inverter.json", PVS_API_VARS, "E00122301045201", PVS_DEV_INVERTER,
     PF_ENERGY_LIFETIME_KWH, true, 981.2204},
    {"vars_flat_inverter.json", PVS_API_VARS, "E00122301045201", PVS_DEV_INVERTER, PF_POWER_W, true,
     301.1},
    {"vars_flat_inverter.json", PVS_API_VARS, "E00122301045201", PVS_DEV_INVERTER, PF_TEMPERATURE_C,
     true, 49},
    {"vars_flat_inverter.json", PVS_API_VARS, "E00122301045203", PVS_DEV_INVERTER, PF_POWER_W,
     false, 0},
    {"vars_flat_inverter.json", PVS_API_VARS, "E00122301045203", PVS_DEV_INVERTER, PF_DC_VOLTAGE_V,
     true, 12.9},
    /* the same without fmt=obj: the values list */
    {"vars_flat_list.json", PVS_API_VARS, "PVS6M23104512c", PVS_DEV_NET_METER,
     PF_ENERGY_EXPORT_LIFETIME_KWH, true, 9012.74},
    {"vars_flat_list.json", PVS_API_VARS, "E00122301045201", PVS_DEV_INVERTER,
     PF_ENERGY_LIFETIME_KWH, true, 981.2204},
};

static int parse_file(const char *file, enum pvs_api api, struct pvs_answer *a)
{
    size_t len;
    char *body = read_data(file, &len);
    int rc = api == PVS_API_DEVICELIST ? pvs_parse_devicelist(body, len, a)
                                       : pvs_parse_vars(body, len, a);
    free(body);
    return rc;
}

static void field_mapping(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof field_cases / sizeof field_cases[0]; i++) {
        const struct field_case *c = &field_cases[i];
        struct pvs_answer a = {0};
        assert_int_equal(parse_file(c->file, c->api, &a), 0);
        const struct pvs_device *d = find(&a, c->serial);
        if (!d)
            fail_msg("case %zu: %s not in %s", i, c->serial, c->file);
        if (d->kind != c->kind)
            fail_msg("case %zu: %s is %s, wanted %s", i, c->serial, pvs_dev_kind_name(d->kind),
                     pvs_dev_kind_name(c->kind));
        if (d->present[c->f] != c->present)
            fail_msg("case %zu: %s %s present %d, wanted %d", i, c->serial, pvs_field_name(c->f),
                     d->present[c->f], c->present);
        /* exact: the kW -> W snap leaves the nearest double of the decimal */
        if (c->present && d->value[c->f] != c->value)
            fail_msg("case %zu: %s %s = %.17g, wanted %.17g", i, c->serial, pvs_field_name(c->f),
                     d->value[c->f], c->value);
        pvs_answer_free(&a);
    }
}

static void whole_answers(void **state)
{
    (void)state;
    struct pvs_answer a = {0};
    assert_int_equal(parse_file("devicelist.json", PVS_API_DEVICELIST, &a), 0);
    assert_int_equal(a.n, 6);
    assert_int_equal(a.bad_values, 0);
    assert_int_equal(a.dev[0].kind, PVS_DEV_SUPERVISOR);
    assert_string_equal(a.dev[0].firmware, "2021.9, Build 41001");
    const struct pvs_device *c = find(&a, "PVS6M20281736c");
    assert_string_equal(c->subtype, "NET_CONSUMPTION_LOADSIDE");
    assert_string_equal(c->model, "PVS6M0400c");
    assert_false(c->has_time); /* DeviceList: poll clock */
    const struct pvs_device *asleep = find(&a, "E00122308008125");
    assert_string_equal(asleep->state, "error");
    pvs_answer_free(&a);

    /* The two varserver queries append to one answer. */
    assert_int_equal(parse_file("vars_meter.json", PVS_API_VARS, &a), 0);
    assert_int_equal(parse_file("vars_inverter.json", PVS_API_VARS, &a), 0);
    assert_int_equal(a.n, 5);
    const struct pvs_device *inv = find(&a, "E00122308008125");
    int64_t t;
    assert_int_equal(time_parse_iso_utc("2024-04-16T23:40:00Z", &t), 0);
    assert_true(inv->has_time);
    assert_int_equal(inv->time_s, t);
    pvs_answer_free(&a);

    /* livedata in the flat form is not a device */
    assert_int_equal(parse_file("vars_meter_flat.json", PVS_API_VARS, &a), 0);
    assert_int_equal(a.n, 2);
    pvs_answer_free(&a);
}

/* The kind and subtype of each meter of each sample site: the role letter
 * and, for 'c', the subtype. */
static const struct meter_case {
    const char *file;
    enum pvs_api api;
    const char *serial;
    enum pvs_dev_kind kind;
    const char *subtype;
} meter_cases[] = {
    {"devicelist.json", PVS_API_DEVICELIST, "PVS6M20281736c", PVS_DEV_NET_METER,
     "NET_CONSUMPTION_LOADSIDE"},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231c", PVS_DEV_CONSUMPTION_METER,
     "GROSS_CONSUMPTION_LINESIDE"},
    {"devicelist_gross.json", PVS_API_DEVICELIST, "PVS6M19420231p", PVS_DEV_PRODUCTION_METER,
     "GROSS_PRODUCTION_SITE"},
    {"devicelist_net_2025.json", PVS_API_DEVICELIST, "PVS6M22134410c", PVS_DEV_NET_METER,
     "NET_CONSUMPTION_LOADSIDE"},
    {"devicelist_notused.json", PVS_API_DEVICELIST, "PVS6M20510087c", PVS_DEV_NET_METER,
     "NOT_USED"},
    {"devicelist_zero_c.json", PVS_API_DEVICELIST, "PVS5M508095c", PVS_DEV_NET_METER, ""},
    {"devicelist_zero_c.json", PVS_API_DEVICELIST, "PVS5M508095p", PVS_DEV_PRODUCTION_METER, ""},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512c", PVS_DEV_NET_METER, ""},
    {"vars_flat_meter.json", PVS_API_VARS, "PVS6M23104512p", PVS_DEV_PRODUCTION_METER, ""},
    {"vars_meter.json", PVS_API_VARS, "PVS6M20281736c", PVS_DEV_NET_METER, ""},
};

static void meter_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof meter_cases / sizeof meter_cases[0]; i++) {
        const struct meter_case *c = &meter_cases[i];
        struct pvs_answer a = {0};
        assert_int_equal(parse_file(c->file, c->api, &a), 0);
        const struct pvs_device *d = find(&a, c->serial);
        if (!d)
            fail_msg("%s not in %s", c->serial, c->file);
        if (d->kind != c->kind || strcmp(d->subtype, c->subtype) != 0)
            fail_msg("%s of %s: %s \"%s\", wanted %s \"%s\"", c->serial, c->file,
                     pvs_dev_kind_name(d->kind), d->subtype, pvs_dev_kind_name(c->kind),
                     c->subtype);
        pvs_answer_free(&a);
    }
    /* every sample site: its inverters and meters all read */
    static const struct {
        const char *file;
        enum pvs_api api;
        size_t devices;
    } sites[] = {
        {"devicelist_gross.json", PVS_API_DEVICELIST, 6},
        {"devicelist_net_2025.json", PVS_API_DEVICELIST, 5},
        {"devicelist_notused.json", PVS_API_DEVICELIST, 5},
        {"devicelist_zero_c.json", PVS_API_DEVICELIST, 5},
        {"vars_flat_meter.json", PVS_API_VARS, 2},
        {"vars_flat_inverter.json", PVS_API_VARS, 3},
        {"vars_flat_list.json", PVS_API_VARS, 2},
    };
    for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
        struct pvs_answer a = {0};
        assert_int_equal(parse_file(sites[i].file, sites[i].api, &a), 0);
        if (a.n != sites[i].devices || a.bad_values || a.unknown_devices)
            fail_msg("%s: %zu devices (wanted %zu), %u bad values, %u unknown", sites[i].file, a.n,
                     sites[i].devices, a.bad_values, a.unknown_devices);
        pvs_answer_free(&a);
    }
}

/* The subtype decides the 'c' meter's kind; a letterless meter's role
 * comes from its subtype's word; case and spaces do not matter. */
static void subtypes(void **state)
{
    (void)state;
    static const struct {
        const char *serial, *type, *subtype_key, *subtype;
        enum pvs_dev_kind kind;
    } cases[] = {
        {"PVS6M1c", "PVS5-METER-C", "subtype", "GROSS_CONSUMPTION_LINESIDE",
         PVS_DEV_CONSUMPTION_METER},
        {"PVS6M1c", "PVS5-METER-C", "subtype", " gross_consumption_lineside ",
         PVS_DEV_CONSUMPTION_METER},
        {"PVS6M1c", "PVS5-METER-C", "consumption_subtype_enum", "GROSS_CONSUMPTION_LINESIDE",
         PVS_DEV_CONSUMPTION_METER},
        {"PVS6M1c", "PVS5-METER-C", "subtype", "NET_CONSUMPTION_LOADSIDE", PVS_DEV_NET_METER},
        {"PVS6M1c", "PVS5-METER-C", "subtype", "NOT_USED", PVS_DEV_NET_METER},
        {"PVS6M1c", "PVS5-METER-C", "subtype", "", PVS_DEV_NET_METER},
        {"PVS6M1p", "PVS5-METER-P", "subtype", "GROSS_PRODUCTION_SITE", PVS_DEV_PRODUCTION_METER},
        /* the serial's letter wins over a subtype naming the other role */
        {"PVS6M1p", "", "subtype", "GROSS_CONSUMPTION_LINESIDE", PVS_DEV_PRODUCTION_METER},
        /* no letter anywhere: the subtype's word */
        {"M9", "Power Meter", "subtype", "GROSS_CONSUMPTION_LINESIDE", PVS_DEV_CONSUMPTION_METER},
        {"M9", "Power Meter", "subtype", "GROSS_PRODUCTION_SITE", PVS_DEV_PRODUCTION_METER},
        {"M9", "Power Meter", "subtype", "STORAGE_METER", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        int n = snprintf(body, sizeof body,
                         "{\"devices\":[{\"DEVICE_TYPE\":\"Power Meter\",\"SERIAL\":\"%s\","
                         "\"TYPE\":\"%s\",\"%s\":\"%s\",\"net_ltea_3phsum_kwh\":\"12.5\"}],"
                         "\"result\":\"succeed\"}",
                         cases[i].serial, cases[i].type, cases[i].subtype_key, cases[i].subtype);
        struct pvs_answer a = {0};
        assert_int_equal(pvs_parse_devicelist(body, (size_t)n, &a), 0);
        enum pvs_dev_kind got = a.n ? a.dev[0].kind : 0;
        if (got != cases[i].kind)
            fail_msg("case %zu (%s, %s = \"%s\"): %s, wanted %s", i, cases[i].serial,
                     cases[i].subtype_key, cases[i].subtype, pvs_dev_kind_name(got),
                     pvs_dev_kind_name(cases[i].kind));
        pvs_answer_free(&a);
    }
}

/* The shapes a /vars answer takes beyond the sample files. */
static void vars_shapes(void **state)
{
    (void)state;
    struct pvs_answer a = {0};
    /* a flat subtype variable makes the 'c' meter a consumption meter */
    static const char flat_sub[] =
        "{\"/sys/devices/meter/1/sn\":\"PVS6M7c\","
        "\"/sys/devices/meter/1/subtype\":\"GROSS_CONSUMPTION_LINESIDE\","
        "\"/sys/devices/meter/1/netLtea3phsumKwh\":\"33.5\"}";
    assert_int_equal(pvs_parse_vars(flat_sub, sizeof flat_sub - 1, &a), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.dev[0].kind, PVS_DEV_CONSUMPTION_METER);
    assert_string_equal(a.dev[0].subtype, "GROSS_CONSUMPTION_LINESIDE");
    assert_true(a.dev[0].value[PF_ENERGY_NET_LIFETIME_KWH] == 33.5);
    pvs_answer_free(&a);

    /* match=meter brings both shapes of one meter, other devices' and
     * system variables: one meter, the rest not ours (and not counted) */
    static const char wide[] =
        "{\"/sys/devices/meter/0/sn\":\"PVS6M7p\",\"/sys/devices/meter/0/p3phsumKw\":\"1.5\","
        "\"/sys/devices/11/meter/data\":{\"sn\":\"PVS6M7p\",\"p3phsumKw\":9.9},"
        "\"/sys/devices/ess/0/sn\":\"BAT1\",\"/sys/devices/transfer_switch/0/sn\":\"TS1\","
        "\"/sys/livedata/net_p\":\"0.6\",\"/sys/info/sw_rev\":\"2025.09.61845\","
        "\"/sys/telemetry/meter_cfg/x\":\"1\"}";
    assert_int_equal(pvs_parse_vars(wide, sizeof wide - 1, &a), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.unknown_devices, 0);
    assert_int_equal(a.dev[0].kind, PVS_DEV_PRODUCTION_METER);
    assert_true(a.dev[0].value[PF_POWER_W] == 9900); /* the nested object comes first */
    pvs_answer_free(&a);

    /* the values list holding nested objects, as objects or serialised */
    static const char list[] =
        "{\"values\":[{\"name\":\"/sys/devices/12/meter/data\",\"value\":"
        "{\"sn\":\"PVS6M8c\",\"prodMdlNm\":\"PVS6M0400c\",\"netLtea3phsumKwh\":4.25}},"
        "{\"name\":\"/sys/devices/21/inverter/data\",\"value\":"
        "\"{\\\"sn\\\":\\\"E7\\\",\\\"ltea3phsumKwh\\\":\\\"8.5\\\"}\"}],\"count\":2}";
    assert_int_equal(pvs_parse_vars(list, sizeof list - 1, &a), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(find(&a, "PVS6M8c")->kind, PVS_DEV_NET_METER);
    assert_true(find(&a, "PVS6M8c")->value[PF_ENERGY_NET_LIFETIME_KWH] == 4.25);
    assert_true(find(&a, "E7")->value[PF_ENERGY_LIFETIME_KWH] == 8.5);
    pvs_answer_free(&a);

    /* the same flat meter asked twice (a fallback) stays one device */
    assert_int_equal(parse_file("vars_flat_meter.json", PVS_API_VARS, &a), 0);
    assert_int_equal(parse_file("vars_flat_list.json", PVS_API_VARS, &a), 0);
    assert_int_equal(a.n, 3); /* 2 meters + the list's inverter */
    pvs_answer_free(&a);
}

static void sw_rev(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int rc;
        const char *want;
    } cases[] = {
        {"{\"values\":[{\"name\":\"/sys/info/sw_rev\",\"value\":\"2025.09.61845\"}],"
         "\"count\":1}",
         0, "2025.09.61845"},
        {"{\"/sys/info/sw_rev\":\" 2025.06.24.61840 \"}", 0, "2025.06.24.61840"},
        {"{\"values\":[],\"count\":0}", PVTAP_ENOTFOUND, ""},
        {"{\"/sys/info/sw_rev\":61845}", PVTAP_ENOTFOUND, ""},
        {"{\"/sys/info/sw_rev\":\"bad\\u0007\"}", PVTAP_ENOTFOUND, ""},
        {"<html></html>", PVTAP_ENOTMINE, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char fw[64] = "";
        int rc = pvs_parse_sw_rev(cases[i].body, strlen(cases[i].body), fw, sizeof fw);
        if (rc != cases[i].rc || (rc == 0 && strcmp(fw, cases[i].want) != 0))
            fail_msg("case %zu: rc %d \"%s\", wanted %d \"%s\"", i, rc, fw, cases[i].rc,
                     cases[i].want);
    }
}

/* ---- bodies that are not what we want ------------------------------------------ */

static const struct bad_case {
    const char *name;
    enum pvs_api api;
    const char *body;
    int rc;
} bad_cases[] = {
    {"PVS2 HTML", PVS_API_DEVICELIST, "\r\n<!DOCTYPE html><html><body>PVS2</body></html>",
     PVTAP_ENOTMINE},
    {"HTML to vars", PVS_API_VARS, "<html><body>login</body></html>", PVTAP_ENOTMINE},
    {"plain text", PVS_API_DEVICELIST, "Internal error", PVTAP_ENOTMINE},
    {"empty", PVS_API_DEVICELIST, "", PVTAP_ENOTMINE},
    {"truncated JSON", PVS_API_DEVICELIST, "{\"devices\":[{\"SERIAL\":\"E1\"", PVTAP_ECORRUPT},
    {"no devices", PVS_API_DEVICELIST, "{\"result\":\"succeed\"}", PVTAP_ECORRUPT},
    {"failed result", PVS_API_DEVICELIST, "{\"devices\":[],\"result\":\"failed\"}", PVTAP_ECORRUPT},
    {"array at the top", PVS_API_VARS, "[1,2]", PVTAP_ECORRUPT},
    {"empty list is fine", PVS_API_DEVICELIST, "{\"devices\":[],\"result\":\"succeed\"}", 0},
    {"empty vars is fine", PVS_API_VARS, "{}", 0},
};

static void bad_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct pvs_answer a = {0};
        size_t len = strlen(c->body);
        int rc = c->api == PVS_API_DEVICELIST ? pvs_parse_devicelist(c->body, len, &a)
                                              : pvs_parse_vars(c->body, len, &a);
        if (rc != c->rc)
            fail_msg("%s: rc %d, wanted %d", c->name, rc, c->rc);
        assert_int_equal(a.n, 0);
        pvs_answer_free(&a);
    }
    size_t len;
    char *html = read_data("pvs2.html", &len);
    assert_true(pvs_body_is_html(html, len));
    free(html);
}

static void odd_entries(void **state)
{
    (void)state;
    /* a battery, a meter with no role letter, a non-number, an entry with
     * no serial: skipped or left out and counted, the rest kept */
    static const char body[] =
        "{\"devices\":["
        "{\"DEVICE_TYPE\":\"ESS\",\"SERIAL\":\"BAT1\",\"soc_val\":\"0.8\"},"
        "{\"DEVICE_TYPE\":\"Power Meter\",\"SERIAL\":\"PVS6M1x\",\"net_ltea_3phsum_kwh\":\"1\"},"
        "{\"DEVICE_TYPE\":\"Inverter\",\"ltea_3phsum_kwh\":\"5\"},"
        "{\"DEVICE_TYPE\":\"Inverter\",\"SERIAL\":\"E1\",\"ltea_3phsum_kwh\":\"12.5\","
        "\"p_3phsum_kw\":\"n/a\",\"freq_hz\":\" 60.0 \"},"
        "{\"SERIAL\":\"E2\",\"ltea_3phsum_kwh\":\"7\"},"
        "{\"DEVICE_TYPE\":\"Power Meter\",\"TYPE\":\"PVS5-METER-C\",\"SERIAL\":\"M9\","
        "\"net_ltea_3phsum_kwh\":\"-3.5\"}"
        "],\"result\":\"succeed\"}";
    struct pvs_answer a = {0};
    assert_int_equal(pvs_parse_devicelist(body, sizeof body - 1, &a), 0);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.unknown_devices, 3);
    assert_int_equal(a.bad_values, 1);
    const struct pvs_device *e1 = find(&a, "E1");
    assert_false(e1->present[PF_POWER_W]);
    assert_true(e1->value[PF_FREQUENCY_HZ] == 60.0);
    assert_int_equal(find(&a, "E2")->kind, PVS_DEV_INVERTER);
    const struct pvs_device *m9 = find(&a, "M9");
    assert_int_equal(m9->kind, PVS_DEV_NET_METER); /* role from TYPE ...-C */
    assert_true(m9->value[PF_ENERGY_NET_LIFETIME_KWH] == -3.5);
    pvs_answer_free(&a);
}

/* ---- readings and their clocks ---------------------------------------------------- */

static void readings_devicelist(void **state)
{
    (void)state;
    struct pvs_answer a = {0};
    assert_int_equal(parse_file("devicelist.json", PVS_API_DEVICELIST, &a), 0);
    struct collected c = {0};
    struct reading_sink sink = {collect, &c};
    const int64_t poll_s = 1713311117; /* not on the grid: a poll's own time */
    unsigned dropped = 0;
    size_t total = 0;
    for (size_t i = 0; i < a.n; i++)
        total += pvs_device_emit(&a.dev[i], PVS_API_DEVICELIST, "pvs-api", poll_s, &sink, &dropped);
    assert_int_equal(total, c.n);
    assert_int_equal(dropped, 0);
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(c.r[i].clock, CLOCK_POLL);
        assert_int_equal(c.r[i].time, poll_s);
        assert_string_equal(c.r[i].series, "pvs-api");
        assert_string_equal(c.r[i].source, "pvs-api");
        assert_true(strcmp(c.device[i], "ZT163485000441C1876") != 0); /* supervisor: none */
    }
    const struct reading *r = reading_of(&c, "E00121936040123", Q_ENERGY_LIFETIME_KWH);
    assert_non_null(r);
    assert_int_equal(r->kind, DEVICE_INVERTER);
    assert_true(r->value == 2604.2078);
    r = reading_of(&c, "PVS6M20281736c", Q_ENERGY_NET_LIFETIME_KWH);
    assert_non_null(r);
    assert_int_equal(r->kind, DEVICE_NET_METER);
    r = reading_of(&c, "PVS6M20281736c", Q_ENERGY_EXPORT_LIFETIME_KWH);
    assert_non_null(r);
    assert_true(r->value == 9876.54);
    r = reading_of(&c, "PVS6M20281736p", Q_ENERGY_NET_LIFETIME_KWH);
    assert_non_null(r);
    assert_int_equal(r->kind, DEVICE_PRODUCTION_METER);
    assert_null(reading_of(&c, "E00122308008125", Q_POWER_W)); /* empty: absent */
    pvs_answer_free(&a);
}

/* The 'c' meter's kind reaches its readings: the daemon tells gross
 * (DEVICE_CONSUMPTION_METER) from net (DEVICE_NET_METER) by it. */
static void readings_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *file, *serial;
        enum device_kind kind;
    } cases[] = {
        {"devicelist_gross.json", "PVS6M19420231c", DEVICE_CONSUMPTION_METER},
        {"devicelist_gross.json", "PVS6M19420231p", DEVICE_PRODUCTION_METER},
        {"devicelist_net_2025.json", "PVS6M22134410c", DEVICE_NET_METER},
        {"devicelist_notused.json", "PVS6M20510087c", DEVICE_NET_METER},
        {"devicelist_zero_c.json", "PVS5M508095c", DEVICE_NET_METER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pvs_answer a = {0};
        assert_int_equal(parse_file(cases[i].file, PVS_API_DEVICELIST, &a), 0);
        struct collected c = {0};
        struct reading_sink sink = {collect, &c};
        for (size_t k = 0; k < a.n; k++)
            pvs_device_emit(&a.dev[k], PVS_API_DEVICELIST, "pvs-api", 1700000000, &sink, NULL);
        const struct pvs_device *d = find(&a, cases[i].serial);
        const struct reading *r = reading_of(&c, cases[i].serial, Q_ENERGY_NET_LIFETIME_KWH);
        if (!r || r->kind != cases[i].kind || r->value != d->value[PF_ENERGY_NET_LIFETIME_KWH])
            fail_msg("%s %s: net counter reading %s", cases[i].file, cases[i].serial,
                     r ? device_kind_name(r->kind) : "missing");
        for (size_t k = 0; k < c.n; k++)
            if (strcmp(c.device[k], cases[i].serial) == 0)
                assert_int_equal(c.r[k].kind, cases[i].kind);
        pvs_answer_free(&a);
    }
}

static void readings_vars(void **state)
{
    (void)state;
    struct pvs_answer a = {0};
    assert_int_equal(parse_file("vars_meter_flat.json", PVS_API_VARS, &a), 0);
    assert_int_equal(parse_file("vars_inverter.json", PVS_API_VARS, &a), 0);
    struct collected c = {0};
    struct reading_sink sink = {collect, &c};
    const int64_t poll_s = 1713311290;
    unsigned dropped = 0;
    for (size_t i = 0; i < a.n; i++)
        pvs_device_emit(&a.dev[i], PVS_API_VARS, "pvs-api", poll_s, &sink, &dropped);
    int64_t t45, t40, t47;
    time_parse_iso_utc("2024-04-16T23:45:00Z", &t45);
    time_parse_iso_utc("2024-04-16T23:40:00Z", &t40);
    time_parse_iso_utc("2024-04-16T23:47:13Z", &t47);
    /* on the grid: records at msmtEps */
    const struct reading *r = reading_of(&c, "PVS6M20281736c", Q_ENERGY_NET_LIFETIME_KWH);
    assert_non_null(r);
    assert_int_equal(r->clock, CLOCK_RECORD);
    assert_int_equal(r->time, t45);
    r = reading_of(&c, "E00122308008125", Q_ENERGY_LIFETIME_KWH);
    assert_non_null(r);
    assert_int_equal(r->clock, CLOCK_RECORD);
    assert_int_equal(r->time, t40);
    /* off the grid: the counter is left out, the live value kept */
    assert_int_equal(dropped, 1);
    assert_null(reading_of(&c, "PVS6M20281736p", Q_ENERGY_NET_LIFETIME_KWH));
    r = reading_of(&c, "PVS6M20281736p", Q_POWER_W);
    assert_non_null(r);
    assert_int_equal(r->time, t47);
    assert_int_equal(r->clock, CLOCK_POLL);
    pvs_answer_free(&a);
}

/* ---- URL and pin ------------------------------------------------------------------- */

static const struct url_case {
    const char *in;
    const char *out; /* NULL: refused */
} url_cases[] = {
    {"http://172.27.153.1", "http://172.27.153.1"},
    {"http://172.27.153.1/", "http://172.27.153.1"},
    {"HTTPS://pvs6.local:8443//", "HTTPS://pvs6.local:8443"},
    {"https://[fe80::1]:443", "https://[fe80::1]:443"},
    {"http://proxy.lan/pvs/", "http://proxy.lan/pvs"},
    {"http://172.27.153.1/cgi-bin/dl_cgi?Command=DeviceList", NULL},
    {"ftp://172.27.153.1", NULL},
    {"172.27.153.1", NULL},
    {"http://", NULL},
    {"http:///x", NULL},
    {"https://ssm_owner:12345@pvs6", NULL},
    {"http://pvs6:0", NULL},
    {"http://pvs6:65536", NULL},
    {"http://pvs6:80x", NULL},
    {"http://pvs 6", NULL},
    {"http://pvs6#frag", NULL},
    {"https://[fe80::1", NULL},
};

static void urls(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        char out[256], why[160] = "";
        int rc = pvs_url_normalize(url_cases[i].in, out, sizeof out, why, sizeof why);
        if (url_cases[i].out) {
            if (rc != 0)
                fail_msg("%s refused: %s", url_cases[i].in, why);
            assert_string_equal(out, url_cases[i].out);
        } else {
            if (rc == 0)
                fail_msg("%s accepted as %s", url_cases[i].in, out);
            assert_true(why[0] != '\0');
        }
    }
    char small[16], why[160];
    assert_int_equal(pvs_url_normalize("http://a-rather-long-host.example", small, sizeof small,
                                       why, sizeof why),
                     PVTAP_ELIMIT);
    assert_true(pvs_url_is_https("https://x"));
    assert_false(pvs_url_is_https("http://x"));
}

/* openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256:
 * 97af5ceeb6dd74f220194c389cb174474f47d8604347818f483d96e5ea55192d */
#define PIN_B64 "l69c7rbddPIgGUw4nLF0R09H2GBDR4GPSD2W5epVGS0="
#define PIN_HEX "97af5ceeb6dd74f220194c389cb174474f47d8604347818f483d96e5ea55192d"

static const struct pin_case {
    const char *in;
    bool ok;
} pin_cases[] = {
    {"sha256//" PIN_B64, true},
    {"SHA256//" PIN_B64, true},
    {PIN_B64, true},
    {PIN_HEX, true},
    {"97:AF:5C:EE:B6:DD:74:F2:20:19:4C:38:9C:B1:74:47:4F:47:D8:60:43:47:81:8F:48:3D:96:E5:EA:55:"
     "19:2D",
     true},
    {"", false},
    {"sha256//", false},
    {"sha256//l69c7rbddPIgGUw4nLF0R09H2GBDR4GPSD2W5epVGS0", false},            /* no '=' */
    {"sha256//l69c7rbddPIgGUw4nLF0R09H2GBDR4GPSD2W5epVGS1=", false},           /* non-canonical */
    {"sha256//l69c7rbddPIgGUw4nLF0R09H2GBDR4GPSD2W5epVGS0==", false},          /* too long */
    {"sha256//l69c7rbddPIgGUw4nLF0R09H2GBDR4GPSD2W5ep!GS0=", false},           /* not base64 */
    {"97af5ceeb6dd74f220194c389cb174474f47d8604347818f483d96e5ea5519", false}, /* 31 bytes */
    {PIN_HEX "00", false},
    {"sha1//AAAA", false},
};

static void pins(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pin_cases / sizeof pin_cases[0]; i++) {
        char out[PVS_PIN_SIZE];
        int rc = pvs_pin_normalize(pin_cases[i].in, out, sizeof out);
        if (pin_cases[i].ok) {
            if (rc != 0)
                fail_msg("pin %zu refused: %s", i, pin_cases[i].in);
            assert_string_equal(out, "sha256//" PIN_B64);
        } else if (rc == 0) {
            fail_msg("pin %zu accepted: %s", i, pin_cases[i].in);
        }
    }
}

/* kW that overflow when made W (found by fuzz_pvs_json): a bad value, never
 * an infinite reading; the rest of the entry is kept. */
static void overflowing_kw(void **state)
{
    (void)state;
    static const char body[] = "{\"devices\":[{\"DEVICE_TYPE\":\"Inverter\",\"SERIAL\":\"E1\","
                               "\"p_3phsum_kw\":\"1e307\",\"ltea_3phsum_kwh\":\"12.5\"}]}";
    struct pvs_answer a = {0};
    assert_int_equal(pvs_parse_devicelist(body, sizeof body - 1, &a), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.bad_values, 1);
    assert_false(a.dev[0].present[PF_POWER_W]);
    assert_true(a.dev[0].value[PF_ENERGY_LIFETIME_KWH] == 12.5);
    static const char vars[] = "{\"/sys/devices/3/inverter/data\":{\"sn\":\"E2\","
                               "\"p3phsumKw\":-1e306}}";
    assert_int_equal(pvs_parse_vars(vars, sizeof vars - 1, &a), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.bad_values, 2);
    assert_false(a.dev[1].present[PF_POWER_W]);
    pvs_answer_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(field_mapping),
        cmocka_unit_test(whole_answers),
        cmocka_unit_test(bad_bodies),
        cmocka_unit_test(odd_entries),
        cmocka_unit_test(readings_devicelist),
        cmocka_unit_test(readings_vars),
        cmocka_unit_test(readings_kinds),
        cmocka_unit_test(meter_kinds),
        cmocka_unit_test(subtypes),
        cmocka_unit_test(vars_shapes),
        cmocka_unit_test(sw_rev),
        cmocka_unit_test(urls),
        cmocka_unit_test(pins),
        cmocka_unit_test(overflowing_kw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
