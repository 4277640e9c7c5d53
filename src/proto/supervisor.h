/* The supervisor's upload body (docs/protocol.md 1): lines of TAB-separated fields -> records. */
#ifndef PVTAP_PROTO_SUPERVISOR_H
#define PVTAP_PROTO_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PVS_MAX_FIELDS = 64 }; /* fields after the message number; the widest known is 14 */

struct pvs_span {
    const char *p; /* borrowed from the body; not NUL-terminated */
    size_t len;
};

/* One body line. Borrowed for the duration of the callback. */
struct pvs_record {
    int msg;                 /* the message number (first field) */
    size_t n_fields;         /* fields after the message number, empty ones included */
    struct pvs_span field[PVS_MAX_FIELDS];
    bool has_time;           /* time_s is valid (see pvs_decode_body) */
    int64_t time_s;          /* UTC seconds */
    size_t line_no;          /* 1-based line in the body */
};

/* Named fields of the records pvtap interprets (130 inverter, 140 meter):
 * the JSON key, whether its text is printed as a number, and its position.
 * Positions are the defaults of docs/protocol.md's table; a site's config may
 * move them (pvs_layout_set). */
enum pvs_key {
    PVS_TIME, PVS_SERIAL, PVS_MODEL,
    PVS_ENERGY_LIFETIME_KWH, PVS_POWER_KW, PVS_VOLTAGE_V, PVS_CURRENT_A, PVS_DC_POWER_KW,
    PVS_DC_VOLTAGE_V, PVS_DC_CURRENT_A, PVS_TEMPERATURE_C, PVS_FREQUENCY_HZ, PVS_STATUS,
    PVS_CT_SCALE, PVS_ENERGY_NET_LIFETIME_KWH, PVS_REACTIVE_KVAR, PVS_APPARENT_KVA,
    PVS_POWER_FACTOR,
    PVS_KEY_COUNT_
};

struct pvs_field_def {
    enum pvs_key key;
    const char *name; /* JSON key, e.g. "power_kW" */
    bool numeric;
};

/* The interpreted message layouts, in JSON output order. */
size_t pvs_layout_fields(int msg, const struct pvs_field_def **out); /* 0 for other messages */

struct pvs_layout {
    int8_t pos130[PVS_KEY_COUNT_]; /* field index per key, -1 when the message has no such key */
    int8_t pos140[PVS_KEY_COUNT_];
};

void pvs_layout_default(struct pvs_layout *l);
/* Move key `name` of message msg (130 or 140) to field index pos (0..63).
 * PVTAP_ENOTFOUND for an unknown message or key, PVTAP_EINVAL for a bad pos. */
int pvs_layout_set(struct pvs_layout *l, int msg, const char *name, int pos);
/* The field for a key of rec, or NULL when absent, empty or not in this layout. */
const struct pvs_span *pvs_field(const struct pvs_record *rec, const struct pvs_layout *l,
                                 enum pvs_key key);
/* The field as a number: PVTAP_ENOTFOUND when absent/empty, PVTAP_ECORRUPT when not numeric. */
int pvs_field_number(const struct pvs_record *rec, const struct pvs_layout *l, enum pvs_key key,
                     double *out);

struct pvs_counts {
    uint64_t lines;     /* non-empty lines */
    uint64_t records;   /* lines handed to on_record */
    uint64_t bad_lines; /* no message number, or more than PVS_MAX_FIELDS fields */
    uint64_t bad_times; /* a record whose time field is not a YYYYmmddHHMMSS stamp */
};

/* Split body (LF or CRLF lines, a last line without LF accepted, fields
 * separated by exactly one TAB, empty fields kept) into records, calling
 * on_record for each in order. Times: 100 -> field 3 (send time); 102 -> the
 * body's 100 send time; 130/140 -> the layout's time field; any other
 * message -> field 0 when it is a stamp. Pure. Returns the number of records. */
size_t pvs_decode_body(const char *body, size_t len, const struct pvs_layout *layout,
                       void (*on_record)(void *ctx, const struct pvs_record *rec), void *ctx,
                       struct pvs_counts *counts);

/* Is text a JSON number (RFC 8259 section 6)? "2.6042" yes, ".5", "+1", "007" no. */
bool pvs_is_json_number(const char *text, size_t len);

/* A growable output buffer for the formatters (caller frees buf). */
struct pvs_out {
    char *buf;
    size_t len, cap;
    bool failed; /* an allocation failed: the text is incomplete */
};
void pvs_out_reset(struct pvs_out *o);
void pvs_out_free(struct pvs_out *o);

/* The record as one JSON object (the README's sniff jsonl keys), no newline. */
void pvs_record_json(const struct pvs_record *rec, const struct pvs_layout *l, struct pvs_out *o);
/* msg TAB time(ISO, or empty) TAB field0 TAB field1 ... (raw fields), no newline. */
void pvs_record_tsv(const struct pvs_record *rec, struct pvs_out *o);

#endif
