/*
 * Which kernel set a build uses, decided once for the kernels and for the generated weight
 * arrays (hb_model_data.c lays some filters out for the DSP inner loops, see hb_dot.h).
 *
 * HB_DOT_USE_DSP: SXTB16/SMLAD inner loops, on cores with the Armv7E-M DSP extension
 * (__ARM_FEATURE_DSP: Cortex-M4, M7, M33, M55), unless the build defines HB_PORTABLE_KERNELS.
 * HB_EMULATE_DSP runs that path on any host, with the instructions written in C (tests).
 */
#ifndef HB_TARGET_H
#define HB_TARGET_H

#if !defined(HB_PORTABLE_KERNELS) && (defined(__ARM_FEATURE_DSP) || defined(HB_EMULATE_DSP))
#define HB_DOT_USE_DSP 1
#endif

#endif
