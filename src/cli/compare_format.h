/* `pvtap compare`'s builder, shared by the CLI and the web API (/api/compare). */
#ifndef PVTAP_CLI_COMPARE_FORMAT_H
#define PVTAP_CLI_COMPARE_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/interval_format.h"

struct store;
struct tz;

/* A series name that may be printed unescaped: letters, digits and -_.@,
 * shorter than ENGINE_SERIES_MAX. */
bool compare_series_name_ok(const char *s);

/* Series an and bn of st with from <= interval_end < to, lined up: the
 * header and one line per interval to out, then the summary to summary_out
 * (csv: "# " lines; jsonl: one {"summary":...} object; table: text). Daily
 * totals use tz's local dates (NULL: UTC). Returns 0 or a PVTAP_E* code. */
int compare_write(struct store *st, const struct tz *tz, const char *an, const char *bn,
                  int64_t from, int64_t to, enum interval_format fmt, FILE *out,
                  FILE *summary_out);

#endif
