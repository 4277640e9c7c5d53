/* Config files and @includes: resolution from the including file's folder, regular files
 * only (never blocking), size/depth/count bounds, FILE:LINE kept through the expansion. */
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

#include "util/config.h"
#include "util/config_text.h"
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

/* A file of size bytes: comment lines, so it is valid config text. */
static void write_big(const char *name, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char line[] = "# padding padding padding padding padding padding padding pad\n";
    size_t n = 0;
    for (; n + sizeof line - 1 <= size; n += sizeof line - 1)
        fputs(line, f);
    for (; n < size; n++)
        fputc(n + 1 == size ? '\n' : '#', f);
    fclose(f);
}

/* Loads path (as given) with stderr captured into err. A load that blocks
 * (a FIFO opened without O_NONBLOCK) is killed by the alarm: a failure. */
static int load_path(const char *path, struct pvtap_config *cfg, char *err, size_t err_size)
{
    char errpath[512];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", g_dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(errpath, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    alarm(10);
    int rc = pvtap_config_load(path, cfg);
    alarm(0);
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

static int load(const char *name, struct pvtap_config *cfg, char *err, size_t err_size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return load_path(path, cfg, err, err_size);
}

static void expect_error(const char *name, const char *want)
{
    struct pvtap_config cfg;
    char err[8192];
    int rc = load(name, &cfg, err, sizeof err);
    pvtap_config_free(&cfg);
    if (rc >= 0 || !strstr(err, want)) {
        print_error("%s: rc=%d, stderr:\n%s\nexpected: %s\n", name, rc, err, want);
        fail();
    }
}

/* A relative @include is resolved from the including file's folder, at
 * every level, whatever the working directory and however the top file is
 * named. The decoys sit where the old resolution (working directory, top
 * file's folder) looked. */
static void test_include_resolves_from_including_folder(void **state)
{
    (void)state;
    char sub[512];
    snprintf(sub, sizeof sub, "%s/boards", g_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("main.conf", "site = { timezone = \"UTC\"; };\n@include \"boards/board.conf\"\n");
    write_file("boards/board.conf", "board = {\n  name = \"b\";\n@include \"ports.conf\"\n};\n");
    write_file("boards/ports.conf", "  rs485 = { meter = \"/dev/ttyRIGHT\"; };\n");
    write_file("ports.conf", "  rs485 = { meter = \"/dev/ttyDECOY\"; };\n");

    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    for (int round = 0; round < 2; round++) {
        char path[512];
        /* round 0: absolute path; round 1: relative to "/", from "/" */
        assert_int_equal(chdir(round ? "/" : cwd), 0);
        snprintf(path, sizeof path, "%s/main.conf", round ? g_dir + 1 : g_dir);
        struct pvtap_config cfg;
        char err[4096];
        int rc = load_path(path, &cfg, err, sizeof err);
        if (rc != 0)
            print_error("round %d: %s\n", round, err);
        assert_int_equal(rc, 0);
        assert_int_equal(cfg.env.board.n_ports, 1);
        assert_string_equal(cfg.env.board.ports[0].device, "/dev/ttyRIGHT");
        pvtap_config_free(&cfg);
    }
    assert_int_equal(chdir(cwd), 0);
}

/* Errors name the file and line the text came from, before, inside and
 * after an include, and for libconfig's own syntax errors too. */
static void test_file_line_through_includes(void **state)
{
    (void)state;
    write_file("inc-a.conf", "# line 1\nboard = {\n  name = 5;\n};\n");
    write_file("lines.conf",
               "site = {\n  colour = 1;\n};\n@include \"inc-a.conf\"\n\nbogus = 2;\n");
    struct pvtap_config cfg;
    char err[4096];
    int rc = load("lines.conf", &cfg, err, sizeof err);
    pvtap_config_free(&cfg);
    assert_int_equal(rc, PVTAP_ECONFIG);
    assert_non_null(strstr(err, "lines.conf:2: site.colour: unknown key"));
    assert_non_null(strstr(err, "/inc-a.conf:3: board.name: must be a string"));
    assert_non_null(strstr(err, "lines.conf:6: bogus: unknown key"));

    write_file("inc-syntax.conf", "board = {\n  name = \"x\"\n  mirror = ;\n};\n");
    write_file("syntax.conf", "site = { timezone = \"UTC\"; };\n@include \"inc-syntax.conf\"\n");
    expect_error("syntax.conf", "/inc-syntax.conf:3: syntax:");

    write_file("open-string.conf", "site = {\n  name = \"home;\n};\n");
    expect_error("open-string.conf", "open-string.conf:2: this string is not closed");
}

/* An @include inside a string or a comment is text, not an include. */
static void test_include_in_comment_is_text(void **state)
{
    (void)state;
    write_file("comment.conf", "/* old:\n@include \"no-such-file.conf\"\n*/\n"
                               "site = { name = \"a\n@include \\\"x\\\"\"; };\n");
    struct pvtap_config cfg;
    char err[4096];
    int rc = load("comment.conf", &cfg, err, sizeof err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.env.site.name, "a\n@include \"x\"");
    pvtap_config_free(&cfg);
}

/* A FIFO (as an include or as the config itself) and a device are refused
 * at once: reading them would block the daemon's main thread. */
static void test_only_regular_files(void **state)
{
    (void)state;
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/fifo.conf", g_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    write_file("fifo-inc.conf", "site = { timezone = \"UTC\"; };\n@include \"fifo.conf\"\n");
    expect_error("fifo-inc.conf", "fifo-inc.conf:2: @include \"fifo.conf\" (");
    expect_error("fifo-inc.conf", "is a FIFO: only a regular file is read");
    expect_error("fifo.conf", "fifo.conf: is a FIFO: only a regular file is read");

    write_file("dev-inc.conf", "\n\n@include \"/dev/zero\"\n");
    expect_error("dev-inc.conf", "dev-inc.conf:3: @include \"/dev/zero\": is a character device");
    write_file("dir-inc.conf", "@include \"/tmp\"\n");
    expect_error("dir-inc.conf", "dir-inc.conf:1: @include \"/tmp\": is a folder");
}

static void test_size_bounds(void **state)
{
    (void)state;
    write_big("big.conf", CFG_FILE_MAX_BYTES + 1);
    expect_error("big.conf", "big.conf: is larger than 1048576 bytes (1024 KiB)");
    write_big("fits.conf", CFG_FILE_MAX_BYTES);
    struct pvtap_config cfg;
    char err[4096];
    assert_int_equal(load("fits.conf", &cfg, err, sizeof err), 0);
    pvtap_config_free(&cfg);

    write_file("big-inc.conf", "site = { timezone = \"UTC\"; };\n@include \"big.conf\"\n");
    expect_error("big-inc.conf", "big-inc.conf:2: @include \"big.conf\" (");
    expect_error("big-inc.conf", "is larger than 1048576 bytes");

    /* Each file fits, the three together do not. */
    write_file("three.conf",
               "@include \"fits.conf\"\n@include \"fits.conf\"\n@include \"fits.conf\"\n");
    expect_error("three.conf", "the config with its includes is larger than 2097152 bytes");
}

static void test_include_depth_count_cycle(void **state)
{
    (void)state;
    /* d0 includes d1 ... includes d9: nine levels below the top. */
    for (int i = 0; i <= 9; i++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "d%d.conf", i);
        if (i < 9)
            snprintf(text, sizeof text, "# level %d\n@include \"d%d.conf\"\n", i, i + 1);
        else
            snprintf(text, sizeof text, "# the bottom\n");
        write_file(name, text);
    }
    expect_error("d0.conf", "d8.conf:2: @include \"d9.conf\": includes nested more than 8 deep");
    struct pvtap_config cfg;
    char err[4096];
    assert_int_equal(load("d1.conf", &cfg, err, sizeof err), 0); /* eight deep: fine */
    pvtap_config_free(&cfg);

    char text[4096] = "";
    for (int i = 0; i <= CFG_INCLUDE_MAX_FILES; i++)
        strcat(text, "@include \"d9.conf\"\n");
    write_file("many.conf", text);
    expect_error("many.conf", "many.conf:65: @include \"d9.conf\": more than 64 includes in all");

    write_file("loop-a.conf", "@include \"loop-b.conf\"\n");
    write_file("loop-b.conf", "\n@include \"loop-a.conf\"\n");
    expect_error("loop-a.conf", "loop-b.conf:2: @include \"loop-a.conf\": includes itself");
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/pvtap-test-config-text-XXXXXX");
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
        cmocka_unit_test(test_include_resolves_from_including_folder),
        cmocka_unit_test(test_file_line_through_includes),
        cmocka_unit_test(test_include_in_comment_is_text),
        cmocka_unit_test(test_only_regular_files),
        cmocka_unit_test(test_size_bounds),
        cmocka_unit_test(test_include_depth_count_cycle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
