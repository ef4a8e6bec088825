/* The parity test against the double-precision build (-DRECUR_DOUBLE, librecur64.a),
 * with tight tolerances.  Note: make does not track this #include; after
 * editing test_parity.c, rebuild with `touch tests/test_parity_f64.c`. */
#include "test_parity.c"
