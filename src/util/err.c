/* Text for pvtap's error codes. */
#include "util/err.h"

const char *pvtap_strerror(int err)
{
    switch (err) {
    case PVTAP_OK: return "success";
    case PVTAP_ENOMEM: return "out of memory";
    case PVTAP_EINVAL: return "invalid argument";
    case PVTAP_ECONFIG: return "configuration error";
    case PVTAP_EIO: return "input/output error";
    case PVTAP_ETRUNC: return "truncated input";
    case PVTAP_ECORRUPT: return "corrupt input";
    case PVTAP_ENOTMINE: return "not this format";
    case PVTAP_ELIMIT: return "limit reached";
    case PVTAP_ETIMEOUT: return "timed out";
    case PVTAP_ECRC: return "checksum mismatch";
    case PVTAP_ENOTFOUND: return "not found";
    case PVTAP_EAGAIN: return "try again";
    case PVTAP_EBUSY: return "busy";
    case PVTAP_EDB: return "store error";
    case PVTAP_EUNSUPPORTED: return "not supported";
    }
    return "unknown error";
}
