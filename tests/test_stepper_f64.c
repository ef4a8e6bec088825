/* The stepper test against the double-precision build (-DRECUR_DOUBLE,
 * librecur64.a), with a tolerance of 1e-12.  Note: make does not track this
 * #include; after editing test_stepper.c, `touch tests/test_stepper_f64.c`. */
#include "test_stepper.c"
