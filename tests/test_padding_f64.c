/* The padding test against the double-precision build (-DRECUR_DOUBLE,
 * librecur64.a), with a tolerance of 1e-11.  Note: make does not track this
 * #include; after editing test_padding.c, `touch tests/test_padding_f64.c`. */
#include "test_padding.c"
