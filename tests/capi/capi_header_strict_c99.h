#ifndef FILEAIO_TESTS_CAPI_HEADER_STRICT_C99_H
#define FILEAIO_TESTS_CAPI_HEADER_STRICT_C99_H

/* Defined in capi_header_strict_c99.c (built with no feature-test macro). Returns the number
 * of checks that failed; 0 means the header's types and constants behave as C99 expects. */
int capi_header_strict_c99_check(void);

#endif
