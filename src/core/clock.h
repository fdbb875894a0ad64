/* Wall-clock time in whole seconds since the epoch. */
#ifndef PLUGAUTH_CLOCK_H
#define PLUGAUTH_CLOCK_H

#include <stdint.h>

/* Seconds since the epoch (CLOCK_REALTIME). */
int64_t clk_now_s(void);

#endif
