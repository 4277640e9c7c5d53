/* One error convention for the whole code base: 0 ok, a negative PVTAP_E* on failure. */
#ifndef PVTAP_UTIL_ERR_H
#define PVTAP_UTIL_ERR_H

/* Decoders tell "not mine" (PVTAP_ENOTMINE) from "mine but corrupt"
 * (PVTAP_ECORRUPT) and "need more bytes" (PVTAP_ETRUNC): callers count each. */
enum pvtap_err {
    PVTAP_OK = 0,
    PVTAP_ENOMEM = -1,   /* allocation failed */
    PVTAP_EINVAL = -2,   /* bad argument or value */
    PVTAP_ECONFIG = -3,  /* configuration error (already reported with file:line) */
    PVTAP_EIO = -4,      /* I/O error: see errno or the log */
    PVTAP_ETRUNC = -5,   /* input ends before the structure does */
    PVTAP_ECORRUPT = -6, /* input is ours but violates the format */
    PVTAP_ENOTMINE = -7, /* input is not of this format */
    PVTAP_ELIMIT = -8,   /* a hard limit was hit (size, count) */
    PVTAP_ETIMEOUT = -9, /* no answer in time */
    PVTAP_ECRC = -10,    /* checksum mismatch */
    PVTAP_ENOTFOUND = -11,
    PVTAP_EAGAIN = -12,  /* nothing ready now; try later */
    PVTAP_EBUSY = -13,   /* another master or owner holds the resource */
    PVTAP_EDB = -14,     /* the store failed (SQLite) */
    PVTAP_EUNSUPPORTED = -15,
};

/* Static text for an error code; never NULL. */
const char *pvtap_strerror(int err);

#endif
