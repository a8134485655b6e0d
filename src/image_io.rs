//! Images in and out of `wgsd generate`: the VAE's `[3, H, W]` tensors ↔ RGB8 pixels as diffusers'
//! `VaeImageProcessor` converts them, image files in, PNGs out (atomically, with AUTOMATIC1111's
//! "parameters" text), and PSNR for comparing runs.
//!
//! Example usage:
//!
//! ```
//! use wgsd::image_io::{from_decoded, to_model_input};
//!
//! // [3, 1, 2] VAE output in [-1, 1] → RGB8 → back to the VAE's input range
//! let img = from_decoded(&[-1.0, 1.0, 0.0, 0.0, 1.0, -1.0], 2, 1)?;
//! assert_eq!(img.pixels, [0, 128, 255, 255, 128, 0]);
//! assert_eq!(to_model_input(&img, 2, 1)?[0], -1.0);
//! # Ok::<(), wgsd::Error>(())
//! ```

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// An 8-bit RGB image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `[H, W, 3]` bytes, row-major, R G B per pixel.
    pub pixels: Vec<u8>,
}

/// `3 · width · height` as a `usize`, or `None` when it overflows.
fn rgb_len(width: u32, height: u32) -> Option<usize> {
    (width as usize)
        .checked_mul(height as usize)?
        .checked_mul(3)
}

/// Checks that `img` is non-empty and holds exactly `3 · width · height` bytes; `what` names it in the
/// error.
fn check_image(img: &RgbImage, what: &str) -> Result<()> {
    if img.width == 0 || img.height == 0 {
        return Err(Error::Invalid(format!(
            "{what}: image is {}x{}; both sides must be at least 1",
            img.width, img.height
        )));
    }
    match rgb_len(img.width, img.height) {
        Some(n) if n == img.pixels.len() => Ok(()),
        _ => Err(Error::Invalid(format!(
            "{what}: a {}x{} RGB image needs {} bytes but has {}",
            img.width,
            img.height,
            3 * img.width as u128 * img.height as u128,
            img.pixels.len()
        ))),
    }
}

/// One VAE output value → one byte (see [`from_decoded`]): diffusers' `denormalize` in torch, then
/// `numpy_to_pil`'s `(x * 255).round().astype("uint8")`. NaN, undefined in numpy's cast, gives 0.
fn decoded_to_u8(v: f32) -> u8 {
    if v.is_nan() {
        return 0;
    }
    let x = (v / 2.0 + 0.5).clamp(0.0, 1.0);
    (x * 255.0).round_ties_even() as u8
}

/// The VAE decoder's output `[3, H, W]` in [-1, 1] → an RGB8 image, exactly as diffusers'
/// `VaeImageProcessor.postprocess(output_type="pil")` computes it in f32: `x = (v / 2 + 0.5).clamp(0, 1)`,
/// then `(x * 255).round()` with numpy's round half to even: -0.4 gives 0.3 · 255 = 76.5 exactly in
/// f32, which becomes 76, not 77. NaN → 0; ±∞ clamp.
///
/// Fails when `chw` does not hold `3 · height · width` values.
pub fn from_decoded(chw: &[f32], width: u32, height: u32) -> Result<RgbImage> {
    let Some(n) = rgb_len(width, height).filter(|&n| n == chw.len() && n > 0) else {
        return Err(Error::Invalid(format!(
            "decoded image: {} values for [3, {height}, {width}]; expected {}",
            chw.len(),
            3 * width as u128 * height as u128
        )));
    };
    let plane = n / 3;
    let mut pixels = vec![0u8; n];
    for (i, px) in pixels.chunks_exact_mut(3).enumerate() {
        for (c, byte) in px.iter_mut().enumerate() {
            *byte = decoded_to_u8(chw[c * plane + i]);
        }
    }
    Ok(RgbImage {
        width,
        height,
        pixels,
    })
}

/// An image → the VAE encoder's input `[3, height, width]` in [-1, 1], as diffusers'
/// `VaeImageProcessor.preprocess` computes it for img2img: `2 · (v / 255) - 1` in f32, so 0 → -1 and
/// 255 → 1.
///
/// An image that is not `width`×`height` is first resized with `image`'s Lanczos3 filter. diffusers
/// resizes with PIL's Lanczos, so a resized input is close to diffusers' but not bit-identical; an
/// image already at the target size is.
pub fn to_model_input(img: &RgbImage, width: u32, height: u32) -> Result<Vec<f32>> {
    check_image(img, "init image")?;
    if width == 0 || height == 0 {
        return Err(Error::Invalid(format!(
            "init image: target size {width}x{height}; both sides must be at least 1"
        )));
    }
    let n = rgb_len(width, height).ok_or_else(|| {
        Error::Invalid(format!(
            "init image: target size {width}x{height} is too large"
        ))
    })?;
    let resized;
    let pixels: &[u8] = if (img.width, img.height) == (width, height) {
        &img.pixels
    } else {
        let src = image::RgbImage::from_raw(img.width, img.height, img.pixels.clone()).ok_or_else(
            || {
                Error::Invalid(format!(
                    "init image: {}x{} pixels do not fit",
                    img.width, img.height
                ))
            },
        )?;
        resized =
            image::imageops::resize(&src, width, height, image::imageops::FilterType::Lanczos3);
        resized.as_raw()
    };
    let plane = n / 3;
    let mut chw = vec![0f32; n];
    for (i, px) in pixels.chunks_exact(3).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            chw[c * plane + i] = 2.0 * (v as f32 / 255.0) - 1.0;
        }
    }
    Ok(chw)
}

/// Reads an image file in any format `image` was built with (PNG, JPEG, WebP, BMP; detected from the
/// content, not the extension) as RGB8.
///
/// - An EXIF orientation is applied, as diffusers' `load_image` does with `exif_transpose`.
/// - Grey, palette and 16-bit images are converted; an alpha channel is dropped, not composited (PIL's
///   `convert("RGB")`).
/// - A missing, unreadable or undecodable file is an error naming `path`.
pub fn read_image(path: &Path) -> Result<RgbImage> {
    use image::ImageDecoder;

    let decode_error = |e: image::ImageError| match e {
        image::ImageError::IoError(e) => Error::io(path, e),
        other => Error::format(path, format!("cannot decode image: {other}")),
    };
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| Error::io(path, e))?;
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut decoded = image::DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    decoded.apply_orientation(orientation);
    let rgb = decoded.to_rgb8();
    let img = RgbImage {
        width: rgb.width(),
        height: rgb.height(),
        pixels: rgb.into_raw(),
    };
    check_image(&img, &path.display().to_string())?;
    Ok(img)
}

/// The generation settings recorded in an output PNG, as AUTOMATIC1111's infotext.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameters {
    /// The prompt, verbatim.
    pub prompt: String,
    /// The negative prompt; empty for none.
    pub negative_prompt: String,
    /// Denoising steps.
    pub steps: u32,
    /// wgsd's sampler name (`euler-a`, …); written as A1111's display name.
    pub sampler: String,
    /// A1111's "Schedule type" (`Karras`, …), written verbatim; `None` leaves it out.
    pub schedule: Option<String>,
    /// Classifier-free guidance scale.
    pub cfg_scale: f32,
    /// The seed of the initial noise.
    pub seed: u64,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The model's name.
    pub model: String,
    /// img2img strength; `None` for txt2img.
    pub denoising_strength: Option<f32>,
}

/// wgsd's sampler names and A1111's display names for them.
const A1111_SAMPLERS: [(&str, &str); 5] = [
    ("ddim", "DDIM"),
    ("euler", "Euler"),
    ("euler-a", "Euler a"),
    ("dpm++2m", "DPM++ 2M"),
    ("lcm", "LCM"),
];

/// A1111's display name of a wgsd sampler (`euler-a` → `Euler a`, `dpm++2m` → `DPM++ 2M`, `ddim` →
/// `DDIM`, `euler` → `Euler`, `lcm` → `LCM`); any other name is returned unchanged.
pub fn a1111_sampler_name(wgsd: &str) -> &str {
    A1111_SAMPLERS
        .iter()
        .find(|(w, _)| *w == wgsd)
        .map_or(wgsd, |(_, a)| a)
}

/// The inverse of [`a1111_sampler_name`]: `Euler a` → `euler-a`; any other name unchanged.
fn wgsd_sampler_name(a1111: &str) -> &str {
    A1111_SAMPLERS
        .iter()
        .find(|(_, a)| *a == a1111)
        .map_or(a1111, |(w, _)| w)
}

/// A value of the key-value line as A1111's `infotext_utils.quote` writes it: as a JSON string
/// (`json.dumps(ensure_ascii=False)`, which serde_json matches byte for byte) when it contains `,`, `\n`
/// or `:`, verbatim otherwise. wgsd also quotes a value that starts with `"` or starts or ends with
/// whitespace, which A1111's reader would otherwise unquote or trim.
fn quote(value: &str) -> String {
    let needs_quotes = value.contains([',', '\n', ':'])
        || value.starts_with('"')
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace);
    if needs_quotes {
        serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
    } else {
        value.to_string()
    }
}

impl Parameters {
    /// AUTOMATIC1111's "parameters" text (its infotext), as `processing.create_infotext` lays it out:
    ///
    /// ```text
    /// {prompt}
    /// Negative prompt: {negative_prompt}
    /// Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: name, Denoising strength: 0.75, Version: wgsd 0.1.0
    /// ```
    ///
    /// - The "Negative prompt:" line is left out when the negative prompt is empty, "Schedule type" and
    ///   "Denoising strength" when they are `None`.
    /// - The sampler is written as [`a1111_sampler_name`]; numbers as Rust prints them (7 → `7`, 7.5 →
    ///   `7.5`).
    /// - Values with `,` `:` or a newline are quoted as A1111 quotes them (see `quote`); the prompts
    ///   are never quoted.
    /// - The whole text is trimmed, as A1111's `.strip()` does.
    pub fn to_a1111(&self) -> String {
        let mut fields: Vec<(&str, String)> = vec![
            ("Steps", self.steps.to_string()),
            ("Sampler", a1111_sampler_name(&self.sampler).to_string()),
        ];
        if let Some(schedule) = &self.schedule {
            fields.push(("Schedule type", schedule.clone()));
        }
        fields.extend([
            ("CFG scale", self.cfg_scale.to_string()),
            ("Seed", self.seed.to_string()),
            ("Size", format!("{}x{}", self.width, self.height)),
            ("Model", self.model.clone()),
        ]);
        if let Some(strength) = self.denoising_strength {
            fields.push(("Denoising strength", strength.to_string()));
        }
        fields.push(("Version", format!("wgsd {}", env!("CARGO_PKG_VERSION"))));

        let line = fields
            .iter()
            .map(|(k, v)| format!("{k}: {}", quote(v)))
            .collect::<Vec<_>>()
            .join(", ");
        let negative = if self.negative_prompt.is_empty() {
            String::new()
        } else {
            format!("\nNegative prompt: {}", self.negative_prompt)
        };
        format!("{}{negative}\n{line}", self.prompt)
            .trim()
            .to_string()
    }
}

/// One `key: value` match of A1111's `re_param`,
/// `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`, at `start` of `line`: the key, the raw value
/// and where the match ends.
fn match_param(line: &[char], start: usize) -> Option<(String, String, usize)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = start;
    while i < line.len() && line[i].is_whitespace() {
        i += 1;
    }
    let key_start = i;
    if i >= line.len() || !is_word(line[i]) {
        return None;
    }
    i += 1;
    while i < line.len() && (is_word(line[i]) || matches!(line[i], ' ' | '-' | '/')) {
        i += 1;
    }
    if i - key_start < 2 || i >= line.len() || line[i] != ':' {
        return None;
    }
    let key: String = line[key_start..i].iter().collect();
    i += 1;
    while i < line.len() && line[i].is_whitespace() {
        i += 1;
    }
    // "(?:\\.|[^\\"])+" followed by `,` or the end
    if line.get(i) == Some(&'"') {
        let mut j = i + 1;
        while j < line.len() && line[j] != '"' {
            j += if line[j] == '\\' { 2 } else { 1 };
        }
        if j < line.len() && j > i + 1 && (j + 1 == line.len() || line[j + 1] == ',') {
            let value = line[i..=j].iter().collect();
            return Some((key, value, (j + 2).min(line.len())));
        }
    }
    // [^,]* followed by `,` or the end
    let mut j = i;
    while j < line.len() && line[j] != ',' {
        j += 1;
    }
    let value = line[i..j].iter().collect();
    Some((key, value, (j + 1).min(line.len())))
}

/// All `key: value` pairs of an infotext's last line, as A1111's `re_param.findall` and `unquote` read
/// them (a value in double quotes is JSON-decoded; one that does not decode is kept as written).
fn params_of_line(line: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match match_param(&chars, i) {
            Some((key, value, end)) => {
                let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                    serde_json::from_str::<String>(&value).unwrap_or(value)
                } else {
                    value
                };
                pairs.push((key, value));
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    pairs
}

/// Reads back an AUTOMATIC1111 "parameters" text, as A1111's `parse_generation_parameters` reads it.
///
/// - The last line holds the `key: value` pairs (it must have at least 3); the lines before it are the
///   prompt, up to a line starting with "Negative prompt:", then the negative prompt.
/// - Each prompt line is trimmed and a leading empty line is dropped, as in A1111, so whitespace at
///   the ends of prompt lines does not survive a round trip, nor does a prompt line that starts with
///   "Negative prompt:".
/// - Steps, Sampler, CFG scale, Seed and Size are required; Model defaults to empty; other keys (Model
///   hash, Clip skip, …) are ignored. The sampler is mapped back to wgsd's name where it is one of
///   [`a1111_sampler_name`]'s.
pub fn parse_a1111(text: &str) -> Result<Parameters> {
    let invalid = |message: String| Error::Invalid(format!("A1111 parameters: {message}"));
    let text = text.trim();
    let (head, last) = text.rsplit_once('\n').unwrap_or(("", text));
    let pairs = params_of_line(last);
    if pairs.len() < 3 {
        return Err(invalid(format!(
            "the last line has {} `key: value` pairs; expected Steps, Sampler, …",
            pairs.len()
        )));
    }

    let (mut prompt, mut negative_prompt) = (String::new(), String::new());
    let mut in_negative = false;
    for line in head.split('\n').filter(|_| !head.is_empty()) {
        let mut line = line.trim();
        if let Some(rest) = line.strip_prefix("Negative prompt:") {
            in_negative = true;
            line = rest.trim();
        }
        let target = if in_negative {
            &mut negative_prompt
        } else {
            &mut prompt
        };
        if !target.is_empty() {
            target.push('\n');
        }
        target.push_str(line);
    }

    let get = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let required = |key: &str| get(key).ok_or_else(|| invalid(format!("no {key}")));
    fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
        value.trim().parse().map_err(|_| {
            Error::Invalid(format!("A1111 parameters: {key} '{value}' is not a number"))
        })
    }
    let size = required("Size")?;
    let (width, height) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| invalid(format!("Size '{size}' is not WIDTHxHEIGHT")))?;
    Ok(Parameters {
        prompt,
        negative_prompt,
        steps: number("Steps", required("Steps")?)?,
        sampler: wgsd_sampler_name(required("Sampler")?).to_string(),
        schedule: get("Schedule type").map(str::to_string),
        cfg_scale: number("CFG scale", required("CFG scale")?)?,
        seed: number("Seed", required("Seed")?)?,
        width,
        height,
        model: get("Model").unwrap_or_default().to_string(),
        denoising_strength: get("Denoising strength")
            .map(|v| number("Denoising strength", v))
            .transpose()?,
    })
}

/// Numbers the temporary files of one process apart.
static TEMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Writes a file atomically: `write` fills `.{name}.tmp-{pid}-{n}` in `path`'s directory, which is
/// then flushed, fsynced and renamed over `path` (then the directory is fsynced, best effort, on Unix).
///
/// If anything fails the temporary file is removed and `path` is untouched. A missing directory is an
/// error naming it, and nothing is created.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<()>,
) -> Result<()> {
    let Some(name) = path.file_name() else {
        return Err(Error::Invalid(format!(
            "{}: not a file path",
            path.display()
        )));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::Invalid(format!(
                "{}: not a directory, so {} cannot be written",
                dir.display(),
                path.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::io(
                dir,
                io::Error::new(
                    e.kind(),
                    format!("the output directory of {} does not exist", path.display()),
                ),
            ))
        }
        Err(e) => return Err(Error::io(dir, e)),
    }

    let mut temp_name = OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = dir.join(temp_name);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| Error::io(&temp, e))?;

    let result = (|| {
        let mut writer = BufWriter::new(&file);
        write(&mut writer)?;
        writer.flush().map_err(|e| Error::io(&temp, e))?;
        drop(writer);
        file.sync_all().map_err(|e| Error::io(&temp, e))?;
        fs::rename(&temp, path).map_err(|e| Error::io(path, e))
    })();
    drop(file);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        return result;
    }
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Checks a PNG text keyword: 1–79 printable Latin-1 characters (PNG spec 11.3.4.2).
fn check_keyword(path: &Path, keyword: &str) -> Result<()> {
    let printable = |c: char| matches!(c as u32, 32..=126 | 161..=255);
    let n = keyword.chars().count();
    if (1..=79).contains(&n) && keyword.chars().all(printable) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{}: PNG text keyword '{keyword}' must be 1 to 79 printable Latin-1 characters",
            path.display()
        )))
    }
}

/// Writes `img` as an 8-bit RGB PNG with one text chunk per `(keyword, text)`, atomically (see below).
///
/// - Text that is all Latin-1 goes in a tEXt chunk, any other (emoji, CJK) in an uncompressed iTXt
///   chunk with empty language and translated keyword: what PIL's `PngInfo.add_text`, and so A1111,
///   writes. Keywords must be 1–79 printable Latin-1 characters; text must not contain NUL.
/// - The PNG is written to `.{name}.tmp-{pid}-{n}` in `path`'s directory, fsynced and renamed over
///   `path`. If anything fails the temporary file is removed and `path` is untouched (an existing file
///   keeps its content).
/// - A missing output directory is an error naming it; no file is created.
pub fn write_png_atomic(path: &Path, img: &RgbImage, text: &[(&str, &str)]) -> Result<()> {
    check_image(img, &path.display().to_string())?;
    for (keyword, value) in text {
        check_keyword(path, keyword)?;
        if value.contains('\0') {
            return Err(Error::Invalid(format!(
                "{}: PNG text '{keyword}' contains a NUL character",
                path.display()
            )));
        }
    }
    let encode_error = |e: png::EncodingError| match e {
        png::EncodingError::IoError(e) => Error::io(path, e),
        other => Error::Invalid(format!("{}: cannot encode PNG: {other}", path.display())),
    };
    write_atomic(path, |w| {
        let mut encoder = png::Encoder::new(w, img.width, img.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        for (keyword, value) in text {
            let (keyword, value) = (keyword.to_string(), value.to_string());
            let added = if value.chars().all(|c| (c as u32) <= 0xff) {
                encoder.add_text_chunk(keyword, value)
            } else {
                encoder.add_itxt_chunk(keyword, value)
            };
            added.map_err(encode_error)?;
        }
        let mut writer = encoder.write_header().map_err(encode_error)?;
        writer.write_image_data(&img.pixels).map_err(encode_error)?;
        writer.finish().map_err(encode_error)
    })
}

/// The path of image `index` of a batch: `-{index:04}` goes before the extension, in the same
/// directory (`out/cat.png`, 1 → `out/cat-0001.png`; 12345 → `cat-12345.png`).
///
/// The extension is kept as it is, including none (`cat` → `cat-0001`) — the number never adds one, so
/// a batch is named like the single file would have been. A path without a file name (`..`) gets the
/// number as a file name inside it (`../0001`).
pub fn numbered_path(path: &Path, index: u32) -> PathBuf {
    let number = format!("{index:04}");
    let (Some(stem), Some(_)) = (path.file_stem(), path.file_name()) else {
        return path.join(number);
    };
    let mut name = stem.to_os_string();
    name.push("-");
    name.push(&number);
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// Peak signal-to-noise ratio in dB between two images of the same size, on the 0–255 scale:
/// `10 · log10(255² / MSE)` over all bytes; identical images give `f64::INFINITY`.
///
/// Fails when the sizes differ or an image's pixels do not match its size.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    check_image(a, "psnr: first image")?;
    check_image(b, "psnr: second image")?;
    if (a.width, a.height) != (b.width, b.height) {
        return Err(Error::Invalid(format!(
            "psnr: the images are {}x{} and {}x{}",
            a.width, a.height, b.width, b.height
        )));
    }
    let squared: f64 = a
        .pixels
        .iter()
        .zip(&b.pixels)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    Ok(psnr_from_mse(squared / a.pixels.len() as f64, 255.0))
}

/// `10 · log10(peak² / mse)`; `mse = 0` gives `f64::INFINITY`.
fn psnr_from_mse(mse: f64, peak: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    }
}

/// Peak signal-to-noise ratio in dB between two f32 arrays with the given peak (2 for [-1, 1] data):
/// `10 · log10(peak² / MSE)`, computed in f64; identical arrays give `f64::INFINITY`.
///
/// Arrays of different or zero length, and any NaN, give NaN (which fails every comparison).
pub fn psnr_f32(a: &[f32], b: &[f32], peak: f32) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return f64::NAN;
    }
    let squared: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    psnr_from_mse(squared / a.len() as f64, peak as f64)
}
