/* Planted bugs: proves a Sanitize build really reports what ASan and UBSan
 * should. Built only in the Sanitize build type; tests/check-sanitized and
 * ctest (sanitizer/check_sanitized) expect each mode to be caught. Never part of pvtap. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* volatile and argv-driven so no compiler can prove the bug away */
static int overflow_heap(size_t n)
{
    char *p = malloc(n);
    if (!p)
        return 1;
    memset(p, 'x', n);
    volatile char c = p[n]; /* one past the end: heap-buffer-overflow */
    free(p);
    return c == 'x';
}

static int use_after_free(size_t n)
{
    char *p = malloc(n);
    if (!p)
        return 1;
    p[0] = 1;
    free(p);
    volatile char c = p[0]; /* heap-use-after-free */
    return c;
}

static int signed_overflow(int x)
{
    volatile int y = x + INT_MAX; /* signed integer overflow for x > 0 */
    return y < 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: planted_bugs heap-overflow|use-after-free|signed-overflow\n");
        return 2;
    }
    size_t n = 16 + (size_t)(argc - 2);
    if (strcmp(argv[1], "heap-overflow") == 0)
        return overflow_heap(n);
    if (strcmp(argv[1], "use-after-free") == 0)
        return use_after_free(n);
    if (strcmp(argv[1], "signed-overflow") == 0)
        return signed_overflow(argc);
    fprintf(stderr, "planted_bugs: unknown mode %s\n", argv[1]);
    return 2;
}
