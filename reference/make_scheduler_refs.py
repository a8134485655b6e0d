"""Dumps diffusers' scheduler behaviour for wgsd's scheduler parity test.

For each scheduler config × sampler × step count it records the timesteps, the sigmas, and the result of
running the whole sampling loop on a small vector with a fixed fake model (so every step's arithmetic,
DPM-Solver's multistep state included, is checked), plus img2img's start (get_timesteps + add_noise).
Stochastic samplers get their per-step noise from a fixed list (randn_tensor is replaced).

Run: python reference/make_scheduler_refs.py  (writes tests/data/schedulers.json)
Versions: see reference/requirements.txt (diffusers 0.42.1, torch 2.15.0).
"""

import inspect
import json
import math
import pathlib

import numpy as np
import torch
import diffusers
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
)
from diffusers.schedulers import scheduling_euler_ancestral_discrete as ea_mod, scheduling_lcm as lcm_mod

SD15 = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
            prediction_type="epsilon", timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False, clip_sample=False)
CONFIGS = {
    "sd15": SD15,
    "sd21_v": dict(SD15, prediction_type="v_prediction"),
    "trailing": dict(SD15, timestep_spacing="trailing"),
    "linspace_linear": dict(SD15, timestep_spacing="linspace", beta_schedule="linear", beta_start=0.0001,
                            beta_end=0.02, steps_offset=0),
    "cosine": dict(SD15, beta_schedule="squaredcos_cap_v2"),
}
SAMPLERS = {
    "ddim": (DDIMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "euler_karras": (EulerDiscreteScheduler, {"use_karras_sigmas": True}),
    "euler-a": (EulerAncestralDiscreteScheduler, {}),
    "dpm++2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpm++2m_karras": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2,
                                                     "use_karras_sigmas": True}),
    "lcm": (LCMScheduler, {}),
}
DIM = 8


def fake_model(sample, t):
    """A deterministic stand-in for the U-Net; wgsd's test computes the same."""
    return torch.tanh(sample) * 0.7 + 0.1 * float(t) / 1000.0


def fixed_noise(k):
    g = np.random.default_rng(1000 + k)
    return g.standard_normal(DIM).astype(np.float32)


def run(cls, cfg, extra, steps, strength=None):
    keys = set(inspect.signature(cls.__init__).parameters)
    sched = cls(**{k: v for k, v in {**cfg, **extra}.items() if k in keys})
    sched.set_timesteps(steps)
    timesteps = sched.timesteps
    start = 0
    x0 = torch.from_numpy(np.linspace(-1.5, 1.5, DIM).astype(np.float32))
    noise0 = torch.from_numpy(fixed_noise(999))
    if strength is not None:
        init = min(int(steps * strength), steps)
        start = max(steps - init, 0)
        timesteps = timesteps[start * sched.order:]
        if hasattr(sched, "set_begin_index"):
            sched.set_begin_index(start * sched.order)
        sample = sched.add_noise(x0, noise0, timesteps[:1])
    else:
        sample = noise0 * sched.init_noise_sigma
    start_sample = sample.clone()
    counter = {"k": 0}

    def noise_source(shape, **kw):
        counter["k"] += 1
        return torch.from_numpy(fixed_noise(counter["k"] - 1)).reshape(shape)

    ea_mod.randn_tensor = noise_source
    lcm_mod.randn_tensor = noise_source
    for t in timesteps:
        model_in = sched.scale_model_input(sample, t)
        out = fake_model(model_in, t)
        sample = sched.step(out, t, sample).prev_sample
    sigmas = getattr(sched, "sigmas", None)
    return {
        "timesteps": [float(t) for t in timesteps],
        "all_timesteps": [float(t) for t in sched.timesteps],
        "sigmas": [float(s) for s in sigmas] if sigmas is not None and cls is not DDIMScheduler and cls is not LCMScheduler else [],
        "init_noise_sigma": float(sched.init_noise_sigma),
        "start_sample": start_sample.tolist(),
        "final_sample": sample.tolist(),
        "noise_draws": counter["k"],
    }


def main():
    cases = []
    for cname, cfg in CONFIGS.items():
        for sname, (cls, extra) in SAMPLERS.items():
            for steps in (20, 7, 4):
                # diffusers 0.42.1 cannot step DPM-Solver with Karras sigmas on the cosine schedule
                # (fractional timesteps break its step index), and LCM is only distilled on SD's schedule.
                if cname == "cosine" and sname in ("lcm", "dpm++2m_karras"):
                    continue
                cases.append({"config": cname, "sampler": sname, "steps": steps, "strength": None,
                              **run(cls, cfg, extra, steps)})
            if sname in ("ddim", "euler", "dpm++2m", "euler-a"):
                cases.append({"config": cname, "sampler": sname, "steps": 10, "strength": 0.6,
                              **run(cls, cfg, extra, 10, strength=0.6)})
    out = {
        "generator": "reference/make_scheduler_refs.py",
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "configs": CONFIGS,
        "noise_start": fixed_noise(999).tolist(),
        "noise_steps": [fixed_noise(k).tolist() for k in range(20)],
        "cases": cases,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "schedulers.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
