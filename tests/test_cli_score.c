/*
 * test_cli_score.c - `recur lm score` and `recur lm rescore` end to end: runs
 * each case of tests/cli_lm_score.sh (from the repository root, or
 * $RECUR_TESTS_DIR) against the built program (BUILD/recur beside this test,
 * or $RECUR_BIN), so that the cases also run under the sanitizers.  The
 * cases: a line's score against `recur lm eval` of that line as a file, the
 * file's totals as the sum of its lines, batched against one at a time,
 * output order, JSON Lines, character models, interpolation with an n-gram
 * model against `recur ngram eval`, answers streaming back line by line, bad
 * input; rescoring a hand-made n-best list, --tune on a toy list with a
 * known best weight, malformed n-best and reference lines.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
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

static char g_bin[4096], g_script[4096], g_dir[256];

static void run_case(const char *name)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s' '%s' %s", g_script, g_bin, g_dir, name);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("case %s failed (status %d)", name, WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
}

#define CASE(name)                                                                                                     \
    static void test_##name(void **state)                                                                              \
    {                                                                                                                  \
        (void)state;                                                                                                   \
        run_case(#name);                                                                                               \
    }
CASE(eval_agreement)
CASE(json)
CASE(char_model)
CASE(interpolate)
CASE(streaming)
CASE(bad_input)
CASE(rescore_known)
CASE(tune)
CASE(malformed)

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/recur_test_cli_score_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *env = getenv("RECUR_BIN");
    if (env && *env) {
        snprintf(g_bin, sizeof g_bin, "%s", env);
    } else { /* BUILD/tests/test_cli_score -> BUILD/recur */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", argv[0]);
        snprintf(g_bin, sizeof g_bin, "%s/recur", dirname(dirname(tmp)));
    }
    const char *dir = getenv("RECUR_TESTS_DIR");
    snprintf(g_script, sizeof g_script, "%s/cli_lm_score.sh", dir && *dir ? dir : "tests");
    /* the script works inside its folder: absolute paths */
    char abs[PATH_MAX];
    if (realpath(g_bin, abs))
        snprintf(g_bin, sizeof g_bin, "%s", abs);
    if (realpath(g_script, abs))
        snprintf(g_script, sizeof g_script, "%s", abs);
    /* a sanitizer report in the program must not pass for an expected exit 1 */
    setenv("ASAN_OPTIONS", "exitcode=99", 0);
    if (access(g_bin, X_OK) != 0 || access(g_script, R_OK) != 0) {
        fprintf(stderr, "test_cli_score: needs %s and %s (run from the repository root, or set RECUR_BIN and "
                        "RECUR_TESTS_DIR)\n", g_bin, g_script);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_agreement), cmocka_unit_test(test_json),
        cmocka_unit_test(test_char_model),     cmocka_unit_test(test_interpolate),
        cmocka_unit_test(test_streaming),      cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_rescore_known),  cmocka_unit_test(test_tune),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
