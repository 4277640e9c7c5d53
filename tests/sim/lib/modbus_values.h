/* Reads a virtual device's values from a file: `key=value` lines or one flat
 * JSON object, so tests can set exact values (and change them while running). */
#ifndef PVSIM_MODBUS_VALUES_H
#define PVSIM_MODBUS_VALUES_H

#include <stddef.h>

/* Called once per key with the value as text (JSON strings unquoted, no
 * escapes beyond \" and \\). Returns 0, or -1 for an unknown key or bad value. */
typedef int (*values_set_fn)(void *ctx, const char *key, const char *value);

/* Parses text (n bytes). Returns 0, or -1 and a message in err (errcap bytes)
 * naming the line and key. */
int values_parse(const char *text, size_t n, values_set_fn set, void *ctx, char *err, size_t errcap);
/* Reads and parses a file (at most 64 KiB). */
int values_load_file(const char *path, values_set_fn set, void *ctx, char *err, size_t errcap);

/* Strict number parsing for setters: the whole string must be a number. */
int values_double(const char *s, double *out);
int values_u32(const char *s, unsigned long *out, unsigned long max);

#endif
