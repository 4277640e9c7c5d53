/* libFuzzer target: TZif bytes, POSIX TZ strings and CLI times into util/timeutil. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every lookup a caller may make, over a spread of instants. */
static void exercise(const struct tz *tz)
{
    struct local_time lt;
    for (int64_t t = -5000000000; t < 5000000000; t += 97654321) {
        tz_to_local(tz, t, &lt);
        (void)tz_local_date(tz, t);
    }
    tz_to_local(tz, INT64_MIN, &lt);
    tz_to_local(tz, INT64_MAX, &lt);
    for (int m = 1; m <= 12; m++)
        (void)tz_from_local(tz, 2040, m, 1 + m, m, 30, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;
    struct tz *tz = NULL;
    if (mode == 0) {
        if (tz_parse_tzif(data, size, "fuzz", &tz) == 0) {
            exercise(tz);
            tz_free(tz);
        }
        return 0;
    }
    /* The string forms want a NUL-terminated copy. */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (mode == 1) {
        if (tz_parse_posix(s, &tz) == 0) {
            exercise(tz);
            tz_free(tz);
        }
    } else {
        int64_t t;
        (void)time_parse_cli(s, NULL, 1496852400, &t);
        (void)time_parse_iso_utc(s, &t);
        (void)time_parse_compact_utc(s, size, &t);
    }
    free(s);
    return 0;
}
