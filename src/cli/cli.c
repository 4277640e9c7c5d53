/* pvtap's git-style dispatch: `pvtap SUB [options]`, `pvtap --help`, `--version`. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvtap_build.h"
#include "util/config.h"
#include "util/log.h"

const struct cli_command cli_commands[] = {
#define COMMAND(n, s) {#n, s, cmd_##n##_main},
#include "cli/commands.def"
#undef COMMAND
    {NULL, NULL, NULL},
};

const struct cli_command *cli_find(const char *name)
{
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void print_help(FILE *out)
{
    fprintf(out, "usage: pvtap [--version] [--help] COMMAND [ARGS...]\n\n"
                 "Reads a SunPower site two ways (sniffed supervisor uploads, RS-485\n"
                 "meters and inverters) into 5-minute intervals.\n\n"
                 "commands:\n");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\n'pvtap COMMAND --help' describes each command.\n"
                 "Exit status: 0 ok, 1 runtime failure, 2 usage or config error.\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pvtap%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'pvtap%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return EXIT_USAGE;
}

const char *cli_config_path(const char *given)
{
    if (given)
        return given;
    if (access(PVTAP_DEFAULT_CONFIG, F_OK) == 0)
        return PVTAP_DEFAULT_CONFIG;
    return NULL;
}

bool cli_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno == ERANGE || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_double(const char *s, double min, double max, double *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    double v = strtod(s, &end);
    if (*end || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

bool cli_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO) != 0;
}

int cli_main(int argc, char **argv)
{
    log_init(LOGL_INFO);
    if (argc < 2)
        return cli_usage_error(NULL, "a command is needed");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        if (strcmp(sub, "help") == 0 && argc > 2) {
            const struct cli_command *c = cli_find(argv[2]);
            if (!c)
                return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
            char *help_argv[] = {(char *)c->name, "--help", NULL};
            return c->main(2, help_argv);
        }
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(sub, "--version") == 0 || strcmp(sub, "-V") == 0) {
        printf("pvtap %s\n", PVTAP_VERSION);
        return EXIT_OK;
    }
    if (sub[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", sub);
    const struct cli_command *c = cli_find(sub);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", sub);
    /* getopt_long keeps state across calls; each command parses from scratch. */
    optind = 0;
    return c->main(argc - 1, argv + 1);
}
