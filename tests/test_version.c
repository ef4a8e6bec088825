/*
 * test_version.c - the version macros of recur.h agree with each other and
 * with recur_version(), the version the library was built as.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "recur.h"

static void test_version(void **state)
{
    (void)state;
    char parts[64];
    snprintf(parts, sizeof parts, "%d.%d.%d", RECUR_VERSION_MAJOR, RECUR_VERSION_MINOR, RECUR_VERSION_PATCH);
    assert_string_equal(parts, RECUR_VERSION);
    assert_non_null(recur_version());
    assert_string_equal(recur_version(), RECUR_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
