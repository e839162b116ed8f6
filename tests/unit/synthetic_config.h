/*
 * synthetic_config.h — the model config of the unit tests' synthetic models: a small NCSN++
 * VE (the ve_ncsnpp_skip fixture's scheme, 2 levels, Fourier embedding: module 0 is W [nf]).
 * Shared by test_model.c (the loader, which edits it field by field) and test_net_errors.c
 * (clsde_net_create against tensors that do not match it).
 */
#ifndef CLSDE_SYNTHETIC_CONFIG_H
#define CLSDE_SYNTHETIC_CONFIG_H

static const char synthetic_config[] =
    "{\"training\": {\"sde\": \"vesde\", \"continuous\": true, \"batch_size\": 128},"
    " \"sampling\": {\"method\": \"pc\", \"predictor\": \"reverse_diffusion\","
    "   \"corrector\": \"langevin\", \"snr\": 0.16, \"n_steps_each\": 1,"
    "   \"noise_removal\": true, \"probability_flow\": false},"
    " \"data\": {\"dataset\": \"CIFAR10\", \"image_size\": 16, \"num_channels\": 3,"
    "   \"centered\": false},"
    " \"model\": {\"name\": \"ncsnpp\", \"sigma_min\": 0.01, \"sigma_max\": 50,"
    "   \"num_scales\": 1000, \"beta_min\": 0.1, \"beta_max\": 20.0, \"dropout\": 0.1,"
    "   \"embedding_type\": \"fourier\", \"scale_by_sigma\": true, \"nonlinearity\": \"swish\","
    "   \"nf\": 16, \"ch_mult\": [1, 2], \"num_res_blocks\": 1, \"attn_resolutions\": [8],"
    "   \"resamp_with_conv\": true, \"conditional\": true, \"fir\": true,"
    "   \"fir_kernel\": [1, 3, 3, 1], \"skip_rescale\": true, \"resblock_type\": \"biggan\","
    "   \"progressive\": \"output_skip\", \"progressive_input\": \"input_skip\","
    "   \"progressive_combine\": \"sum\", \"fourier_scale\": 16, \"conv_size\": 3}}";

#endif /* CLSDE_SYNTHETIC_CONFIG_H */
