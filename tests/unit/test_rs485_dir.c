/* Unit tests: the RS-485 direction decision for every setting and kind of port. */
/* posix_openpt, ptsname_r */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sources/rs485_dir.h"
#include "sources/serial_config.h"
#include "util/err.h"
#include "skip_or_fail.h"

static const struct rs485_port_facts PTY = {.is_pty = true};
static const struct rs485_port_facts USB = {.is_usb = true};
static const struct rs485_port_facts UART_PLAIN = {0};
static const struct rs485_port_facts UART_RS485 = {.kernel_supported = true};
static const struct rs485_port_facts UART_RS485_ON = {.kernel_supported = true,
                                                      .kernel_enabled = true};
static const struct rs485_port_facts USB_RS485 = {.is_usb = true, .kernel_supported = true};

static void decisions(void **state)
{
    (void)state;
    static const struct {
        enum rs485_mode mode;
        const struct rs485_port_facts *facts;
        enum rs485_action want;
    } cases[] = {
        {RS485_AUTO, &PTY, RS485_DO_NOTHING},
        {RS485_AUTO, &USB, RS485_DO_NOTHING},
        {RS485_AUTO, &USB_RS485, RS485_DO_NOTHING}, /* the adapter switches itself */
        {RS485_AUTO, &UART_PLAIN, RS485_DO_NOTHING},
        {RS485_AUTO, &UART_RS485, RS485_DO_KERNEL},
        {RS485_AUTO, &UART_RS485_ON, RS485_DO_NOTHING},
        {RS485_KERNEL, &PTY, RS485_DO_REFUSE},
        {RS485_KERNEL, &UART_PLAIN, RS485_DO_REFUSE},
        {RS485_KERNEL, &UART_RS485, RS485_DO_KERNEL},
        {RS485_KERNEL, &UART_RS485_ON, RS485_DO_NOTHING},
        {RS485_KERNEL, &USB_RS485, RS485_DO_KERNEL},
        {RS485_RTS, &PTY, RS485_DO_REFUSE},
        {RS485_RTS, &UART_PLAIN, RS485_DO_RTS},
        {RS485_RTS, &USB, RS485_DO_RTS},
        {RS485_RTS, &UART_RS485_ON, RS485_DO_NOTHING}, /* never fight the driver */
        {RS485_GPIO, &PTY, RS485_DO_REFUSE},
        {RS485_GPIO, &USB, RS485_DO_REFUSE},
        {RS485_GPIO, &UART_PLAIN, RS485_DO_GPIO},
        {RS485_GPIO, &UART_RS485, RS485_DO_GPIO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rs485_decision d = rs485_decide(cases[i].mode, cases[i].facts);
        if (d.action != cases[i].want)
            fail_msg("case %zu: action %d, want %d (%s)", i, d.action, cases[i].want, d.why);
        assert_non_null(d.why);
        assert_true(strlen(d.why) > 0);
    }
}

static void mode_names(void **state)
{
    (void)state;
    enum rs485_mode m;
    int gpio = -1;
    assert_int_equal(rs485_mode_parse("auto", &m, &gpio), 0);
    assert_int_equal(m, RS485_AUTO);
    assert_int_equal(rs485_mode_parse("kernel", &m, &gpio), 0);
    assert_int_equal(m, RS485_KERNEL);
    assert_int_equal(rs485_mode_parse("rts", &m, &gpio), 0);
    assert_int_equal(m, RS485_RTS);
    assert_int_equal(rs485_mode_parse("gpio:17", &m, &gpio), 0);
    assert_int_equal(m, RS485_GPIO);
    assert_int_equal(gpio, 17);
    static const char *const bad[] = {"gpio:", "gpio:-1", "gpio:17x", "gpio:99999",
                                      "RTS",   "",        "gpio: 4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rs485_mode_parse(bad[i], &m, &gpio), PVTAP_EINVAL);
}

static void probe_a_pty(void **state)
{
    (void)state;
    /* A real pty from the system: the probe must call it a pty, and auto
     * must then do nothing. */
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0)
        skip_or_fail("no pty (posix_openpt)");
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    char name[64];
    assert_int_equal(ptsname_r(master, name, sizeof name), 0);
    int slave = open(name, O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    struct rs485_port_facts f;
    rs485_probe(slave, name, &f);
    assert_true(f.is_pty);
    assert_false(f.is_usb);
    assert_int_equal(rs485_decide(RS485_AUTO, &f).action, RS485_DO_NOTHING);
    assert_int_equal(rs485_decide(RS485_KERNEL, &f).action, RS485_DO_REFUSE);
    close(slave);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decisions),
        cmocka_unit_test(mode_names),
        cmocka_unit_test(probe_a_pty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
