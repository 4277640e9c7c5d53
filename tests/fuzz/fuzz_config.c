/* libFuzzer target: arbitrary text as a config file through pvtap_config_load(). */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5 leaks a string token on some syntax errors (fixed upstream
 * in 1.7: hyperrealm/libconfig#142, PR #155): not ours, not reported. */
const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig.so\n";
}

static bool has(const uint8_t *data, size_t size, const char *s)
{
    return memmem(data, size, s, strlen(s)) != NULL;
}

/* Inputs that would make the loader read other files (includes, a time
 * zone named by path) test the file system, not the parser: skipped. Serial
 * port paths are only validated, never opened, by create(). */
static bool reaches_out(const uint8_t *data, size_t size)
{
    return has(data, size, "@include") || has(data, size, "..") ||
           (has(data, size, "zone") &&
            (has(data, size, "/dev") || has(data, size, "/proc") || has(data, size, "/sys")));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (reaches_out(data, size))
        return 0;
    char path[] = "/tmp/pvtap-fuzz-config-XXXXXX";
    int fd = mkstemp(path);
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
    /* Every error is printed: keep the fuzzer's output readable. */
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && null >= 0)
        dup2(null, STDERR_FILENO);
    struct pvtap_config cfg;
    int rc = pvtap_config_load(path, &cfg);
    if (rc == 0) {
        FILE *out = fopen("/dev/null", "w");
        if (out) {
            pvtap_config_dump(&cfg, out);
            fclose(out);
        }
    }
    pvtap_config_free(&cfg);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    if (null >= 0)
        close(null);
    unlink(path);
    return 0;
}
