/*
 * h100_props.h — the properties of an NVIDIA H100 that clsde's tiling defaults read, as its
 * OpenCL driver reports them: 132 compute units (bench-logs/2026-11-26-h100/devices.log),
 * float vector width 1 (the defaults' vn=1 in the tune logs there), 1024 work-items and
 * 48 KiB of local memory per group (BENCHMARKS.md "NVIDIA H200", the same driver). For
 * tests of the GPU code paths on a CPU device: set them on a context's info, run what
 * reads them, put the real info back.
 */
#ifndef CLSDE_TESTS_H100_PROPS_H
#define CLSDE_TESTS_H100_PROPS_H

#include "clsde.h"

static inline void h100_props(clsde_device_info *d)
{
    d->type = CLSDE_DEVICE_GPU;
    d->compute_units = 132;
    d->preferred_vector_width_float = 1;
    d->max_work_group_size = 1024;
    d->local_mem_bytes = 48 * 1024;
}

#endif
