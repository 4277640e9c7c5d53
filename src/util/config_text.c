/* Reads a config and its @includes into one bounded text (regular files only, never blocking),
 * keeping a line map back to FILE:LINE. libconfig 1.5 cannot do this itself: it resolves a
 * relative @include from the working directory (or one fixed include_dir), opens includes
 * with fopen() (a FIFO blocks the reader), bounds nothing, and wraps big integer literals. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/config.h"
#include "util/config_text.h"
#include "util/err.h"
#include "util/grow.h"

enum { PATH_SIZE = 4096, NAME_SIZE = 64 };

struct loader {
    struct cfg_text *t;
    size_t n_includes;
    bool too_big; /* CFG_TEXT_MAX_BYTES reached: said once, nothing more is added */
    struct {
        dev_t dev;
        ino_t ino;
    } chain[CFG_INCLUDE_MAX_DEPTH + 1]; /* the files being read, outermost first */
};

/* What the lexer is inside of, and the last key name seen (for messages). */
struct lexer {
    enum { LX_CODE, LX_STRING, LX_COMMENT } state;
    unsigned opened_line; /* where the string or comment began */
    char name[NAME_SIZE];
};

static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Messages about a file are "WHERE: " + text, WHERE being the top file, or
 * the including FILE:LINE for an include. */
static void say(const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const char *file, unsigned line, const char *fmt, ...)
{
    if (line)
        fprintf(stderr, "%s:%u: ", file, line);
    else
        fprintf(stderr, "%s: ", file);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The whole of path, if it is a regular file within the bounds. The mode is
 * looked at before opening (opening some devices does things) and again on
 * the open descriptor (the name may have changed in between); O_NONBLOCK
 * keeps even that open from waiting for a FIFO's writer. Problems are
 * reported at where_file:where_line (0: the top file itself) after what. */
static int read_bounded(const char *path, const char *where_file, unsigned where_line,
                        const char *what, char **out, size_t *out_len, struct stat *st)
{
    *out = NULL;
    struct stat pre;
    int fd = -1;
    if (stat(path, &pre) != 0 ||
        (S_ISREG(pre.st_mode) &&
         (fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0)) {
        say(where_file, where_line, "%scannot read %s: %s", what, where_line ? "it" : "the config",
            strerror(errno));
        return where_line ? PVTAP_ECONFIG : PVTAP_EIO;
    }
    if (fd < 0 || fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        say(where_file, where_line, "%sis %s: only a regular file is read as a config", what,
            file_kind(fd < 0 ? pre.st_mode : st->st_mode));
        if (fd >= 0)
            close(fd);
        return PVTAP_ECONFIG;
    }
    int rc = 0;
    size_t cap = (size_t)st->st_size + 1, n = 0;
    char *buf = NULL;
    if (st->st_size > CFG_FILE_MAX_BYTES)
        rc = PVTAP_ELIMIT;
    else if (!(buf = malloc(cap + 1)))
        rc = PVTAP_ENOMEM;
    /* Read until EOF, but never past the bound: the file may grow. */
    while (rc == 0) {
        if (n == cap) {
            if (cap > CFG_FILE_MAX_BYTES) {
                rc = PVTAP_ELIMIT;
                break;
            }
            size_t ncap =
                cap * 2 > (size_t)CFG_FILE_MAX_BYTES + 1 ? (size_t)CFG_FILE_MAX_BYTES + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = PVTAP_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            say(where_file, where_line, "%sread error: %s", what, strerror(errno));
            rc = PVTAP_EIO;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc == 0 && memchr(buf, '\0', n)) {
        say(where_file, where_line, "%sholds a NUL byte: not a text file", what);
        rc = PVTAP_ECONFIG;
    }
    if (rc == PVTAP_ELIMIT)
        say(where_file, where_line,
            "%sis larger than %d bytes (%d KiB), the most a config file may be", what,
            CFG_FILE_MAX_BYTES, CFG_FILE_MAX_BYTES / 1024);
    if (rc < 0) {
        free(buf);
        return rc == PVTAP_ENOMEM ? rc : PVTAP_ECONFIG;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

static int emit(struct loader *L, const char *s, size_t n)
{
    struct cfg_text *t = L->t;
    if (L->too_big)
        return PVTAP_ECONFIG;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *nt = realloc(t->text, cap);
        if (!nt)
            return PVTAP_ENOMEM;
        t->text = nt;
        t->cap = cap;
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = '\0';
    return 0;
}

/* Ends an output line that came from line of file. */
static int end_line(struct loader *L, uint32_t file, unsigned line)
{
    struct cfg_source_map *m = &L->t->map;
    if (L->t->len + 1 > CFG_TEXT_MAX_BYTES && !L->too_big) {
        say(m->files[file], line, "the config with its includes is larger than %d bytes (%d KiB)",
            CFG_TEXT_MAX_BYTES, CFG_TEXT_MAX_BYTES / 1024);
        L->too_big = true;
    }
    int rc = emit(L, "\n", 1);
    if (rc < 0)
        return rc;
    if (GROW(&m->lines, &m->cap_lines, m->n_lines, 1024) < 0)
        return PVTAP_ENOMEM;
    m->lines[m->n_lines++] = (struct cfg_line_origin){file, line};
    return 0;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '*';
}

static bool starts_number(const char *p, const char *end)
{
    size_t left = (size_t)(end - p);
    if (isdigit((unsigned char)p[0]))
        return true;
    if (p[0] == '.')
        return left > 1 && isdigit((unsigned char)p[1]);
    if (p[0] == '+' || p[0] == '-')
        return left > 1 && (isdigit((unsigned char)p[1]) ||
                            (p[1] == '.' && left > 2 && isdigit((unsigned char)p[2])));
    return false;
}

/* One number token at p: a float is copied, an integer checked against the
 * 64-bit range and copied with the suffix L. Returns its length, or -1
 * (reported) when it is out of range. */
static long number(struct loader *L, const struct lexer *lx, const char *p, const char *end,
                   const char *file, unsigned line, int *rc)
{
    const char *q = p;
    if (*q == '+' || *q == '-')
        q++;
    bool hex =
        q + 2 < end && q[0] == '0' && (q[1] == 'x' || q[1] == 'X') && isxdigit((unsigned char)q[2]);
    if (hex)
        for (q += 2; q < end && isxdigit((unsigned char)*q); q++)
            ;
    else
        while (q < end && isdigit((unsigned char)*q))
            q++;
    if (!hex && q < end && (*q == '.' || *q == 'e' || *q == 'E')) { /* a float */
        while (q < end && (isdigit((unsigned char)*q) || *q == '.' || *q == 'e' || *q == 'E' ||
                           ((*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E'))))
            q++;
        *rc = emit(L, p, (size_t)(q - p));
        return q - p;
    }
    size_t digits = (size_t)(q - p);
    bool suffixed = q < end && *q == 'L';
    char buf[80];
    bool ok = digits < sizeof buf;
    if (ok) {
        memcpy(buf, p, digits);
        buf[digits] = '\0';
        errno = 0;
        if (hex) {
            unsigned long long v = strtoull(buf + (buf[0] == '+' || buf[0] == '-'), NULL, 16);
            ok = errno == 0 && v <= (unsigned long long)INT64_MAX && buf[0] != '-';
        } else {
            (void)strtoll(buf, NULL, 10);
            ok = errno == 0;
        }
    }
    if (!ok) {
        if (cfg_key_is_secret(lx->name))
            say(file, line, "%s: the integer is beyond the 64-bit range", lx->name);
        else
            say(file, line, "%s: %.*s is beyond the 64-bit integer range",
                lx->name[0] ? lx->name : "(value)", (int)digits, p);
        *rc = PVTAP_ECONFIG;
        return -1;
    }
    if (suffixed) {
        q++;
        if (q < end && *q == 'L')
            q++;
    }
    *rc = emit(L, p, (size_t)(q - p));
    if (*rc == 0 && !suffixed)
        *rc = emit(L, "L", 1);
    return q - p;
}

/* Copies the part [p, end) of one line, tracking strings and comments. */
static int lex_line(struct loader *L, struct lexer *lx, const char *p, const char *end,
                    const char *file, unsigned line)
{
    int rc = 0, bad = 0;
    while (p < end && rc >= 0) {
        char c = *p;
        size_t left = (size_t)(end - p);
        if (lx->state == LX_STRING) {
            size_t n = c == '\\' && left > 1 ? 2 : 1;
            if (c == '"')
                lx->state = LX_CODE;
            rc = emit(L, p, n);
            p += n;
        } else if (lx->state == LX_COMMENT) {
            size_t n = c == '*' && left > 1 && p[1] == '/' ? 2 : 1;
            if (n == 2)
                lx->state = LX_CODE;
            rc = emit(L, p, n);
            p += n;
        } else if (c == '#' || (c == '/' && left > 1 && p[1] == '/')) {
            rc = emit(L, p, left);
            p = end;
        } else if (c == '"' || (c == '/' && left > 1 && p[1] == '*')) {
            lx->state = c == '"' ? LX_STRING : LX_COMMENT;
            lx->opened_line = line;
            rc = emit(L, p, c == '"' ? 1 : 2);
            p += c == '"' ? 1 : 2;
        } else if (isalpha((unsigned char)c) || c == '*') {
            const char *q = p;
            while (q < end && is_name_char(*q))
                q++;
            size_t n = (size_t)(q - p) < NAME_SIZE ? (size_t)(q - p) : NAME_SIZE - 1;
            memcpy(lx->name, p, n);
            lx->name[n] = '\0';
            rc = emit(L, p, (size_t)(q - p));
            p = q;
        } else if (starts_number(p, end)) {
            long n = number(L, lx, p, end, file, line, &rc);
            if (n < 0) { /* reported: skip the token, go on for more errors */
                bad = PVTAP_ECONFIG;
                rc = 0;
                for (n = 1; p + n < end && isalnum((unsigned char)p[n]); n++)
                    ;
            }
            p += n;
        } else {
            rc = emit(L, p, 1);
            p++;
        }
    }
    return rc < 0 ? rc : bad;
}

/* `@include "path"` at the start of a line (libconfig's rule): the path's
 * bounds and the rest of the line, or false. */
static bool is_include(const char *p, const char *end, const char **path, size_t *path_len,
                       const char **rest)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    static const char kw[] = "@include";
    if ((size_t)(end - p) < sizeof kw || memcmp(p, kw, sizeof kw - 1) != 0)
        return false;
    p += sizeof kw - 1;
    if (*p != ' ' && *p != '\t')
        return false;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p != '"')
        return false;
    const char *q = ++p;
    while (q < end && *q != '"')
        q++;
    *path = p;
    *path_len = (size_t)(q - p);
    *rest = q < end ? q + 1 : NULL; /* NULL: no closing quote */
    return true;
}

static int add_file(struct cfg_source_map *m, const char *path, uint32_t *index)
{
    if (GROW(&m->files, &m->cap_files, m->n_files, 8) < 0)
        return PVTAP_ENOMEM;
    char *copy = strdup(path);
    if (!copy)
        return PVTAP_ENOMEM;
    *index = (uint32_t)m->n_files;
    m->files[m->n_files++] = copy;
    return 0;
}

static int expand(struct loader *L, uint32_t file, const char *text, size_t len, size_t depth);

/* The file that `@include "name"` at file:line names, expanded in place. */
static int include(struct loader *L, uint32_t file, unsigned line, const char *name,
                   size_t name_len, size_t depth)
{
    const char *from = L->t->map.files[file];
    char shown[PATH_SIZE];
    snprintf(shown, sizeof shown, "%.*s", (int)name_len, name);
    if (name_len == 0 || memchr(name, '\\', name_len)) {
        say(from, line, "@include \"%s\": give a plain file name (no escapes)", shown);
        return PVTAP_ECONFIG;
    }
    if (++L->n_includes > CFG_INCLUDE_MAX_FILES) {
        say(from, line, "@include \"%s\": more than %d includes in all", shown,
            CFG_INCLUDE_MAX_FILES);
        return PVTAP_ECONFIG;
    }
    if (depth + 1 > CFG_INCLUDE_MAX_DEPTH) {
        say(from, line, "@include \"%s\": includes nested more than %d deep", shown,
            CFG_INCLUDE_MAX_DEPTH);
        return PVTAP_ECONFIG;
    }
    /* Relative to the folder of the including file, as that file names it. */
    char path[PATH_SIZE];
    const char *slash = strrchr(from, '/');
    int w = name[0] == '/' || !slash
                ? snprintf(path, sizeof path, "%s", shown)
                : snprintf(path, sizeof path, "%.*s%s", (int)(slash + 1 - from), from, shown);
    if (w < 0 || (size_t)w >= sizeof path) {
        say(from, line, "@include \"%s\": the path is too long", shown);
        return PVTAP_ECONFIG;
    }
    char *body = NULL;
    size_t body_len = 0;
    struct stat st;
    char what[2 * PATH_SIZE + 32];
    if (strcmp(path, shown) == 0)
        snprintf(what, sizeof what, "@include \"%s\": ", shown);
    else
        snprintf(what, sizeof what, "@include \"%s\" (%s): ", shown, path);
    int rc = read_bounded(path, from, line, what, &body, &body_len, &st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i <= depth; i++)
        if (L->chain[i].dev == st.st_dev && L->chain[i].ino == st.st_ino) {
            say(from, line, "@include \"%s\": includes itself (through %s)", shown, path);
            free(body);
            return PVTAP_ECONFIG;
        }
    uint32_t index;
    rc = add_file(&L->t->map, path, &index);
    if (rc == 0) {
        L->chain[depth + 1].dev = st.st_dev;
        L->chain[depth + 1].ino = st.st_ino;
        rc = expand(L, index, body, body_len, depth + 1);
    }
    free(body);
    return rc;
}

static int expand(struct loader *L, uint32_t file, const char *text, size_t len, size_t depth)
{
    struct lexer lx = {LX_CODE, 0, ""};
    const char *p = text, *end = text + len;
    unsigned line = 1;
    int bad = 0;
    for (; p < end && !L->too_big; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *name, *rest = p;
        size_t name_len;
        int rc = 0;
        if (lx.state == LX_CODE && is_include(p, eol, &name, &name_len, &rest)) {
            if (!rest) {
                say(L->t->map.files[file], line, "@include: the file name has no closing quote");
                rc = PVTAP_ECONFIG;
                rest = eol;
            } else {
                rc = include(L, file, line, name, name_len, depth);
            }
        }
        if (rc == PVTAP_ENOMEM)
            return rc;
        if (rc < 0)
            bad = PVTAP_ECONFIG;
        /* The rest of an @include line (a comment, usually) stays on its
         * own line after the included text, mapped to the @include line. */
        rc = lex_line(L, &lx, rest, eol, L->t->map.files[file], line);
        if (rc == PVTAP_ENOMEM)
            return rc;
        if (rc < 0)
            bad = PVTAP_ECONFIG;
        if ((rc = end_line(L, file, line)) == PVTAP_ENOMEM)
            return rc;
        p = eol < end ? eol + 1 : end;
    }
    if (lx.state != LX_CODE && !L->too_big) {
        say(L->t->map.files[file], lx.opened_line, "this %s is not closed by the end of the file",
            lx.state == LX_STRING ? "string" : "/* comment");
        bad = PVTAP_ECONFIG;
    }
    return L->too_big ? PVTAP_ECONFIG : bad;
}

int cfg_text_load(const char *path, struct cfg_text *t)
{
    memset(t, 0, sizeof *t);
    struct loader L = {.t = t};
    char *body = NULL;
    size_t len = 0;
    struct stat st;
    int rc = read_bounded(path, path, 0, "", &body, &len, &st);
    if (rc < 0)
        return rc;
    uint32_t index;
    rc = add_file(&t->map, path, &index);
    if (rc == 0) {
        L.chain[0].dev = st.st_dev;
        L.chain[0].ino = st.st_ino;
        rc = expand(&L, index, body, len, 0);
    }
    free(body);
    if (rc == 0 && !t->text)
        rc = emit(&L, "", 0); /* an empty file is an empty config */
    return rc;
}

void cfg_text_free(struct cfg_text *t)
{
    for (size_t i = 0; i < t->map.n_files; i++)
        free(t->map.files[i]);
    free(t->map.files);
    free(t->map.lines);
    free(t->text);
    memset(t, 0, sizeof *t);
}

int cfg_text_origin(const struct cfg_source_map *map, unsigned line, const char **file,
                    int *file_line)
{
    if (!map || map->n_lines == 0)
        return 0;
    size_t i = line == 0 ? 0 : line - 1;
    if (i >= map->n_lines)
        i = map->n_lines - 1;
    *file = map->files[map->lines[i].file];
    *file_line = (int)map->lines[i].line;
    return 1;
}
