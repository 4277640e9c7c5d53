/* Subcommands: git-style dispatch and the helpers every command shares. */
#ifndef PVTAP_CLI_CLI_H
#define PVTAP_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every subcommand (the README's "Commands"). */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct cli_command {
    const char *name;    /* "sniff", "config" */
    const char *summary; /* one line for `pvtap --help` */
    int (*main)(int argc, char **argv); /* argv[0] is the command name */
};

/* Registered in cli/commands.def, in the order `pvtap --help` lists them. */
extern const struct cli_command cli_commands[];
const struct cli_command *cli_find(const char *name);

/* Every command's entry point, cmd_<name>_main, declared from the table. */
#define COMMAND(n, s) int cmd_##n##_main(int argc, char **argv);
#include "cli/commands.def"
#undef COMMAND

/* Entry point used by main.c. */
int cli_main(int argc, char **argv);

/* A usage error: prints "pvtap CMD: message" and a hint to stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* -c FILE: the path given, else /etc/pvtap/pvtap.conf when it exists, else NULL. */
const char *cli_config_path(const char *given);

/* A whole option value in [min, max]: decimal integer, or any finite number
 * for the double form. false for empty text, trailing junk or out of range. */
bool cli_parse_long(const char *s, long min, long max, long *out);
bool cli_parse_double(const char *s, double min, double max, double *out);

/* Format choice shared by the commands: "table" on a terminal, else the
 * command's default for pipes. */
bool cli_stdout_is_tty(void);

#endif
