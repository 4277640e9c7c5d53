/* `pvtap poll --device pvs-api`: one read of the supervisor's local API, one object a device. */
#include "cli/poll_pvs_api.h"
#include "cli/record_json.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pvtap_build.h"

#if PVTAP_HAVE_CURL
#include "sources/pvs_api.h"
#include "util/err.h"
#include "util/timeutil.h"
#endif

#define CMD "poll"

void poll_pvs_api_usage(FILE *out)
{
#if PVTAP_HAVE_CURL
    fprintf(out,
            "\n--device pvs-api --url URL [--username U] [--password P] [--tls-sha256 PIN]\n"
            "                 [--timeout-s N] [--format json|table]\n"
            "  The supervisor's own local API (PVS5/PVS6), one JSON object per device.\n"
            "  URL http://172.27.153.1 (installer port, older firmware): the DeviceList.\n"
            "  URL https://HOST with --password (last 5 characters of the supervisor's\n"
            "  serial; or the PVTAP_PVS_PASSWORD environment variable): the login API of\n"
            "  firmware 61840 and later. On first contact without --tls-sha256 pvtap only\n"
            "  prints the certificate's public-key pin and stops; check it, then pass it.\n"
            "  The 'c' meter prints as consumption_meter when its subtype is\n"
            "  GROSS_CONSUMPTION_LINESIDE (it measures the whole house), else net_meter.\n"
            "  --username defaults to " PVS_DEFAULT_USERNAME "; --timeout-s to %d.\n",
            PVS_DEFAULT_TIMEOUT_S);
#else
    (void)out;
#endif
}

bool poll_pvs_api_wanted(int argc, char **argv)
{
#if PVTAP_HAVE_CURL
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device=pvs-api") == 0)
            return true;
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc && strcmp(argv[i + 1], "pvs-api") == 0)
            return true;
    }
#else
    (void)argc;
    (void)argv;
#endif
    return false;
}

#if PVTAP_HAVE_CURL

/* The order keys print in: the README's inverter and meter shapes first,
 * then what only this device has (legs, CT scale, supervisor counters). */
static const enum pvs_field print_order[] = {
    PF_POWER_W,
    PF_ENERGY_LIFETIME_KWH,
    PF_ENERGY_NET_LIFETIME_KWH,
    PF_ENERGY_IMPORT_LIFETIME_KWH,
    PF_ENERGY_EXPORT_LIFETIME_KWH,
    PF_VOLTAGE_V,
    PF_CURRENT_A,
    PF_FREQUENCY_HZ,
    PF_DC_POWER_W,
    PF_DC_VOLTAGE_V,
    PF_DC_CURRENT_A,
    PF_TEMPERATURE_C,
    PF_STATUS,
    PF_REACTIVE_VAR,
    PF_APPARENT_VA,
    PF_POWER_FACTOR,
    PF_CT_SCALE,
    PF_POWER_L1_W,
    PF_POWER_L2_W,
    PF_VOLTAGE_L1_V,
    PF_VOLTAGE_L2_V,
    PF_VOLTAGE_L1L2_V,
    PF_CURRENT_L1_A,
    PF_CURRENT_L2_A,
    PF_DL_ERR_COUNT,
    PF_DL_COMM_ERR,
    PF_DL_SKIPPED_SCANS,
    PF_DL_UNTRANSMITTED,
    PF_DL_CPU_LOAD,
};

static bool add_string(cJSON *obj, const char *key, const char *v)
{
    return !v[0] || cJSON_AddStringToObject(obj, key, v) != NULL;
}

static cJSON *device_object(const struct pvs_device *d, int64_t poll_time_s)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return NULL;
    char when[32];
    time_format_iso_utc(d->has_time ? d->time_s : poll_time_s, when, sizeof when);
    bool ok = cJSON_AddStringToObject(obj, "device", "pvs-api") &&
              cJSON_AddStringToObject(obj, "type", pvs_dev_kind_name(d->kind)) &&
              cJSON_AddStringToObject(obj, "time", when) && add_string(obj, "serial", d->serial) &&
              add_string(obj, "model", d->model) && add_string(obj, "subtype", d->subtype) &&
              add_string(obj, "firmware", d->firmware);
    for (size_t i = 0; ok && i < sizeof print_order / sizeof print_order[0]; i++) {
        enum pvs_field f = print_order[i];
        if (d->present[f])
            ok = cJSON_AddNumberToObject(obj, pvs_field_name(f), d->value[f]) != NULL;
    }
    /* The device's own word for its state, beside its numeric status. */
    ok = ok && add_string(obj, "status_text", d->state);
    if (!ok) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

int poll_pvs_api_main(int argc, char **argv)
{
    enum { O_DEVICE = 256, O_URL, O_USER, O_PASS, O_PIN, O_TIMEOUT, O_FORMAT, O_HELP };
    static const struct option longopts[] = {
        {"device", required_argument, NULL, O_DEVICE},
        {"url", required_argument, NULL, O_URL},
        {"username", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PASS},
        {"tls-sha256", required_argument, NULL, O_PIN},
        {"timeout-s", required_argument, NULL, O_TIMEOUT},
        {"format", required_argument, NULL, O_FORMAT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct pvs_client_opts o;
    memset(&o, 0, sizeof o);
    snprintf(o.username, sizeof o.username, "%s", PVS_DEFAULT_USERNAME);
    o.timeout_s = PVS_DEFAULT_TIMEOUT_S;
    const char *url = NULL;
    bool table = false;
    int c, status = EXIT_OK;
    long v;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case O_HELP:
            printf("usage: pvtap poll --device pvs-api --url URL [options]\n");
            poll_pvs_api_usage(stdout);
            printf("\nExit status: 0 ok, 1 no answer, refused or not pinned yet, 2 usage "
                   "error.\n");
            return EXIT_OK;
        case O_DEVICE:
            break; /* pvs-api: why we are here */
        case O_URL:
            url = optarg;
            break;
        case O_USER:
            if (!optarg[0] || strlen(optarg) >= sizeof o.username)
                return cli_usage_error(CMD, "--username must be 1..%zu characters",
                                       sizeof o.username - 1);
            snprintf(o.username, sizeof o.username, "%s", optarg);
            break;
        case O_PASS:
            if (strlen(optarg) >= sizeof o.password)
                return cli_usage_error(CMD, "--password is too long");
            snprintf(o.password, sizeof o.password, "%s", optarg);
            break;
        case O_PIN:
            if (pvs_pin_normalize(optarg, o.tls_pin, sizeof o.tls_pin) < 0)
                return cli_usage_error(CMD, "--tls-sha256 must be \"sha256//\" and 44 base64 "
                                            "characters, or 64 hex digits");
            break;
        case O_TIMEOUT:
            if (!cli_parse_long(optarg, 1, 300, &v))
                return cli_usage_error(CMD, "--timeout-s must be 1..300, not '%s'", optarg);
            o.timeout_s = v;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "json") == 0)
                table = false;
            else if (strcmp(optarg, "table") == 0)
                table = true;
            else
                return cli_usage_error(CMD, "--format must be json or table, not '%s'", optarg);
            break;
        default:
            return cli_usage_error(CMD, "'%s' is not an option of --device pvs-api",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!url)
        return cli_usage_error(CMD, "--device pvs-api needs --url (e.g. http://172.27.153.1)");
    char why[160];
    if (pvs_url_normalize(url, o.url, sizeof o.url, why, sizeof why) < 0)
        return cli_usage_error(CMD, "--url %s", why);
    const char *env_pass = getenv("PVTAP_PVS_PASSWORD");
    if (!o.password[0] && env_pass && env_pass[0]) {
        if (strlen(env_pass) >= sizeof o.password)
            return cli_usage_error(CMD, "PVTAP_PVS_PASSWORD is too long");
        snprintf(o.password, sizeof o.password, "%s", env_pass);
    }
    bool https = pvs_url_is_https(o.url);
    if (o.password[0] && !https) {
        explicit_bzero(o.password, sizeof o.password);
        return cli_usage_error(CMD, "a password goes with an https:// URL only (the login API "
                                    "is HTTPS; without one pvtap reads the DeviceList)");
    }
    if (o.tls_pin[0] && !https)
        return cli_usage_error(CMD, "--tls-sha256 goes with an https:// URL");

    struct pvs_client *client = NULL;
    if (pvs_client_new(&o, &client) < 0) {
        explicit_bzero(o.password, sizeof o.password);
        fprintf(stderr, "pvtap poll: out of memory\n");
        return EXIT_RUNTIME;
    }
    explicit_bzero(o.password, sizeof o.password);
    struct pvs_answer a = {0};
    struct pvs_error err;
    enum pvs_api api;
    int64_t t = time_now_s();
    int rc = pvs_client_poll(client, &a, &api, &err);
    pvs_client_free(client);
    if (rc < 0) {
        fprintf(stderr, "pvtap poll: %s\n", err.text[0] ? err.text : pvtap_strerror(rc));
        pvs_answer_free(&a);
        return EXIT_RUNTIME;
    }
    for (size_t i = 0; i < a.n; i++) {
        cJSON *obj = device_object(&a.dev[i], t);
        if (!obj) {
            fprintf(stderr, "pvtap poll: out of memory\n");
            status = EXIT_RUNTIME;
            break;
        }
        record_json_print(obj, table);
        cJSON_Delete(obj);
    }
    if (a.n == 0 && status == EXIT_OK) {
        fprintf(stderr, "pvtap poll: the supervisor listed no inverter or meter\n");
        status = EXIT_RUNTIME;
    }
    pvs_answer_free(&a);
    return status;
}

#else

int poll_pvs_api_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error(CMD, "--device pvs-api is not in this build (built without libcurl)");
}

#endif
