/* sd_notify datagrams, watchdog interval, and dropping root with and without CAP_NET_RAW. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/notify.h"
#include "daemon/privdrop.h"
#include "util/log.h"
#include "skip_or_fail.h"

static int bind_dgram(const char *path, bool abstract)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    memcpy(sa.sun_path, path, len);
    if (abstract)
        sa.sun_path[0] = '\0';
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
        0);
    return fd;
}

static void test_notify_path_and_abstract(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/pvtap-notify-%d", (int)getpid());
    unlink(path);
    int fd = bind_dgram(path, false);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(notify_send("READY=1\nSTATUS=sources 2/2 up"), 1);
    char buf[128];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "READY=1\nSTATUS=sources 2/2 up");
    close(fd);
    unlink(path);

    char abs_name[64];
    snprintf(abs_name, sizeof abs_name, "@pvtap-notify-%d", (int)getpid());
    fd = bind_dgram(abs_name, true);
    setenv("NOTIFY_SOCKET", abs_name, 1);
    assert_int_equal(notify_send("WATCHDOG=1"), 1);
    n = recv(fd, buf, sizeof buf - 1, 0);
    assert_int_equal(n, 10);
    close(fd);

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_send("READY=1"), 0); /* not under systemd: nothing to do */
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_true(notify_send("READY=1") < 0);
    unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_interval(void **state)
{
    (void)state;
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(notify_watchdog_ms(), 30000);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(notify_watchdog_ms(), 30000);
    setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
    assert_int_equal(notify_watchdog_ms(), 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "garbage", 1);
    assert_int_equal(notify_watchdog_ms(), 0);
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(notify_watchdog_ms(), 0);
}

/* In a child (the drop is one-way): exit 0 when uid and CapEff are as wanted. */
static int drop_in_child(bool keep, long long want_caps)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct passwd *pw = getpwnam("nobody");
        if (privdrop_to_user("nobody", keep) != 0)
            _exit(10);
        if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
            _exit(11);
        if (privdrop_cap_effective() != want_caps)
            _exit(12);
        if (setuid(0) == 0)
            _exit(13);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void test_drop_keeps_only_net_raw(void **state)
{
    (void)state;
    if (geteuid() != 0 || !getpwnam("nobody"))
        skip_or_fail("needs root and a 'nobody' user");
    assert_int_equal(drop_in_child(true, 1LL << CAP_NET_RAW), 0);
    assert_int_equal(drop_in_child(false, 0), 0);
}

static void test_drop_refuses_unknown_or_root_user(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip_or_fail("needs root");
    log_set_level(LOGL_ERR - 1); /* silence the expected complaints */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int a = privdrop_to_user("no-such-user-pvtap", false);
        int b = privdrop_to_user("root", false);
        _exit(a < 0 && b < 0 && geteuid() == 0 ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    log_set_level(LOGL_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_path_and_abstract),
        cmocka_unit_test(test_watchdog_interval),
        cmocka_unit_test(test_drop_keeps_only_net_raw),
        cmocka_unit_test(test_drop_refuses_unknown_or_root_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
