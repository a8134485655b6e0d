//! Architecture graphs built from diffusers/transformers configs.
