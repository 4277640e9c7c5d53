/* Config loading: every broken config gives FILE:LINE: key: ..., secrets are never printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "util/config.h"
#include "util/err.h"

static char g_dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads g_dir/name with stderr captured into err (NUL-terminated). */
static int load_capture(const char *name, struct pvtap_config *cfg, char *err, size_t err_size)
{
    char path[512], errpath[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", g_dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(errpath, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    int rc = pvtap_config_load(path, cfg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t n = fread(err, 1, err_size - 1, f);
    err[n] = '\0';
    fclose(f);
    return rc;
}

struct broken_case {
    const char *name;
    const char *text;
    const char *expect; /* a substring of stderr; %s stands for the directory */
};

static const struct broken_case broken_cases[] = {
    {"unknown-top-key", "site = { timezone = \"UTC\"; };\nbogus = 1;\n", "broken.conf:2: bogus: unknown key"},
    {"unknown-site-key", "site = {\n  timezone = \"UTC\";\n  colour = \"red\";\n};\n",
     "broken.conf:3: site.colour: unknown key"},
    {"wrong-type-max-power", "site = {\n max_power_kW = \"lots\";\n};\n",
     "broken.conf:2: site.max_power_kW: must be a number, not a string"},
    {"out-of-range-max-power", "site = {\n max_power_kW = -5.0;\n};\n",
     "broken.conf:2: site.max_power_kW: -5 is out of range"},
    {"bad-consumption-meter", "site = {\n timezone = \"UTC\";\n consumption_meter = \"gros\";\n};\n",
     "broken.conf:3: site.consumption_meter: \"gros\" is not one of \"auto\", \"net\", \"gross\", \"none\""},
    {"bad-production", "site = {\n production = 3;\n};\n",
     "broken.conf:2: site.production: must be a string"},
    {"unknown-timezone", "site = {\n timezone = \"Mars/Olympus\";\n};\n",
     "broken.conf:2: site.timezone: unknown time zone \"Mars/Olympus\""},
    {"syntax-error", "site = {\n timezone = \"UTC\";\n max_power_kW = ;\n};\n", "broken.conf:3: syntax:"},
    {"missing-include", "site = { timezone = \"UTC\"; };\n@include \"no-such-board.conf\"\n",
     "broken.conf:2: @include \"no-such-board.conf\""},
    {"sources-not-list", "sources = { type = \"sniff\"; };\n", "broken.conf:1: sources: must be a list"},
    {"source-without-type", "sources = (\n  { name = \"x\"; }\n);\n",
     "broken.conf:2: sources.[0].type: missing (required)"},
    {"unknown-source-type", "sources = (\n  { type = \"carrier-pigeon\"; }\n);\n",
     "broken.conf:2: sources.[0].type: unknown source type \"carrier-pigeon\""},
    {"pvoutput-missing-system-id", "pvoutput = {\n  api_key = \"abc\";\n};\n",
     "broken.conf:1: pvoutput.system_id: missing (required)"},
    {"pvoutput-system-id-range", "pvoutput = {\n  api_key = \"abc\";\n  system_id = 0;\n};\n",
     "broken.conf:3: pvoutput.system_id: 0 is out of range"},
    {"pvoutput-bad-url", "pvoutput = { api_key = \"k\"; system_id = 5;\n url = \"ftp://x\"; };\n",
     "broken.conf:2: pvoutput.url: must start with https://"},
    {"pvoutput-retry-order",
     "pvoutput = { api_key = \"k\"; system_id = 5;\n retry_min_s = 60;\n retry_max_s = 10; };\n",
     "broken.conf:3: pvoutput.retry_max_s: must be at least retry_min_s (60)"},
    {"mqtt-port-range", "mqtt = {\n  port = 70000;\n};\n", "broken.conf:2: mqtt.port: 70000 is out of range"},
    /* libconfig 1.5 alone wraps these modulo 2^32: to 1883, 1881 and 1. */
    {"int-wraps-to-valid", "mqtt = {\n  port = 4294969179;\n};\n",
     "broken.conf:2: mqtt.port: 4294969179 is out of range 1..65535"},
    {"hex-wraps-to-valid", "mqtt = {\n  port = 0x100000759;\n};\n",
     "broken.conf:2: mqtt.port: 4294969177 is out of range 1..65535"},
    {"negative-wraps-to-valid", "pvoutput = { api_key = \"k\";\n  system_id = -4294967295; };\n",
     "broken.conf:2: pvoutput.system_id: -4294967295 is out of range 1..100000000"},
    {"sniff-field-index-wraps",
     "sources = ( { type = \"sniff\"; file = \"/dev/null\";\n  fields_130 = {\n power_kW = 4294967301; }; } );\n",
     "broken.conf:3: sources.[0].fields_130.power_kW: 4294967301 is out of range 0..63"},
    {"int-beyond-64-bits", "pvoutput = { api_key = \"k\";\n\n  system_id = 99999999999999999999; };\n",
     "broken.conf:3: system_id: 99999999999999999999 is beyond the 64-bit integer range"},
    {"int64-suffix-beyond-64-bits", "mqtt = {\n  port = 9223372036854775808L;\n};\n",
     "broken.conf:2: port: 9223372036854775808 is beyond the 64-bit integer range"},
    {"mqtt-wildcard-topic", "mqtt = {\n  topic = \"a/#\";\n};\n", "broken.conf:2: mqtt.topic: must be"},
    {"http-bad-listen", "http = {\n  listen = \"everywhere\";\n};\n",
     "broken.conf:2: http.listen: \"everywhere\" is not ADDRESS:PORT"},
    {"http-header-timeout-range", "http = {\n  header_timeout = 0;\n};\n",
     "broken.conf:2: http.header_timeout: 0 is out of range"},
    {"log-bad-level", "log = {\n  level = \"loud\";\n};\n", "broken.conf:2: log.level: \"loud\" is not one of"},
    {"board-missing-name", "board = {\n  mirror = \"eth0\";\n};\n", "broken.conf:1: board.name: missing (required)"},
    {"board-rs485-not-group", "board = {\n name = \"b\";\n rs485 = \"/dev/ttyUSB0\";\n};\n",
     "broken.conf:3: board.rs485: must be a group"},
    {"store-path-type", "store = {\n  path = 5;\n};\n", "broken.conf:2: store.path: must be a string, not an integer"},
};

static void test_broken_configs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof broken_cases / sizeof broken_cases[0]; i++) {
        const struct broken_case *bc = &broken_cases[i];
        write_file("broken.conf", bc->text);
        struct pvtap_config cfg;
        char err[4096];
        int rc = load_capture("broken.conf", &cfg, err, sizeof err);
        pvtap_config_free(&cfg);
        if (rc != PVTAP_ECONFIG || !strstr(err, bc->expect)) {
            print_error("case %s: rc=%d, stderr:\n%s\nexpected: %s\n", bc->name, rc, err,
                        bc->expect);
            fail();
        }
        /* Every message starts with the path as given. */
        assert_non_null(strstr(err, g_dir));
    }
}

static void test_error_inside_include_names_included_file(void **state)
{
    (void)state;
    write_file("board-bad.conf", "board = {\n  name = \"x\";\n  mirror = 7;\n};\n");
    write_file("main.conf", "site = { timezone = \"UTC\"; };\n@include \"board-bad.conf\"\n");
    struct pvtap_config cfg;
    char err[4096];
    int rc = load_capture("main.conf", &cfg, err, sizeof err);
    pvtap_config_free(&cfg);
    assert_int_equal(rc, PVTAP_ECONFIG);
    assert_non_null(strstr(err, "board-bad.conf:3: board.mirror: must be a string"));
}

static void test_valid_config_with_board_include(void **state)
{
    (void)state;
    write_file("board.conf", "board = {\n  name = \"rpi4\";\n  mirror = \"eth0\";\n"
                             "  rs485 = { meter = \"/dev/ttyRS485-0\"; inverter = \"/dev/ttyRS485-1\"; };\n};\n");
    write_file("good.conf",
               "site = { timezone = \"America/Los_Angeles\"; max_power_kW = 12; name = \"home\";\n"
               "  consumption_meter = \"gross\"; production = \"inverters\"; };\n"
               "store = { path = \"/tmp/x.db\"; };\n"
               "pvoutput = { api_key = \"SECRET-KEY-123\"; system_id = 12345; };\n"
               "mqtt = { host = \"localhost\"; password = \"SECRET-PW-456\"; };\n"
               "http = { listen = \"[::1]:8081\"; };\n"
               "run = { user = \"nobody\"; };\nlog = { level = \"debug\"; };\n"
               "@include \"board.conf\"\n");
    struct pvtap_config cfg;
    char err[4096];
    int rc = load_capture("good.conf", &cfg, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg.env.site.timezone, "America/Los_Angeles");
    assert_true(cfg.env.site.max_power_kW == 12.0);
    assert_int_equal(cfg.env.site.consumption_meter, SITE_CM_GROSS);
    assert_int_equal(cfg.env.site.production, SITE_PROD_INVERTERS);
    assert_string_equal(cfg.store_path, "/tmp/x.db");
    assert_string_equal(cfg.run_user, "nobody");
    assert_int_equal(cfg.env.board.n_ports, 2);
    assert_int_equal(cfg.n_sinks, 3);
    const struct http_config *h = NULL;
    for (size_t i = 0; i < cfg.n_sinks; i++)
        if (strcmp(cfg.sinks[i].ops->name, "http") == 0)
            h = cfg.sinks[i].priv;
    assert_non_null(h);
    assert_string_equal(h->host, "::1");
    assert_int_equal(h->port, 8081);
    assert_int_equal(h->header_timeout_s, HTTP_HEADER_TIMEOUT_S);

    /* The dump redacts every secret. */
    char dump[8192];
    FILE *mem = fmemopen(dump, sizeof dump, "w");
    assert_non_null(mem);
    pvtap_config_dump(&cfg, mem);
    fclose(mem);
    assert_null(strstr(dump, "SECRET-KEY-123"));
    assert_null(strstr(dump, "SECRET-PW-456"));
    assert_non_null(strstr(dump, "api_key = \"<redacted>\""));
    assert_non_null(strstr(dump, "password = \"<redacted>\""));
    assert_non_null(strstr(dump, "meter = \"/dev/ttyRS485-0\""));
    assert_non_null(strstr(dump, "consumption_meter = \"gross\"; production = \"inverters\";"));
    pvtap_config_free(&cfg);
}

static void test_secret_never_in_errors(void **state)
{
    (void)state;
    /* A secret with the wrong type, and a config broken elsewhere. */
    write_file("s.conf", "pvoutput = {\n  api_key = \"TOPSECRET\";\n  system_id = \"x\";\n"
                         "  bogus = \"TOPSECRET\";\n};\nmqtt = { password = 424242; };\n");
    struct pvtap_config cfg;
    char err[4096];
    int rc = load_capture("s.conf", &cfg, err, sizeof err);
    pvtap_config_free(&cfg);
    assert_int_equal(rc, PVTAP_ECONFIG);
    assert_null(strstr(err, "TOPSECRET"));
    assert_null(strstr(err, "424242"));
    assert_non_null(strstr(err, "s.conf:6: mqtt.password: must be a string"));

    /* Nor when it is a number too big for any integer. */
    write_file("s2.conf", "mqtt = {\n  password = 123456789012345678901234;\n};\n");
    rc = load_capture("s2.conf", &cfg, err, sizeof err);
    pvtap_config_free(&cfg);
    assert_int_equal(rc, PVTAP_ECONFIG);
    assert_null(strstr(err, "123456789012345678901234"));
    assert_non_null(strstr(err, "s2.conf:2: password: the integer is beyond the 64-bit range"));
}

/* Credentials inside URLs never reach an error or the dump (pvs-api refuses
 * a user:pw@ URL, pvoutput keeps it; mqtt.host and http.listen may hold one
 * by mistake). */
static void test_url_credentials_never_printed(void **state)
{
    (void)state;
    write_file("u1.conf", "sources = (\n  { type = \"pvs-api\";\n"
                          "    url = \"http://ssm_owner:PVSPASSWORD1@172.27.153.1\"; }\n);\n"
                          "http = {\n  listen = \"admin:HTTPPASSWORD2@0.0.0.0:8080\";\n};\n");
    struct pvtap_config cfg;
    char err[4096];
    int rc = load_capture("u1.conf", &cfg, err, sizeof err);
    pvtap_config_free(&cfg);
    assert_int_equal(rc, PVTAP_ECONFIG);
    assert_non_null(strstr(err, "u1.conf:3: sources.[0].url: \"http://***@172.27.153.1\""));
    assert_non_null(strstr(err, "u1.conf:6: http.listen: \"***@0.0.0.0:8080\""));
    assert_null(strstr(err, "PASSWORD"));

    write_file("u2.conf", "pvoutput = { api_key = \"k\"; system_id = 5;\n"
                          "  url = \"https://me:PVOPASSWORD3@pvo.example/r2/?key=PVOKEY4&x=1\"; };\n"
                          "mqtt = { host = \"mqtt://u:MQTTPASSWORD5@broker\"; };\n");
    rc = load_capture("u2.conf", &cfg, err, sizeof err);
    assert_int_equal(rc, 0);
    char dump[8192];
    FILE *mem = fmemopen(dump, sizeof dump, "w");
    assert_non_null(mem);
    pvtap_config_dump(&cfg, mem);
    fclose(mem);
    pvtap_config_free(&cfg);
    assert_non_null(strstr(dump, "url = \"https://***@pvo.example/r2/?key=***&x=1\""));
    assert_non_null(strstr(dump, "host = \"mqtt://***@broker\""));
    assert_null(strstr(dump, "PASSWORD"));
    assert_null(strstr(dump, "PVOKEY4"));

    /* A source's own keys are dumped generically: its host too. */
    write_file("u3.conf", "sources = (\n  { type = \"sunspec\"; host = \"admin:HOSTPASSWORD6@192.0.2.10\"; "
                          "unit = 126; }\n);\n");
    rc = load_capture("u3.conf", &cfg, err, sizeof err);
    assert_int_equal(rc, 0);
    mem = fmemopen(dump, sizeof dump, "w");
    assert_non_null(mem);
    pvtap_config_dump(&cfg, mem);
    fclose(mem);
    pvtap_config_free(&cfg);
    assert_non_null(strstr(dump, "host = \"***@192.0.2.10\""));
    assert_null(strstr(dump, "PASSWORD"));
}

/* Every integer is read as 64 bits, including a group's members read one
 * by one (a sniff source's field indices). */
static void test_integers_accepted(void **state)
{
    (void)state;
    write_file("ints.conf", "sources = ( { type = \"sniff\"; file = \"/dev/null\";\n"
                            "  fields_130 = { power_kW = 5; }; snaplen = 0x400; } );\n"
                            "mqtt = { port = 8883; };\n");
    struct pvtap_config cfg;
    char err[4096];
    int rc = load_capture("ints.conf", &cfg, err, sizeof err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    const struct mqtt_config *m = NULL;
    for (size_t i = 0; i < cfg.n_sinks; i++)
        if (strcmp(cfg.sinks[i].ops->name, "mqtt") == 0)
            m = cfg.sinks[i].priv; /* struct mqtt_sink_priv starts with its mqtt_config */
    assert_non_null(m);
    assert_int_equal(m->port, 8883);
    pvtap_config_free(&cfg);
}

/* More sources than any site has are refused before any is created. */
static void test_source_count_bound(void **state)
{
    (void)state;
    for (int n = PVTAP_MAX_SOURCES; n <= PVTAP_MAX_SOURCES + 1; n++) {
        static char text[16384];
        size_t used = (size_t)snprintf(text, sizeof text, "sources = (\n");
        for (int i = 0; i < n; i++)
            used += (size_t)snprintf(text + used, sizeof text - used,
                                     "  { type = \"sniff\"; file = \"/dev/null\"; name = \"s%d\"; }%s\n",
                                     i, i + 1 < n ? "," : "");
        snprintf(text + used, sizeof text - used, ");\n");
        write_file("many.conf", text);
        struct pvtap_config cfg;
        char err[4096];
        int rc = load_capture("many.conf", &cfg, err, sizeof err);
        pvtap_config_free(&cfg);
        if (n == PVTAP_MAX_SOURCES) {
            if (rc != 0)
                print_error("%s\n", err);
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, PVTAP_ECONFIG);
            assert_non_null(strstr(err, "many.conf:1: sources: 65 sources: at most 64"));
        }
    }
}

static void test_http_listen_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ok;
        const char *host;
        unsigned port;
    } cases[] = {
        {"127.0.0.1:8080", 1, "127.0.0.1", 8080}, {"0.0.0.0:80", 1, "0.0.0.0", 80},
        {"[::1]:8081", 1, "::1", 8081},           {"[::]:1", 1, "::", 1},
        {"::1:8080", 0, NULL, 0},                 {"localhost:8080", 0, NULL, 0},
        {"127.0.0.1", 0, NULL, 0},                {"127.0.0.1:0", 0, NULL, 0},
        {"127.0.0.1:65536", 0, NULL, 0},          {"127.0.0.1:80x", 0, NULL, 0},
        {"[::1]8080", 0, NULL, 0},                {":8080", 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char host[64];
        uint16_t port = 0;
        int rc = http_listen_parse(cases[i].text, host, sizeof host, &port);
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        } else if (rc == 0) {
            print_error("accepted %s\n", cases[i].text);
            fail();
        }
    }
}

static void test_unreadable_file(void **state)
{
    (void)state;
    struct pvtap_config cfg;
    char err[4096];
    int rc = load_capture("does-not-exist.conf", &cfg, err, sizeof err);
    pvtap_config_free(&cfg);
    assert_int_equal(rc, PVTAP_EIO);
    assert_non_null(strstr(err, "does-not-exist.conf: cannot read the config"));
}

static void test_port_resolution(void **state)
{
    (void)state;
    write_file("p.conf", "board = { name = \"b\"; rs485 = { meter = \"/dev/ttyM\"; }; };\n"
                         "x = { a = \"@meter\"; b = \"/dev/ttyUSB3\"; c = \"@inverter\"; };\n");
    config_t lc;
    config_init(&lc);
    char path[512];
    snprintf(path, sizeof path, "%s/p.conf", g_dir);
    assert_int_equal(config_read_file(&lc, path), CONFIG_TRUE);
    struct pvtap_env env;
    memset(&env, 0, sizeof env);
    snprintf(env.board.name, sizeof env.board.name, "b");
    env.board.n_ports = 1;
    snprintf(env.board.ports[0].role, sizeof env.board.ports[0].role, "meter");
    snprintf(env.board.ports[0].device, sizeof env.board.ports[0].device, "/dev/ttyM");
    const config_setting_t *x = config_lookup(&lc, "x");
    char out[256];
    assert_int_equal(cfg_port(&env, x, "a", true, out, sizeof out), 0);
    assert_string_equal(out, "/dev/ttyM");
    assert_int_equal(cfg_port(&env, x, "b", true, out, sizeof out), 0);
    assert_string_equal(out, "/dev/ttyUSB3");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    int rc = cfg_port(&env, x, "c", true, out, sizeof out);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(null);
    assert_int_equal(rc, PVTAP_ECONFIG);
    config_destroy(&lc);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/pvtap-test-config-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_configs),
        cmocka_unit_test(test_error_inside_include_names_included_file),
        cmocka_unit_test(test_valid_config_with_board_include),
        cmocka_unit_test(test_secret_never_in_errors),
        cmocka_unit_test(test_url_credentials_never_printed),
        cmocka_unit_test(test_integers_accepted),
        cmocka_unit_test(test_source_count_bound),
        cmocka_unit_test(test_http_listen_parse),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_port_resolution),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
