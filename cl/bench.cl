/*
 * bench.cl — kernels that exist only for `clsde bench` (src/bench.c), never for results.
 *   empty: does nothing; one work-item. Timing it gives the device's fixed cost per
 *          kernel launch (enqueue, scheduling, completion), the floor under every kernel.
 * No tuning parameters.
 */
__kernel void empty(__global float *unused)
{
    (void)unused;
}
