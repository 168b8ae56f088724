/*
 * The version a program can ask for at run time is the library's, and it agrees with the header
 * macros of the same release (CMake keeps those equal to project(VERSION)).
 */
#include <fileaio/fileaio.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    int failures = 0;
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", FILEAIO_VERSION_MAJOR, FILEAIO_VERSION_MINOR,
             FILEAIO_VERSION_PATCH);
    const char *runtime = fileaio_version();
    if (runtime == NULL || strcmp(runtime, FILEAIO_VERSION_STRING) != 0 || strcmp(runtime, expected) != 0 ||
        strcmp(runtime, FILEAIO_PROJECT_VERSION) != 0) {
        fprintf(stderr, "version_test: fileaio_version() is \"%s\", the header says \"%s\" (%s), CMake %s\n",
                runtime ? runtime : "(null)", FILEAIO_VERSION_STRING, expected, FILEAIO_PROJECT_VERSION);
        ++failures;
    }
    if (fileaio_version_number() != FILEAIO_VERSION_NUMBER ||
        FILEAIO_VERSION_NUMBER != FILEAIO_VERSION_MAJOR * 10000 + FILEAIO_VERSION_MINOR * 100 + FILEAIO_VERSION_PATCH) {
        fprintf(stderr, "version_test: fileaio_version_number() is %u, FILEAIO_VERSION_NUMBER %d\n",
                (unsigned)fileaio_version_number(), FILEAIO_VERSION_NUMBER);
        ++failures;
    }
    if (failures == 0) printf("version_test: passed: library %s (%u)\n", runtime, (unsigned)fileaio_version_number());
    return failures == 0 ? 0 : 1;
}
