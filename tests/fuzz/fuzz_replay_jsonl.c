/* libFuzzer target: a .jsonl readings file through `pvtap replay` (its line parser is static). */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Point fd at /dev/null; returns the saved descriptor (or -1). */
static int silence(int fd)
{
    int saved = dup(fd);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && null >= 0)
        dup2(null, fd);
    if (null >= 0)
        close(null);
    return saved;
}

static void restore(int fd, int saved)
{
    if (saved < 0)
        return;
    dup2(saved, fd);
    close(saved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/pvtap-fuzz-replay-XXXXXX.jsonl";
    int fd = mkstemps(path, 6);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    /* An empty config (defaults, UTC) and no store: the run is hermetic.
     * The config must be a regular file (/dev/null is refused): one empty
     * file, made once. The intervals go to stdout and the complaints to
     * stderr: both muted. */
    static char cfg[] = "/tmp/pvtap-fuzz-replay-XXXXXX.conf";
    static bool cfg_made;
    if (!cfg_made) {
        int cfd = mkstemps(cfg, 5);
        if (cfd < 0)
            abort();
        close(cfd);
        cfg_made = true;
    }
    char *argv[] = {"replay", "-c", cfg, "--no-db", "--format", "jsonl", path, NULL};
    fflush(stdout);
    fflush(stderr);
    int out = silence(STDOUT_FILENO), err = silence(STDERR_FILENO);
    int rc = cmd_replay_main(7, argv);
    fflush(stdout);
    fflush(stderr);
    restore(STDOUT_FILENO, out);
    restore(STDERR_FILENO, err);
    unlink(path);
    /* Bad lines are skipped (exit 1), never a usage error. */
    if (rc != EXIT_OK && rc != EXIT_RUNTIME)
        abort();
    return 0;
}
