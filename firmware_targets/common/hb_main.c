/* Default firmware entry: bring up the target, then serve the protocol forever. */
#include "hb_dut.h"
#include "hb_hal.h"

int main(void)
{
    hb_hal_init();
    hb_dut_run();
    return 0;
}
