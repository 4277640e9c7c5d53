/* Unit tests: serial source settings from real config files, and FILE:LINE errors for broken ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pvtap_build.h"
#include "sources/serial_config.h"
#include "sources/source.h"
#include "util/err.h"

#if PVTAP_HAVE_MODBUS
#include "sources/sunspec.h"
#include "sources/wattnode.h"

struct loaded {
    char path[64];
    config_t lc;
    char errors[4096]; /* what create() printed on stderr */
    int rc;
    struct source src;
};

/* Write text to a temp file, load it with libconfig, create the first
 * source with ops (stderr captured). */
static void load(struct loaded *L, const struct source_ops *ops, const struct pvtap_env *env,
                 const char *text)
{
    memset(L, 0, sizeof *L);
    snprintf(L->path, sizeof L->path, "/tmp/pvtap-sc-XXXXXX");
    int fd = mkstemp(L->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_init(&L->lc);
    if (!config_read_file(&L->lc, L->path))
        fail_msg("libconfig: %s:%d: %s", L->path, config_error_line(&L->lc),
                 config_error_text(&L->lc));
    const config_setting_t *sources = config_lookup(&L->lc, "sources");
    assert_non_null(sources);
    const config_setting_t *section = config_setting_get_elem(sources, 0);
    assert_non_null(section);

    char errpath[64];
    snprintf(errpath, sizeof errpath, "/tmp/pvtap-sc-err-XXXXXX");
    int efd = mkstemp(errpath);
    assert_true(efd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(efd, STDERR_FILENO);
    L->src.ops = ops;
    L->src.env = env;
    L->rc = ops->create(&L->src, section);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(efd, L->errors, sizeof L->errors - 1, 0);
    L->errors[n > 0 ? n : 0] = '\0';
    close(efd);
    unlink(errpath);
}

static void unload(struct loaded *L)
{
    if (L->src.priv)
        L->src.ops->destroy(&L->src);
    config_destroy(&L->lc);
    unlink(L->path);
}

/* The private data starts with the shared settings (modbus_source.h). */
static const struct serial_config *settings(const struct loaded *L)
{
    return (const struct serial_config *)L->src.priv;
}

static void good_wattnode(void **state)
{
    (void)state;
    struct pvtap_env env;
    memset(&env, 0, sizeof env);
    snprintf(env.board.name, sizeof env.board.name, "test-board");
    env.board.n_ports = 1;
    snprintf(env.board.ports[0].role, sizeof env.board.ports[0].role, "meter");
    snprintf(env.board.ports[0].device, sizeof env.board.ports[0].device, "/dev/ttyRS485-0");
    struct loaded L;
    load(&L, &wattnode_source_ops, &env,
         "sources = ( { type = \"wattnode\"; port = \"@meter\"; baud = 19200; parity = \"E\";\n"
         "  address = 12; interval_s = 5; timeout_ms = 300; rs485 = \"gpio:17\";\n"
         "  force = true; listen_s = 0.5; role = \"production\"; invert = true;\n"
         "  max_poll_gap_s = 90; } );\n");
    assert_int_equal(L.rc, 0);
    assert_string_equal(L.errors, "");
    const struct serial_config *sc = settings(&L);
    assert_string_equal(sc->port, "/dev/ttyRS485-0");
    assert_int_equal(sc->baud, 19200);
    assert_int_equal(sc->parity, 'E');
    assert_int_equal(sc->address, 12);
    assert_true(sc->interval_s == 5);
    assert_int_equal(sc->timeout_ms, 300);
    assert_int_equal(sc->rs485, RS485_GPIO);
    assert_int_equal(sc->rs485_gpio, 17);
    assert_true(sc->force);
    assert_true(sc->listen_s == 0.5);
    assert_int_equal(sc->role, METER_ROLE_PRODUCTION);
    assert_true(sc->invert);
    assert_true(sc->max_poll_gap_s == 90);
    unload(&L);

    /* Defaults: 9600 8N1, address 1, listen 2 s, net meter. */
    load(&L, &wattnode_source_ops, NULL,
         "sources = ( { type = \"wattnode\"; port = \"/dev/ttyUSB0\"; } );\n");
    assert_int_equal(L.rc, 0);
    sc = settings(&L);
    assert_int_equal(sc->baud, 9600);
    assert_int_equal(sc->parity, 'N');
    assert_int_equal(sc->address, 1);
    assert_true(sc->listen_s == 2);
    assert_false(sc->force);
    assert_int_equal(sc->role, METER_ROLE_NET);
    unload(&L);
}

/* role "consumption": CTs around the whole house, read as a gross meter. */
static void wattnode_consumption_role(void **state)
{
    (void)state;
    struct loaded L;
    load(&L, &wattnode_source_ops, NULL,
         "sources = ( { type = \"wattnode\"; port = \"/dev/x\"; role = \"consumption\"; } );\n");
    assert_int_equal(L.rc, 0);
    const struct serial_config *sc = settings(&L);
    assert_int_equal(sc->role, METER_ROLE_CONSUMPTION);
    assert_int_equal(meter_role_kind(sc->role), DEVICE_CONSUMPTION_METER);
    assert_int_equal(meter_role_kind(METER_ROLE_NET), DEVICE_NET_METER);
    unload(&L);
}

static void good_sunspec_tcp(void **state)
{
    (void)state;
    struct loaded L;
    load(&L, &sunspec_source_ops, NULL,
         "sources = ( { type = \"sunspec\"; host = \"192.0.2.10\"; tcp_port = 1502; unit = 126; } );\n");
    assert_int_equal(L.rc, 0);
    const struct serial_config *sc = settings(&L);
    assert_string_equal(sc->host, "192.0.2.10");
    assert_int_equal(sc->tcp_port, 1502);
    assert_int_equal(sc->address, 126);
    assert_string_equal(sc->port, "");
    unload(&L);
}

/* Each broken config: the line the error must name and words it must say. */
static void broken_configs(void **state)
{
    (void)state;
    static const struct {
        const struct source_ops *ops;
        const char *text;
        int line;
        const char *words;
    } cases[] = {
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n   address = 248; } );\n", 3,
         "address"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n baud = 9601; } );\n", 3,
         "not a standard rate"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n parity = \"X\"; } );\n", 3,
         "parity"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n rs485 = \"gpio:x\"; } );\n",
         3, "gpio:N"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n bogus = 1; } );\n", 3,
         "bogus"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n host = \"h\"; } );\n", 3,
         "host"}, /* a meter on RS-485 has no TCP */
        {&wattnode_source_ops, "sources = (\n { type = \"wattnode\"; address = 2; } );\n", 2,
         "port"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"@meter\"; } );\n", 2, "board"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n role = \"gross\"; } );\n", 3,
         "role"},
        {&wattnode_source_ops,
         "sources = (\n { type = \"wattnode\"; port = \"/dev/x\";\n address = \"one\"; } );\n",
         3, "address"},
        {&sunspec_source_ops,
         "sources = (\n { type = \"sunspec\"; port = \"/dev/x\";\n host = \"h\"; } );\n", 3,
         "not both"},
        {&sunspec_source_ops,
         "sources = (\n { type = \"sunspec\"; host = \"h\";\n unit = 1; address = 2; } );\n", 3,
         "not both"},
        {&sunspec_source_ops,
         "sources = (\n { type = \"sunspec\"; host = \"h\";\n tcp_port = 70000; } );\n", 3,
         "tcp_port"},
        {&sunspec_source_ops,
         "sources = (\n { type = \"sunspec\"; host = \"h\";\n role = \"net\"; } );\n", 3,
         "role"}, /* an inverter has no meter role */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct loaded L;
        load(&L, cases[i].ops, NULL, cases[i].text);
        char where[96];
        snprintf(where, sizeof where, "%s:%d:", L.path, cases[i].line);
        if (L.rc != PVTAP_ECONFIG || !strstr(L.errors, where) ||
            !strstr(L.errors, cases[i].words))
            fail_msg("case %zu: rc %d, want %s ... %s in: %s", i, L.rc, where, cases[i].words,
                     L.errors);
        assert_null(L.src.priv); /* nothing half-made is left behind */
        unload(&L);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_wattnode),
        cmocka_unit_test(good_sunspec_tcp),
        cmocka_unit_test(wattnode_consumption_role),
        cmocka_unit_test(broken_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int main(void)
{
    return 77; /* built without libmodbus */
}

#endif
