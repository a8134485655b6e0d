"""diffusers -> original LDM/CompVis single-file key layout (`model.diffusion_model.*`,
`first_stage_model.*`, `cond_stage_model.*`), written from the two module trees
(ldm/modules/diffusionmodules/openaimodel.py + model.py, diffusers' UNet2DConditionModel/AutoencoderKL).

The mapping is driven by the diffusers config (number of levels, layers per block, which blocks have
attention), so it works for any SD1/SD2-style U-Net and VAE, not only for the tiny fixtures."""
import torch

# ResnetBlock2D (U-Net) -> openaimodel.ResBlock
_UNET_RESNET = {
    "norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection",
}
# ResnetBlock2D (VAE) -> model.ResnetBlock
_VAE_RESNET = {"norm1": "norm1", "conv1": "conv1", "norm2": "norm2", "conv2": "conv2", "conv_shortcut": "nin_shortcut"}
# Attention (VAE mid block) -> model.AttnBlock; LDM uses 1x1 convs, diffusers Linear layers
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _move(src: dict, dst: dict, src_prefix: str, dst_prefix: str, rename: dict | None = None) -> None:
    """Moves every key under src_prefix (e.g. 'down_blocks.0.resnets.1.') to dst_prefix, renaming the
    first path component(s) through `rename` when given (None: keep the rest of the name)."""
    for key in [k for k in src if k.startswith(src_prefix)]:
        rest = key[len(src_prefix):]
        if rename is not None:
            for old, new in sorted(rename.items(), key=lambda kv: -len(kv[0])):
                if rest.startswith(old + "."):
                    rest = new + rest[len(old):]
                    break
            else:
                raise KeyError(f"no LDM name for {key}")
        dst[dst_prefix + rest] = src.pop(key)


def unet_to_ldm(sd: dict, cfg: dict, prefix: str = "model.diffusion_model.") -> dict:
    sd, out = dict(sd), {}
    n_levels = len(cfg["block_out_channels"])
    layers = cfg.get("layers_per_block", 2)
    _move(sd, out, "time_embedding.linear_1.", prefix + "time_embed.0.")
    _move(sd, out, "time_embedding.linear_2.", prefix + "time_embed.2.")
    _move(sd, out, "conv_in.", prefix + "input_blocks.0.0.")
    # input_blocks: 1 conv_in, then per level `layers` (resnet[, attention]) blocks, then a downsampler
    for i, block_type in enumerate(cfg["down_block_types"]):
        for j in range(layers):
            k = 1 + i * (layers + 1) + j
            _move(sd, out, f"down_blocks.{i}.resnets.{j}.", f"{prefix}input_blocks.{k}.0.", _UNET_RESNET)
            if "CrossAttn" in block_type:
                _move(sd, out, f"down_blocks.{i}.attentions.{j}.", f"{prefix}input_blocks.{k}.1.")
        if i < n_levels - 1:
            _move(sd, out, f"down_blocks.{i}.downsamplers.0.conv.", f"{prefix}input_blocks.{(i + 1) * (layers + 1)}.0.op.")
    _move(sd, out, "mid_block.resnets.0.", prefix + "middle_block.0.", _UNET_RESNET)
    _move(sd, out, "mid_block.attentions.0.", prefix + "middle_block.1.")
    _move(sd, out, "mid_block.resnets.1.", prefix + "middle_block.2.", _UNET_RESNET)
    # output_blocks: per level `layers + 1` (resnet[, attention][, upsampler on the last]) blocks
    for i, block_type in enumerate(cfg["up_block_types"]):
        has_attn = "CrossAttn" in block_type
        for j in range(layers + 1):
            k = i * (layers + 1) + j
            _move(sd, out, f"up_blocks.{i}.resnets.{j}.", f"{prefix}output_blocks.{k}.0.", _UNET_RESNET)
            if has_attn:
                _move(sd, out, f"up_blocks.{i}.attentions.{j}.", f"{prefix}output_blocks.{k}.1.")
        if i < n_levels - 1:
            k = i * (layers + 1) + layers
            _move(sd, out, f"up_blocks.{i}.upsamplers.0.conv.", f"{prefix}output_blocks.{k}.{2 if has_attn else 1}.conv.")
    _move(sd, out, "conv_norm_out.", prefix + "out.0.")
    _move(sd, out, "conv_out.", prefix + "out.2.")
    assert not sd, f"unmapped U-Net keys: {list(sd)[:5]}"
    return out


def _vae_mid(sd: dict, out: dict, side: str, prefix: str) -> None:
    _move(sd, out, f"{side}.mid_block.resnets.0.", f"{prefix}{side}.mid.block_1.", _VAE_RESNET)
    _move(sd, out, f"{side}.mid_block.resnets.1.", f"{prefix}{side}.mid.block_2.", _VAE_RESNET)
    for key in [k for k in sd if k.startswith(f"{side}.mid_block.attentions.0.")]:
        rest = key[len(f"{side}.mid_block.attentions.0."):]
        module, param = rest.rsplit(".", 1)
        value = sd.pop(key)
        if module != "group_norm" and param == "weight":
            value = value[:, :, None, None]  # Linear [C, C] -> 1x1 conv [C, C, 1, 1]
        out[f"{prefix}{side}.mid.attn_1.{_VAE_ATTN[module]}.{param}"] = value


def vae_to_ldm(sd: dict, cfg: dict, prefix: str = "first_stage_model.") -> dict:
    sd, out = dict(sd), {}
    n_levels = len(cfg["block_out_channels"])
    layers = cfg.get("layers_per_block", 1)
    for side in ("encoder", "decoder"):
        _move(sd, out, f"{side}.conv_in.", f"{prefix}{side}.conv_in.")
        _vae_mid(sd, out, side, prefix)
        _move(sd, out, f"{side}.conv_norm_out.", f"{prefix}{side}.norm_out.")
        _move(sd, out, f"{side}.conv_out.", f"{prefix}{side}.conv_out.")
    for i in range(n_levels):
        for j in range(layers):
            _move(sd, out, f"encoder.down_blocks.{i}.resnets.{j}.", f"{prefix}encoder.down.{i}.block.{j}.", _VAE_RESNET)
        if i < n_levels - 1:
            _move(sd, out, f"encoder.down_blocks.{i}.downsamplers.0.conv.", f"{prefix}encoder.down.{i}.downsample.conv.")
    # the LDM decoder numbers its levels from the lowest resolution up: up.{n-1} runs first
    for i in range(n_levels):
        ldm_i = n_levels - 1 - i
        for j in range(layers + 1):
            _move(sd, out, f"decoder.up_blocks.{i}.resnets.{j}.", f"{prefix}decoder.up.{ldm_i}.block.{j}.", _VAE_RESNET)
        if i < n_levels - 1:
            _move(sd, out, f"decoder.up_blocks.{i}.upsamplers.0.conv.", f"{prefix}decoder.up.{ldm_i}.upsample.conv.")
    _move(sd, out, "quant_conv.", prefix + "quant_conv.")
    _move(sd, out, "post_quant_conv.", prefix + "post_quant_conv.")
    assert not sd, f"unmapped VAE keys: {list(sd)[:5]}"
    return out


def clip_to_ldm(sd: dict, max_positions: int, prefix: str = "cond_stage_model.transformer.text_model.") -> dict:
    """SD1: HF CLIPTextModel under `cond_stage_model.transformer.`; transformers-5 names lack the
    `text_model.` part, the LDM file has it. Adds the int64 `position_ids` buffer [1, 77] that the
    original SD1.x checkpoints carry."""
    out = {prefix + k: v for k, v in sd.items()}
    out[prefix + "embeddings.position_ids"] = torch.arange(max_positions, dtype=torch.int64)[None]
    return out


def clip_to_openclip(sd: dict, n_layers: int, extra: dict, prefix: str = "cond_stage_model.model.") -> dict:
    """SD2: OpenCLIP text tower names. q/k/v are fused into in_proj_[weight|bias] = cat(q, k, v).
    `extra` holds the OpenCLIP tensors diffusers does not use (the last resblock(s), text_projection,
    logit_scale), already in OpenCLIP names without the prefix."""
    sd, out = dict(sd), {}
    out[prefix + "token_embedding.weight"] = sd.pop("embeddings.token_embedding.weight")
    out[prefix + "positional_embedding"] = sd.pop("embeddings.position_embedding.weight")
    for i in range(n_layers):
        src, dst = f"encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
        for p in ("weight", "bias"):
            out[dst + f"attn.in_proj_{p}"] = torch.cat([sd.pop(src + f"self_attn.{x}_proj.{p}") for x in "qkv"])
        _move(sd, out, src + "self_attn.out_proj.", dst + "attn.out_proj.")
        _move(sd, out, src + "layer_norm1.", dst + "ln_1.")
        _move(sd, out, src + "layer_norm2.", dst + "ln_2.")
        _move(sd, out, src + "mlp.fc1.", dst + "mlp.c_fc.")
        _move(sd, out, src + "mlp.fc2.", dst + "mlp.c_proj.")
    _move(sd, out, "final_layer_norm.", prefix + "ln_final.")
    assert not sd, f"unmapped CLIP keys: {list(sd)[:5]}"
    out.update({prefix + k: v for k, v in extra.items()})
    return out


def openclip_unused(n_layers: int, d: int, ff: int, make) -> dict:
    """The OpenCLIP text tensors an SD2 checkpoint carries but SD2 does not use: the last resblock
    (index n_layers, e.g. 23 for SD2.x), `text_projection` [d, d] and `logit_scale` [] (OpenCLIP names,
    no prefix). `make(name, shape)` creates each tensor."""
    r = f"transformer.resblocks.{n_layers}."
    shapes = {
        r + "ln_1.weight": (d,), r + "ln_1.bias": (d,),
        r + "attn.in_proj_weight": (3 * d, d), r + "attn.in_proj_bias": (3 * d,),
        r + "attn.out_proj.weight": (d, d), r + "attn.out_proj.bias": (d,),
        r + "ln_2.weight": (d,), r + "ln_2.bias": (d,),
        r + "mlp.c_fc.weight": (ff, d), r + "mlp.c_fc.bias": (ff,),
        r + "mlp.c_proj.weight": (d, ff), r + "mlp.c_proj.bias": (d,),
        "text_projection": (d, d),
        "logit_scale": (),
    }
    return {k: make(k, s) for k, s in shapes.items()}


def schedule_buffers() -> dict:
    """The DDPM buffers the original checkpoints carry (scaled_linear 0.00085..0.012, 1000 steps), f32."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - betas, 0)
    prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    return {"betas": betas.float(), "alphas_cumprod": alphas_cumprod.float(), "alphas_cumprod_prev": prev.float()}


def ldm_checkpoint(kind: str, unet_sd: dict, unet_cfg: dict, vae_sd: dict, vae_cfg: dict, te_sd: dict, te_cfg,
                   make_unused) -> dict:
    """The whole single-file checkpoint (sorted keys). kind "sd1": CLIP under cond_stage_model.transformer;
    kind "sd2": OpenCLIP under cond_stage_model.model, plus openclip_unused(..., make_unused)."""
    ckpt = unet_to_ldm(unet_sd, unet_cfg) | vae_to_ldm(vae_sd, vae_cfg)
    if kind == "sd1":
        ckpt |= clip_to_ldm(te_sd, te_cfg.max_position_embeddings)
    elif kind == "sd2":
        n = te_cfg.num_hidden_layers
        ckpt |= clip_to_openclip(te_sd, n, openclip_unused(n, te_cfg.hidden_size, te_cfg.intermediate_size, make_unused))
    else:
        raise ValueError(kind)
    ckpt |= schedule_buffers()
    return dict(sorted(ckpt.items()))
