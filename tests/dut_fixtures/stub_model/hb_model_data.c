/* Constant "weights" of the stub model: w[i] = (i % 7) - 3, kept in flash like real weights. */
#include <stdint.h>

const int8_t hb_stub_weights[40] = {
    -3, -2, -1, 0, 1, 2, 3, -3, -2, -1, 0, 1, 2, 3, -3, -2, -1, 0, 1, 2,
    3, -3, -2, -1, 0, 1, 2, 3, -3, -2, -1, 0, 1, 2, 3, -3, -2, -1, 0, 1,
};
