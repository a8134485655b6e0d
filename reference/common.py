"""Shared helpers for the wgsd reference scripts: load the JSON configs in reference/configs/ and build
random-weight diffusers / transformers models from them (the model hub is never contacted)."""
import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

REF_DIR = Path(__file__).resolve().parent
REPO_DIR = REF_DIR.parent
CONFIG_DIR = REF_DIR / "configs"

# Config-only metadata keys that are not constructor arguments.
_META_KEYS = ("_class_name", "_diffusers_version", "_name_or_path", "architectures", "transformers_version", "torch_dtype")


def load_config(arch: str, component: str) -> dict:
    with open(CONFIG_DIR / arch / f"{component}.json") as f:
        return json.load(f)


def build_unet(cfg: dict) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_config(cfg)


def build_vae(cfg: dict) -> AutoencoderKL:
    return AutoencoderKL.from_config(cfg)


def clip_config(cfg: dict) -> CLIPTextConfig:
    return CLIPTextConfig(**{k: v for k, v in cfg.items() if k not in _META_KEYS})


def build_text_encoder(cfg: dict):
    cls = CLIPTextModelWithProjection if cfg.get("architectures") == ["CLIPTextModelWithProjection"] else CLIPTextModel
    return cls(clip_config(cfg))


def build(component: str, cfg: dict):
    if component == "unet":
        return build_unet(cfg)
    if component == "vae":
        return build_vae(cfg)
    if component.startswith("text_encoder"):
        return build_text_encoder(cfg)
    raise ValueError(component)
