/* The simulator's end of a pty pair that behaves like an RS-485 line: raw
 * bytes, wire timing at a given baud, FTDI-like batching, silence framing. */
#ifndef PVSIM_PTY_LINE_H
#define PVSIM_PTY_LINE_H

#include <stddef.h>
#include <stdint.h>

struct pty_line {
    int master;              /* our end: we read what clients send, write what devices say */
    int slave_keep;          /* held open so the master never sees EIO/hangup between clients */
    char slave_path[128];
    char *link_path;         /* symlink we created (caller's --link), removed on close; owned */
    unsigned baud;
    unsigned bits_per_char;  /* 10 for 8N1, 11 for 8E1/8O1 */
    unsigned batch_ms;       /* 0: bytes one by one at wire speed; N: FTDI-like bursts every N ms */
    uint64_t bytes_dropped;  /* bytes nobody read (the slave's input queue was full) */
};

/* Opens the pair, puts it in raw mode at `baud` with `parity` 'N', 'E' or 'O',
 * and, when link_path is not NULL, points a symlink there at the slave.
 * Returns 0 or -errno; on failure nothing stays open. */
int pty_line_open(struct pty_line *l, const char *link_path, unsigned baud, char parity,
                  unsigned batch_ms);
/* Writes the slave path and a newline to `path` (via a temporary file and
 * rename, so a reader never sees half of it). 0 or -errno. */
int pty_line_write_ready_file(const struct pty_line *l, const char *path);
void pty_line_close(struct pty_line *l);

/* Wire time of one character, and the Modbus RTU inter-frame silence
 * (3.5 characters; a fixed 1750 us above 19200 baud, Modbus over serial line
 * V1.02 section 2.5.1.1). */
uint64_t pty_line_char_ns(const struct pty_line *l);
uint64_t pty_line_t35_ns(const struct pty_line *l);

/* Sends n bytes as a UART would: byte i reaches the reader when its last bit
 * would have (start + (i+1) char times), or at the next batch tick when
 * batching. `start_ns` is CLOCK_MONOTONIC; 0 means now. Returns the monotonic
 * time the last byte ended on the wire. Bytes the reader has no room for are
 * dropped and counted, as on a bus nobody listens to. */
uint64_t pty_line_send(struct pty_line *l, const uint8_t *p, size_t n, uint64_t start_ns);

/* Non-blocking read of what clients sent: >0 bytes, 0 nothing, -errno. */
long pty_line_read(struct pty_line *l, uint8_t *buf, size_t cap);

/* Monotonic clock and absolute sleeps, in ns. */
uint64_t pty_now_ns(void);
void pty_sleep_until(uint64_t t_ns);

/* A seeded, deterministic generator for the fault knobs (splitmix64). */
struct pty_rng {
    uint64_t state;
};
void pty_rng_seed(struct pty_rng *r, uint64_t seed);
uint64_t pty_rng_next(struct pty_rng *r);
/* Uniform in [0, 1). */
double pty_rng_unit(struct pty_rng *r);
/* True with probability p (p <= 0 never draws, so a run without faults keeps
 * the same random sequence for everything else). */
int pty_rng_chance(struct pty_rng *r, double p);

#endif
