/* A config file's text with its @includes expanded, bounded, and a map back to FILE:LINE. */
#ifndef PVTAP_UTIL_CONFIG_TEXT_H
#define PVTAP_UTIL_CONFIG_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on what a config may make pvtap read: a real one is a few KiB. */
enum {
    CFG_FILE_MAX_BYTES = 1024 * 1024,     /* one file (the top one or an include) */
    CFG_TEXT_MAX_BYTES = 2 * 1024 * 1024, /* everything, includes expanded */
    CFG_INCLUDE_MAX_DEPTH = 8,            /* a includes b includes c ... */
    CFG_INCLUDE_MAX_FILES = 64,           /* @include lines in all */
};

/* Line n (1-based) of the expanded text is line map.lines[n - 1].line of
 * file map.files[map.lines[n - 1].file]. */
struct cfg_source_map {
    char **files; /* [0] the top file as given, then each include as resolved */
    size_t n_files, cap_files;
    struct cfg_line_origin {
        uint32_t file;
        uint32_t line;
    } * lines;
    size_t n_lines, cap_lines;
};

struct cfg_text {
    char *text; /* NUL-terminated, ready for config_read_string() */
    size_t len, cap;
    struct cfg_source_map map;
};

/* Reads path and every file it @includes into one text:
 *  - a relative @include is resolved from the folder of the file that holds
 *    it (not the working directory), an absolute one is used as it is;
 *  - only regular files are read, opened with O_NONBLOCK, so a FIFO or a
 *    device is refused at once instead of blocking;
 *  - each file is at most CFG_FILE_MAX_BYTES, the whole at most
 *    CFG_TEXT_MAX_BYTES, includes at most CFG_INCLUDE_MAX_DEPTH deep and
 *    CFG_INCLUDE_MAX_FILES in all, and no file includes itself;
 *  - every integer literal gets libconfig's 64-bit suffix L (libconfig 1.5
 *    keeps a plain literal in an int, silently wrapping 4294969179 to
 *    1883), and one beyond 64 bits is refused.
 * Touches nothing but the files it reads (no chdir, no global state).
 * Problems are printed as FILE:LINE: what (or FILE: what for the top file).
 * Returns 0, PVTAP_EIO when the top file cannot be opened, PVTAP_ECONFIG
 * for any other problem, PVTAP_ENOMEM. t is zeroed first; free it with
 * cfg_text_free() whatever the result. */
int cfg_text_load(const char *path, struct cfg_text *t);
void cfg_text_free(struct cfg_text *t);

/* Where line (1-based, of the expanded text) came from; 0 when the map has
 * no such line (the last line is used for a line past the end). */
int cfg_text_origin(const struct cfg_source_map *map, unsigned line, const char **file,
                    int *file_line);

#endif
