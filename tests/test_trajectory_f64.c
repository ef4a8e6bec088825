/* The trajectory test against the double-precision build (-DRECUR_DOUBLE, librecur64.a),
 * with tight tolerances.  Note: make does not track this #include; after
 * editing test_trajectory.c, rebuild with `touch tests/test_trajectory_f64.c`. */
#include "test_trajectory.c"
