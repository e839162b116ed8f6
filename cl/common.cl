/*
 * common.cl — helpers shared by every kernel file; the program builder prepends it
 * (there is no #include between .cl files). Keep it small: it is compiled into
 * every program.
 */

/* Logistic function, accurate (no native_ or half_ variants: the spec asks for
 * float32-faithful results). */
inline float clsde_sigmoid(float x)
{
    return 1.0f / (1.0f + exp(-x));
}

inline float clsde_silu(float x)
{
    return x / (1.0f + exp(-x));
}
