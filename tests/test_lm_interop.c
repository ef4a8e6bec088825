/*
 * test_lm_interop.c - runs tests/lm_interop.py (recur's language-model files
 * against PyTorch in both directions, perplexities within 1e-4 relative)
 * under /usr/bin/python3 with the recur program beside this test, so that
 * `make check` covers it.  Skipped when python3 or torch is missing.
 */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char g_cmd[8192];

static void test_interop(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0 || access("tests/lm_interop.py", R_OK) != 0) {
        fprintf(stderr, "SKIP test_interop: needs /usr/bin/python3 and tests/lm_interop.py "
                        "(run from the repository root)\n");
        skip();
    }
    int status = system(g_cmd);
    assert_true(status != -1 && WIFEXITED(status));
    int rc = WEXITSTATUS(status);
    if (rc == 77) {
        fprintf(stderr, "SKIP test_interop: torch is not installed for /usr/bin/python3\n");
        skip();
    }
    assert_int_equal(rc, 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    char tmp[4096], bin[4200];
    const char *env = getenv("RECUR_BIN");
    if (env && *env) {
        snprintf(bin, sizeof bin, "%s", env);
    } else {
        snprintf(tmp, sizeof tmp, "%s", argv[0]);
        snprintf(bin, sizeof bin, "%s/recur", dirname(dirname(tmp)));
    }
    snprintf(g_cmd, sizeof g_cmd, "/usr/bin/python3 tests/lm_interop.py '%s'", bin);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_interop)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
