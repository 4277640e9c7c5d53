/* One formatter for interval rows (csv, jsonl, table), shared by replay, intervals and the web API.
 */
#ifndef PVTAP_CLI_INTERVAL_FORMAT_H
#define PVTAP_CLI_INTERVAL_FORMAT_H

#include <stdio.h>

#include "engine/engine.h"

enum interval_format { IFMT_CSV, IFMT_JSONL, IFMT_TABLE };

/* "csv", "jsonl", "table" -> *out; PVTAP_EINVAL otherwise. */
int interval_format_parse(const char *s, enum interval_format *out);

/* The header line (csv: exactly the README's; table: column titles;
 * jsonl: nothing). */
void interval_format_header(FILE *out, enum interval_format f);
/* One row: energies rounded by R1 ("%.1f", empty / null when absent). */
void interval_format_row(FILE *out, enum interval_format f, const struct interval_row *r);
/* The same; the table shows the interval's end in tz's local time with the
 * zone's abbreviation ("2017-06-07 09:05 PDT"; NULL tz: UTC). CSV and JSON
 * lines stay UTC ISO 8601 whatever tz is. */
struct tz;
void interval_format_row_tz(FILE *out, enum interval_format f, const struct interval_row *r,
                            const struct tz *tz);

/* An energy as printed: "%.1f" of engine_round_wh(), into buf. */
void interval_format_wh(double wh, char *buf, size_t size);

#endif
