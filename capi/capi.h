/* Private declarations shared by the cgo preamble and errors.c. */
#ifndef PQC_CAPI_PRIVATE_H
#define PQC_CAPI_PRIVATE_H
#include <stddef.h>

#define PQC_ERROR_DETAIL_MAX 512

/* Hidden: only the Go side of this library calls it. */
__attribute__((visibility("hidden"))) void capi_set_last_error(const char *msg,
                                                             size_t len);
#endif
