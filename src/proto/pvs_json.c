/* The supervisor's local API answers (DeviceList, varserver /vars) -> devices -> readings. */
#include "proto/pvs_json.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"
#include "util/timeutil.h"
#include "util/grow.h"

/* The answers, as published supervisors give them:
 *
 * DeviceList (older firmware over plain HTTP, and 2023+ firmware; native
 * formatting puts a TAB after each colon):
 *   {"devices":[{"DEVICE_TYPE":"PVS","SERIAL":"ZT...","MODEL":"PV Supervisor PVS6",
 *                "SWVER":"2023.3, Build 61410","dl_comm_err":"666",...},
 *               {"DEVICE_TYPE":"Power Meter","TYPE":"PVS5-METER-C","SERIAL":"PVS6M...c",
 *                "MODEL":"PVS6M0400c","consumption_subtype_enum":"GROSS_CONSUMPTION_LINESIDE",
 *                "subtype":"GROSS_CONSUMPTION_LINESIDE","net_ltea_3phsum_kwh":"20612.61",...},
 *               {"DEVICE_TYPE":"Inverter","SERIAL":"E00...","MODEL":"AC_Module_Type_E",
 *                "STATE":"working","ltea_3phsum_kwh":"357.1827","p_3phsum_kw":"0.01",...}],
 *    "result":"succeed"}
 *   Every number arrives as a string; an empty string means "no value".
 *
 * varserver (firmware 61840+, HTTPS, after /auth?login), two shapes of variable:
 *   flat (2025 builds): one variable a value, values as strings,
 *     {"/sys/devices/meter/0/sn":"PVS6M...c","/sys/devices/meter/0/p3phsumKw":"0.47",...}
 *   nested (the vendor's documentation): one object a device,
 *     {"/sys/devices/12/meter/data":{"sn":"PVS6M...c","prodMdlNm":"PVS6M0400c",
 *        "msmtEps":"2025-06-28T04:10:00Z","netLtea3phsumKwh":6121.36,...}}
 *   each as an object keyed by name (fmt=obj) or as {"values":[{"name":..,"value":..}]}.
 *   msmtEps is the measurement's UTC time on the 5-minute grid.
 */

enum {
    K_SUP = 1u << PVS_DEV_SUPERVISOR,
    K_INV = 1u << PVS_DEV_INVERTER,
    K_MET = (1u << PVS_DEV_NET_METER) | (1u << PVS_DEV_PRODUCTION_METER) |
            (1u << PVS_DEV_CONSUMPTION_METER),
};

/* One row per value: which devices carry it, its key in each generation,
 * the field it fills and the factor to our unit (kW -> W). The first row
 * that is present for a field wins: p_mppt1_kw before the older p_mpptsum_kw. */
static const struct key_map {
    unsigned kinds;
    const char *dl;   /* DeviceList key, or NULL */
    const char *vars; /* varserver key, or NULL */
    enum pvs_field f;
    double scale;
} key_map[] = {
    {K_INV, "ltea_3phsum_kwh", "ltea3phsumKwh", PF_ENERGY_LIFETIME_KWH, 1},
    {K_MET, "net_ltea_3phsum_kwh", "netLtea3phsumKwh", PF_ENERGY_NET_LIFETIME_KWH, 1},
    {K_MET, "pos_ltea_3phsum_kwh", "posLtea3phsumKwh", PF_ENERGY_IMPORT_LIFETIME_KWH, 1},
    {K_MET, "neg_ltea_3phsum_kwh", "negLtea3phsumKwh", PF_ENERGY_EXPORT_LIFETIME_KWH, 1},
    {K_INV | K_MET, "p_3phsum_kw", "p3phsumKw", PF_POWER_W, 1000},
    {K_INV, "vln_3phavg_v", "vln3phavgV", PF_VOLTAGE_V, 1},
    {K_INV | K_MET, "i_3phsum_a", "i3phsumA", PF_CURRENT_A, 1},
    {K_MET, "i_a", "iA", PF_CURRENT_A, 1}, /* the 'p' meter's one current */
    {K_INV | K_MET, "freq_hz", "freqHz", PF_FREQUENCY_HZ, 1},
    {K_INV, "p_mppt1_kw", "pMppt1Kw", PF_DC_POWER_W, 1000},
    {K_INV, "p_mpptsum_kw", "pMpptsumKw", PF_DC_POWER_W, 1000},
    {K_INV, "v_mppt1_v", "vMppt1V", PF_DC_VOLTAGE_V, 1},
    {K_INV, "i_mppt1_a", "iMppt1A", PF_DC_CURRENT_A, 1},
    {K_INV, "t_htsnk_degc", "tHtsnkDegc", PF_TEMPERATURE_C, 1},
    {K_INV, "stat_ind", NULL, PF_STATUS, 1},
    {K_MET, "q_3phsum_kvar", "q3phsumKvar", PF_REACTIVE_VAR, 1000},
    {K_MET, "s_3phsum_kva", "s3phsumKva", PF_APPARENT_VA, 1000},
    {K_MET, "tot_pf_rto", "totPfRto", PF_POWER_FACTOR, 1},
    {K_MET, "ct_scl_fctr", "ctSclFctr", PF_CT_SCALE, 1},
    {K_MET, "p1_kw", "p1Kw", PF_POWER_L1_W, 1000},
    {K_MET, "p2_kw", "p2Kw", PF_POWER_L2_W, 1000},
    {K_MET, "v1n_v", "v1nV", PF_VOLTAGE_L1_V, 1},
    {K_MET, "v2n_v", "v2nV", PF_VOLTAGE_L2_V, 1},
    {K_MET, "v12_v", "v12V", PF_VOLTAGE_L1L2_V, 1},
    {K_MET, "i1_a", "i1A", PF_CURRENT_L1_A, 1},
    {K_MET, "i2_a", "i2A", PF_CURRENT_L2_A, 1},
    {K_SUP, "dl_err_count", NULL, PF_DL_ERR_COUNT, 1},
    {K_SUP, "dl_comm_err", NULL, PF_DL_COMM_ERR, 1},
    {K_SUP, "dl_skipped_scans", NULL, PF_DL_SKIPPED_SCANS, 1},
    {K_SUP, "dl_untransmitted", NULL, PF_DL_UNTRANSMITTED, 1},
    {K_SUP, "dl_cpu_load", NULL, PF_DL_CPU_LOAD, 1},
};

static const char *const field_names[PF_COUNT_] = {
    [PF_ENERGY_LIFETIME_KWH] = "energy_lifetime_kWh",
    [PF_ENERGY_NET_LIFETIME_KWH] = "energy_net_lifetime_kWh",
    [PF_ENERGY_IMPORT_LIFETIME_KWH] = "energy_import_lifetime_kWh",
    [PF_ENERGY_EXPORT_LIFETIME_KWH] = "energy_export_lifetime_kWh",
    [PF_POWER_W] = "power_W",
    [PF_VOLTAGE_V] = "voltage_V",
    [PF_CURRENT_A] = "current_A",
    [PF_FREQUENCY_HZ] = "frequency_Hz",
    [PF_DC_POWER_W] = "dc_power_W",
    [PF_DC_VOLTAGE_V] = "dc_voltage_V",
    [PF_DC_CURRENT_A] = "dc_current_A",
    [PF_TEMPERATURE_C] = "temperature_C",
    [PF_STATUS] = "status",
    [PF_REACTIVE_VAR] = "reactive_var",
    [PF_APPARENT_VA] = "apparent_VA",
    [PF_POWER_FACTOR] = "power_factor",
    [PF_CT_SCALE] = "ct_scale",
    [PF_POWER_L1_W] = "power_L1_W",
    [PF_POWER_L2_W] = "power_L2_W",
    [PF_VOLTAGE_L1_V] = "voltage_L1_V",
    [PF_VOLTAGE_L2_V] = "voltage_L2_V",
    [PF_VOLTAGE_L1L2_V] = "voltage_L1L2_V",
    [PF_CURRENT_L1_A] = "current_L1_A",
    [PF_CURRENT_L2_A] = "current_L2_A",
    [PF_DL_ERR_COUNT] = "dl_err_count",
    [PF_DL_COMM_ERR] = "dl_comm_err",
    [PF_DL_SKIPPED_SCANS] = "dl_skipped_scans",
    [PF_DL_UNTRANSMITTED] = "dl_untransmitted",
    [PF_DL_CPU_LOAD] = "dl_cpu_load",
};

/* The reading each field becomes; 0: printed by `pvtap poll` only (the
 * reading model has no legs and no supervisor diagnostics). */
static const enum quantity field_q[PF_COUNT_] = {
    [PF_ENERGY_LIFETIME_KWH] = Q_ENERGY_LIFETIME_KWH,
    [PF_ENERGY_NET_LIFETIME_KWH] = Q_ENERGY_NET_LIFETIME_KWH,
    [PF_ENERGY_IMPORT_LIFETIME_KWH] = Q_ENERGY_IMPORT_LIFETIME_KWH,
    [PF_ENERGY_EXPORT_LIFETIME_KWH] = Q_ENERGY_EXPORT_LIFETIME_KWH,
    [PF_POWER_W] = Q_POWER_W,
    [PF_VOLTAGE_V] = Q_VOLTAGE_V,
    [PF_CURRENT_A] = Q_CURRENT_A,
    [PF_FREQUENCY_HZ] = Q_FREQUENCY_HZ,
    [PF_DC_POWER_W] = Q_DC_POWER_W,
    [PF_DC_VOLTAGE_V] = Q_DC_VOLTAGE_V,
    [PF_DC_CURRENT_A] = Q_DC_CURRENT_A,
    [PF_TEMPERATURE_C] = Q_TEMPERATURE_C,
    [PF_STATUS] = Q_STATUS,
    [PF_REACTIVE_VAR] = Q_REACTIVE_VAR,
    [PF_APPARENT_VA] = Q_APPARENT_VA,
    [PF_POWER_FACTOR] = Q_POWER_FACTOR,
};

const char *pvs_field_name(enum pvs_field f)
{
    if ((int)f < 0 || f >= PF_COUNT_ || !field_names[f])
        return "unknown";
    return field_names[f];
}

const char *pvs_dev_kind_name(enum pvs_dev_kind k)
{
    switch (k) {
    case PVS_DEV_SUPERVISOR:
        return "supervisor";
    case PVS_DEV_INVERTER:
        return "inverter";
    case PVS_DEV_NET_METER:
        return "net_meter";
    case PVS_DEV_PRODUCTION_METER:
        return "production_meter";
    case PVS_DEV_CONSUMPTION_METER:
        return "consumption_meter";
    }
    return "unknown";
}

bool pvs_body_is_html(const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i == len || body[i] != '<')
        return false;
    /* "<!DOCTYPE html>", "<html>", "<HTML>", "<?xml ...?><html": anything
     * starting with '<' is markup, never the JSON we want. */
    return true;
}

/* ---- values ---------------------------------------------------------------- */

/* A number from a JSON number or a numeric string. 0: absent (missing, null,
 * ""), 1: ok, -1: present but not a finite number. */
static int json_number(const cJSON *it, double *out)
{
    if (!it || cJSON_IsNull(it))
        return 0;
    if (cJSON_IsNumber(it)) {
        if (!isfinite(it->valuedouble))
            return -1;
        *out = it->valuedouble;
        return 1;
    }
    if (!cJSON_IsString(it) || !it->valuestring)
        return -1;
    const char *s = it->valuestring;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 1;
}

/* kW -> W leaves float noise (0.0963 * 1000 = 96.30000000000001); the
 * supervisor gives at most a few decimals, so snap to micro-units. */
static double snap(double v)
{
    double r = round(v * 1e6) / 1e6;
    return r == 0 ? 0.0 : r; /* never -0 */
}

static void copy_string(const cJSON *obj, const char *key, char *out, size_t out_size)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsString(it) && it->valuestring)
        snprintf(out, out_size, "%s", it->valuestring);
}

static void fill_fields(const cJSON *obj, enum pvs_api api, struct pvs_device *d,
                        unsigned *bad_values)
{
    unsigned kind_bit = 1u << d->kind;
    for (size_t i = 0; i < sizeof key_map / sizeof key_map[0]; i++) {
        const struct key_map *m = &key_map[i];
        const char *key = api == PVS_API_DEVICELIST ? m->dl : m->vars;
        if (!key || !(m->kinds & kind_bit) || d->present[m->f])
            continue;
        double v;
        int rc = json_number(cJSON_GetObjectItemCaseSensitive(obj, key), &v);
        if (rc < 0)
            (*bad_values)++;
        if (rc <= 0)
            continue;
        /* "1e307" kW is finite, its watts are not: a bad value too. */
        double scaled = m->scale == 1 ? v : snap(v * m->scale);
        if (!isfinite(scaled)) {
            (*bad_values)++;
            continue;
        }
        d->value[m->f] = scaled;
        d->present[m->f] = true;
    }
}

static struct pvs_device *answer_add(struct pvs_answer *a)
{
    if (a->n >= PVS_MAX_DEVICES)
        return NULL;
    if (GROW(&a->dev, &a->cap, a->n, 16) < 0)
        return NULL;
    struct pvs_device *d = &a->dev[a->n];
    memset(d, 0, sizeof *d);
    return d;
}

void pvs_answer_free(struct pvs_answer *a)
{
    if (!a)
        return;
    free(a->dev);
    memset(a, 0, sizeof *a);
}

/* A meter's role letter ('c' consumption CTs, 'p' production CTs) from the
 * last letter of its serial (as when sniffed), else of its model
 * (PVS6M0400c) or of a TYPE like PVS5-METER-C. 0 when none. */
static char meter_letter(const char *serial, const char *model, const char *type)
{
    const char *names[] = {serial, model, type};
    for (size_t i = 0; i < 3; i++) {
        size_t n = names[i] ? strlen(names[i]) : 0;
        if (!n)
            continue;
        char last = (char)tolower((unsigned char)names[i][n - 1]);
        if (last == 'c' || last == 'p')
            return last;
    }
    return 0;
}

static bool contains_ci(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

/* The kind of a meter: its role letter, else its subtype's word
 * (..._CONSUMPTION_..., ..._PRODUCTION_...); a 'c' meter measures the whole
 * house (consumption meter) only when its subtype says
 * GROSS_CONSUMPTION_LINESIDE, and reads net otherwise: NET_CONSUMPTION_LOADSIDE,
 * NOT_USED (owners report such meters reading net values) or no subtype
 * (the flat varserver variables carry none). 0: not a meter of ours. */
static enum pvs_dev_kind meter_kind(const char *serial, const char *model, const char *type,
                                    const char *subtype)
{
    char role = meter_letter(serial, model, type);
    if (!role && contains_ci(subtype, "CONSUMPTION"))
        role = 'c';
    if (!role && contains_ci(subtype, "PRODUCTION"))
        role = 'p';
    if (role == 'p')
        return PVS_DEV_PRODUCTION_METER;
    if (role == 'c')
        return strcasecmp(subtype, PVS_SUBTYPE_GROSS_CONSUMPTION) == 0 ? PVS_DEV_CONSUMPTION_METER
                                                                       : PVS_DEV_NET_METER;
    return 0;
}

/* A meter's subtype: "subtype", else the first string member whose key names
 * a subtype (the DeviceList's consumption_subtype_enum and
 * production_subtype_enum; whatever a varserver build calls it), into out. */
static void copy_subtype(const cJSON *obj, char *out, size_t out_size)
{
    out[0] = '\0';
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "subtype");
    if (!(cJSON_IsString(it) && it->valuestring && it->valuestring[0])) {
        it = NULL;
        const cJSON *m;
        cJSON_ArrayForEach(m, obj)
        {
            if (m->string && contains_ci(m->string, "subtype") && cJSON_IsString(m) &&
                m->valuestring && m->valuestring[0]) {
                it = m;
                break;
            }
        }
    }
    if (!it)
        return;
    /* trimmed: the kind compares it whole */
    const char *v = it->valuestring;
    while (isspace((unsigned char)*v))
        v++;
    snprintf(out, out_size, "%s", v);
    size_t n = strlen(out);
    while (n && isspace((unsigned char)out[n - 1]))
        out[--n] = '\0';
}

static bool str_eq(const cJSON *obj, const char *key, const char *want)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) && it->valuestring && strcasecmp(it->valuestring, want) == 0;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) && it->valuestring ? it->valuestring : "";
}

/* ---- DeviceList ------------------------------------------------------------ */

/* subtype: the entry's, read by the caller (meters only). */
static enum pvs_dev_kind dl_kind(const cJSON *o, const char *subtype)
{
    const char *type = str_of(o, "TYPE");
    if (str_eq(o, "DEVICE_TYPE", "Inverter"))
        return PVS_DEV_INVERTER;
    if (str_eq(o, "DEVICE_TYPE", "Power Meter") || strstr(type, "METER") ||
        cJSON_HasObjectItem(o, "net_ltea_3phsum_kwh"))
        return meter_kind(str_of(o, "SERIAL"), str_of(o, "MODEL"), type, subtype);
    if (str_eq(o, "DEVICE_TYPE", "PVS") || str_eq(o, "DEVICE_TYPE", "Supervisor") ||
        cJSON_HasObjectItem(o, "dl_comm_err"))
        return PVS_DEV_SUPERVISOR;
    /* Unlabelled entries with an inverter's counter are inverters; anything
     * else (batteries, transfer switches, gateways) is not ours. */
    if (!cJSON_HasObjectItem(o, "DEVICE_TYPE") && cJSON_HasObjectItem(o, "ltea_3phsum_kwh"))
        return PVS_DEV_INVERTER;
    return 0;
}

static cJSON *parse_json(const char *body, size_t len, int *err)
{
    if (pvs_body_is_html(body, len)) {
        *err = PVTAP_ENOTMINE;
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        size_t i = 0;
        while (i < len && isspace((unsigned char)body[i]))
            i++;
        /* Broken JSON is "ours but corrupt"; anything else is not ours. */
        *err = i < len && (body[i] == '{' || body[i] == '[') ? PVTAP_ECORRUPT : PVTAP_ENOTMINE;
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *err = PVTAP_ECORRUPT;
        return NULL;
    }
    return root;
}

int pvs_parse_devicelist(const char *body, size_t len, struct pvs_answer *out)
{
    int err = 0;
    cJSON *root = parse_json(body, len, &err);
    if (!root)
        return err;
    const cJSON *devices = cJSON_GetObjectItemCaseSensitive(root, "devices");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(root, "result");
    if (!cJSON_IsArray(devices) ||
        (result && !(cJSON_IsString(result) && strcmp(result->valuestring, "succeed") == 0))) {
        cJSON_Delete(root);
        return PVTAP_ECORRUPT;
    }
    size_t n0 = out->n;
    int rc = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, devices)
    {
        if (!cJSON_IsObject(o)) {
            out->unknown_devices++;
            continue;
        }
        char subtype[sizeof out->dev[0].subtype];
        copy_subtype(o, subtype, sizeof subtype);
        enum pvs_dev_kind kind = dl_kind(o, subtype);
        const char *serial = str_of(o, "SERIAL");
        if (!kind || !*serial || strlen(serial) >= sizeof out->dev[0].serial) {
            out->unknown_devices++;
            continue;
        }
        struct pvs_device *d = answer_add(out);
        if (!d) {
            rc = out->n >= PVS_MAX_DEVICES ? PVTAP_ELIMIT : PVTAP_ENOMEM;
            break;
        }
        d->kind = kind;
        snprintf(d->serial, sizeof d->serial, "%s", serial);
        copy_string(o, "MODEL", d->model, sizeof d->model);
        copy_string(o, "STATE", d->state, sizeof d->state);
        if (kind == PVS_DEV_SUPERVISOR)
            copy_string(o, "SWVER", d->firmware, sizeof d->firmware);
        else if (kind != PVS_DEV_INVERTER)
            snprintf(d->subtype, sizeof d->subtype, "%s", subtype);
        fill_fields(o, PVS_API_DEVICELIST, d, &out->bad_values);
        out->n++;
    }
    if (rc < 0)
        out->n = n0;
    cJSON_Delete(root);
    return rc;
}

/* ---- varserver ------------------------------------------------------------- */

/* True when the path has the component want ("meter" in "/sys/devices/12/meter/data"). */
static bool has_component(const char *path, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = path; (p = strstr(p, want)) != NULL; p += n) {
        bool starts = p == path || p[-1] == '/';
        bool ends = p[n] == '\0' || p[n] == '/';
        if (starts && ends)
            return true;
    }
    return false;
}

/* The device kind a path names: inverter, 1 for "some meter" (its role
 * comes from its serial), else 0 (ess, transfer_switch, info, livedata). */
static int vars_path_kind(const char *path)
{
    if (has_component(path, "inverter"))
        return PVS_DEV_INVERTER;
    if (has_component(path, "meter"))
        return 1;
    return 0;
}

static bool answer_has(const struct pvs_answer *a, const char *serial)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->dev[i].serial, serial) == 0)
            return true;
    return false;
}

static int vars_device(const char *path, const cJSON *o, struct pvs_answer *out)
{
    int pk = vars_path_kind(path);
    const char *serial = str_of(o, "sn");
    const char *model = str_of(o, "prodMdlNm");
    char subtype[sizeof out->dev[0].subtype] = "";
    if (pk == 1)
        copy_subtype(o, subtype, sizeof subtype);
    enum pvs_dev_kind kind = pk == PVS_DEV_INVERTER ? PVS_DEV_INVERTER
                             : pk == 1              ? meter_kind(serial, model, NULL, subtype)
                                                    : 0;
    if (!kind || !*serial || strlen(serial) >= sizeof out->dev[0].serial) {
        out->unknown_devices++;
        return 0;
    }
    /* A wide match (match=meter) can bring one device in both shapes: the
     * first one counts. */
    if (answer_has(out, serial))
        return 0;
    struct pvs_device *d = answer_add(out);
    if (!d)
        return out->n >= PVS_MAX_DEVICES ? PVTAP_ELIMIT : PVTAP_ENOMEM;
    d->kind = kind;
    snprintf(d->serial, sizeof d->serial, "%s", serial);
    snprintf(d->model, sizeof d->model, "%s", model);
    if (kind != PVS_DEV_INVERTER)
        snprintf(d->subtype, sizeof d->subtype, "%s", subtype);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "msmtEps");
    int64_t t;
    if (cJSON_IsString(eps) && eps->valuestring && time_parse_iso_utc(eps->valuestring, &t) == 0) {
        d->has_time = true;
        d->time_s = t;
    } else if (eps) {
        out->bad_values++;
    }
    fill_fields(o, PVS_API_VARS, d, &out->bad_values);
    out->n++;
    return 0;
}

/* A flat variable "/sys/devices/meter/0/p3phsumKw" = v goes to
 * groups["/sys/devices/meter/0"]["p3phsumKw"]: the device is the prefix
 * whose last-but-one component names the kind. */
static int group_flat(cJSON *groups, const char *name, const cJSON *value)
{
    const char *slash = strrchr(name, '/');
    if (!slash || slash == name || !slash[1])
        return 0;
    size_t dir_len = (size_t)(slash - name);
    char dir[128];
    if (dir_len >= sizeof dir)
        return 0;
    memcpy(dir, name, dir_len);
    dir[dir_len] = '\0';
    const char *index = strrchr(dir, '/');
    if (!index || !index[1])
        return 0;
    char parent[sizeof dir];
    snprintf(parent, sizeof parent, "%.*s", (int)(index - dir), dir);
    const char *kind = strrchr(parent, '/');
    kind = kind ? kind + 1 : parent;
    if (strcmp(kind, "meter") != 0 && strcmp(kind, "inverter") != 0)
        return 0; /* not a device variable (livedata, info, ess): not ours */
    cJSON *g = cJSON_GetObjectItemCaseSensitive(groups, dir);
    if (!g) {
        g = cJSON_AddObjectToObject(groups, dir);
        if (!g)
            return PVTAP_ENOMEM;
    }
    if (cJSON_HasObjectItem(g, slash + 1))
        return 0; /* a repeated name: the first value counts */
    cJSON *copy = cJSON_Duplicate(value, 1);
    if (!copy)
        return PVTAP_ENOMEM;
    if (!cJSON_AddItemToObject(g, slash + 1, copy)) {
        cJSON_Delete(copy);
        return PVTAP_ENOMEM;
    }
    return 0;
}

/* One variable of either shape: a nested device object (or that object
 * serialised in a string, as varserver stores JSON structures), else a
 * flat value. */
static int vars_variable(cJSON *groups, const char *name, const cJSON *value,
                         struct pvs_answer *out)
{
    if (cJSON_IsObject(value))
        return vars_path_kind(name) ? vars_device(name, value, out) : 0;
    if (cJSON_IsString(value) && value->valuestring && vars_path_kind(name)) {
        const char *v = value->valuestring;
        while (isspace((unsigned char)*v))
            v++;
        if (*v == '{') {
            cJSON *inner = cJSON_Parse(v);
            if (cJSON_IsObject(inner)) {
                int rc = vars_device(name, inner, out);
                cJSON_Delete(inner);
                return rc;
            }
            cJSON_Delete(inner);
        }
    }
    return group_flat(groups, name, value);
}

int pvs_parse_vars(const char *body, size_t len, struct pvs_answer *out)
{
    int err = 0;
    cJSON *root = parse_json(body, len, &err);
    if (!root)
        return err;
    cJSON *groups = cJSON_CreateObject();
    if (!groups) {
        cJSON_Delete(root);
        return PVTAP_ENOMEM;
    }
    size_t n0 = out->n;
    int rc = 0;
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(root, "values");
    const cJSON *it;
    if (cJSON_IsArray(values)) {
        /* without fmt=obj: {"values":[{"name":..,"value":..}],"count":N} */
        cJSON_ArrayForEach(it, values)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *value = cJSON_GetObjectItemCaseSensitive(it, "value");
            if (!cJSON_IsString(name) || !name->valuestring || !value)
                continue;
            if ((rc = vars_variable(groups, name->valuestring, value, out)) < 0)
                break;
        }
    } else {
        cJSON_ArrayForEach(it, root)
        {
            if (it->string && (rc = vars_variable(groups, it->string, it, out)) < 0)
                break;
        }
    }
    const cJSON *g;
    if (rc == 0)
        cJSON_ArrayForEach(g, groups)
        {
            if ((rc = vars_device(g->string, g, out)) < 0)
                break;
        }
    if (rc < 0)
        out->n = n0;
    cJSON_Delete(groups);
    cJSON_Delete(root);
    return rc;
}

static bool is_sw_rev(const char *name)
{
    size_t n = strlen(name);
    return n >= 7 && strcmp(name + n - 7, "/sw_rev") == 0;
}

int pvs_parse_sw_rev(const char *body, size_t len, char *out, size_t out_size)
{
    int err = 0;
    cJSON *root = parse_json(body, len, &err);
    if (!root)
        return err;
    const cJSON *found = NULL, *it;
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(root, "values");
    if (cJSON_IsArray(values)) {
        cJSON_ArrayForEach(it, values)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
            if (cJSON_IsString(name) && name->valuestring && is_sw_rev(name->valuestring)) {
                found = cJSON_GetObjectItemCaseSensitive(it, "value");
                break;
            }
        }
    } else {
        cJSON_ArrayForEach(it, root)
        {
            if (it->string && is_sw_rev(it->string)) {
                found = it;
                break;
            }
        }
    }
    int rc = PVTAP_ENOTFOUND;
    if (cJSON_IsString(found) && found->valuestring) {
        const char *v = found->valuestring;
        while (isspace((unsigned char)*v))
            v++;
        size_t n = strlen(v);
        while (n && isspace((unsigned char)v[n - 1]))
            n--;
        /* printed in messages: only a plain version string is taken */
        bool plain = n > 0;
        for (size_t i = 0; i < n && plain; i++)
            plain = isprint((unsigned char)v[i]);
        if (plain) {
            snprintf(out, out_size, "%.*s", (int)n, v);
            rc = 0;
        }
    }
    cJSON_Delete(root);
    return rc;
}

/* ---- readings ---------------------------------------------------------------- */

size_t pvs_device_emit(const struct pvs_device *d, enum pvs_api api, const char *series,
                       int64_t poll_time_s, const struct reading_sink *sink,
                       unsigned *dropped_counters)
{
    enum device_kind kind;
    switch (d->kind) {
    case PVS_DEV_INVERTER:
        kind = DEVICE_INVERTER;
        break;
    case PVS_DEV_NET_METER:
        kind = DEVICE_NET_METER;
        break;
    case PVS_DEV_PRODUCTION_METER:
        kind = DEVICE_PRODUCTION_METER;
        break;
    case PVS_DEV_CONSUMPTION_METER:
        kind = DEVICE_CONSUMPTION_METER;
        break;
    default:
        return 0;
    }
    struct reading r = {
        .source = "pvs-api",
        .series = series,
        .kind = kind,
        .time = poll_time_s,
        .clock = CLOCK_POLL,
    };
    snprintf(r.device, sizeof r.device, "%s", d->serial);
    bool counters_ok = true;
    if (api == PVS_API_VARS) {
        if (d->has_time && time_on_boundary(d->time_s) && d->time_s >= 0) {
            r.time = d->time_s;
            r.clock = CLOCK_RECORD;
        } else {
            counters_ok = false;
            if (d->has_time && d->time_s >= 0)
                r.time = d->time_s;
        }
    }
    size_t n = 0;
    for (int f = 0; f < PF_COUNT_; f++) {
        if (!d->present[f] || !field_q[f])
            continue;
        if (quantity_is_counter(field_q[f]) && !counters_ok) {
            if (dropped_counters)
                (*dropped_counters)++;
            continue;
        }
        r.q = field_q[f];
        r.value = d->value[f];
        reading_emit(sink, &r);
        n++;
    }
    return n;
}
