//! The GPU backend: the WGSL stages in `shaders/` run through wgpu, headless. Buffers are made once per
//! run; each scene is uploaded once into a slot and takes part in every pair that needs it. Backgrounds
//! upload their stack stripe by stripe into buffers made for the call.
//!
//! A scene too large for the adapter's buffers is compared in stripes of rows instead: the slots then
//! keep their rows on the host and each comparison uploads both stripe by stripe, with a halo of rows
//! either side for the smoothing window, into buffers sized for one stripe, counting only the stripe's
//! own rows (the parameter block's counted pixels), which makes the results those of one pass.
//!
//! Co-registration: `gpu/coregister.rs`.

mod coregister;

use super::params::{
    HISTOGRAM_BINS, KernelParams, MAX_SMOOTHING_RADIUS, PIXELS_PER_INVOCATION, PROFILE_WORDS,
    STAT_CHANGED, STAT_HISTOGRAM, STAT_SUM_HI, STAT_SUM_LO, STAT_VALID, STATS_WORDS,
    WORKGROUP_SIZE, all_set_bitmap,
};
use super::{
    ChangeKernel, ChangeMask, ChangeSettings, CountedPixels, Outputs, PairStats, Radiometry,
    RegionStats, SCENE_SLOTS, Slot, StageTimes, background_params, check_counted_rows, check_load,
    check_slot, check_stack, kernel_params, split_profiles, unloaded_slots,
};
use crate::error::{Error, Result};
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};
use bytemuck::{Pod, Zeroable};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wgpu::util::DeviceExt;

const PARAMS_WGSL: &str = include_str!("../../shaders/params.wgsl");

/// Every stage: its name (the shader file's stem and the CPU mirror's module) and its WGSL source.
pub const STAGES: [(&str, &str); 5] = [
    ("magnitude", include_str!("../../shaders/magnitude.wgsl")),
    ("smooth", include_str!("../../shaders/smooth.wgsl")),
    (
        "region_stats",
        include_str!("../../shaders/region_stats.wgsl"),
    ),
    ("background", include_str!("../../shaders/background.wgsl")),
    ("coregister", include_str!("../../shaders/coregister.wgsl")),
];

/// Test hook: with this variable set to N, the kernel destroys its device before its comparison after the
/// first N, as a driver reset would lose it, so that tests can check that a run then goes on on the CPU.
const LOSE_DEVICE_HOOK: &str = "PORTWATCH_TEST_LOSE_GPU_AFTER";

/// Test hook: with this variable set to a number of bytes, the kernel binds no larger buffer than that,
/// as on an adapter with smaller limits, so that runs through the binary can be made to compare in stripes.
const BINDING_LIMIT_HOOK: &str = "PORTWATCH_TEST_GPU_BINDING_LIMIT";

/// Most bytes of a background's stack buffer, whatever the adapter allows: the stripe's rows of every scene.
const MAX_STACK_BYTES: u64 = 256 << 20;

/// Where the background stage is in the stack. Mirror of `struct Stripe` in `shaders/background.wgsl`:
/// keep in sync.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Stripe {
    first_pixel: u32,
    pixels: u32,
    first_word: u32,
    first_validity_word: u32,
    scene_words: u32,
    validity_words: u32,
    scenes: u32,
    _padding: u32,
}

/// The complete source of a stage: the shared parameter file followed by the stage's own.
pub fn shader_source(stage_wgsl: &str) -> String {
    format!("{PARAMS_WGSL}\n{stage_wgsl}")
}

/// The compute pipeline of stage `name`, one of [`STAGES`].
fn stage_pipeline(device: &wgpu::Device, name: &str) -> wgpu::ComputePipeline {
    let (_, wgsl) = STAGES
        .iter()
        .find(|(stage, _)| *stage == name)
        .expect("stage is listed in STAGES");
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(Cow::Owned(shader_source(wgsl))),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// Which adapters may be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterPolicy {
    /// Any adapter, software rasterizers included (preferring hardware).
    Any,
    /// Hardware only: software adapters are slower than the CPU backend.
    HardwareOnly,
}

/// A line describing an adapter: name, backend, type and driver.
pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let software = if is_software(info) { ", software" } else { "" };
    format!(
        "{} ({:?}, {:?}{software}; driver {driver})",
        info.name, info.backend, info.device_type
    )
}

fn is_software(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_lowercase();
    info.device_type == wgpu::DeviceType::Cpu
        || [
            "llvmpipe",
            "lavapipe",
            "swiftshader",
            "warp",
            "basic render",
        ]
        .iter()
        .any(|s| name.contains(s))
}

fn instance() -> (wgpu::Instance, wgpu::Backends) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    let desc = desc.with_env();
    let backends = desc.backends;
    (wgpu::Instance::new(desc), backends)
}

/// Every adapter wgpu can see on the backends in use (`WGPU_BACKEND`, default Vulkan, Metal, DX12),
/// with the largest storage buffer it can bind, in bytes: the largest scene layer it can hold.
pub fn adapters() -> Vec<(wgpu::AdapterInfo, u64)> {
    let (instance, backends) = instance();
    pollster::block_on(instance.enumerate_adapters(backends))
        .iter()
        .map(|adapter| (adapter.get_info(), largest_binding(&adapter.limits())))
        .collect()
}

fn largest_binding(limits: &wgpu::Limits) -> u64 {
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
}

fn select_adapter(policy: AdapterPolicy) -> Result<wgpu::Adapter> {
    let (instance, backends) = instance();
    let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
    if adapters.is_empty() {
        return Err(Error::Gpu(format!(
            "no adapter found on backends {backends:?} (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers, or use --device cpu)"
        )));
    }
    let seen = adapters
        .iter()
        .map(|a| a.get_info().name)
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
        let wanted = wanted.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&wanted));
        if adapters.is_empty() {
            return Err(Error::Gpu(format!(
                "no adapter matches WGPU_ADAPTER_NAME={wanted:?} (found: {seen})"
            )));
        }
    }
    if policy == AdapterPolicy::HardwareOnly {
        adapters.retain(|a| !is_software(&a.get_info()));
        if adapters.is_empty() {
            return Err(Error::Gpu(format!(
                "no hardware adapter (found only software: {seen})"
            )));
        }
    }
    let preference = |info: wgpu::AdapterInfo| match info.device_type {
        _ if is_software(&info) => 4,
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        _ => 3,
    };
    adapters.sort_by_key(|a| preference(a.get_info()));
    Ok(adapters.swap_remove(0))
}

/// A device opened on an adapter, and the limits the kernel keeps to.
struct OpenedDevice {
    adapter: wgpu::AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
    max_workgroups: u32,
    /// The largest buffer the kernel binds, in bytes.
    max_binding: u64,
}

/// The scene held in a slot on the device.
struct SceneSlot {
    samples: wgpu::Buffer,
    validity: wgpu::Buffer,
    /// A uniform block holding the scene's `Radiometry`.
    radiometry: wgpu::Buffer,
    has_validity: bool,
    /// The scene rows it holds, once loaded.
    rows: Option<Range<u32>>,
    /// The scene itself, when comparisons go in stripes: uploaded a stripe at a time.
    host: Option<Scene>,
}

/// What one pass of a comparison read back: the regions' statistics, the change bitmap of its uploaded
/// rows and the regions' concatenated profiles, each empty unless asked for.
struct StripeWords {
    regions: Vec<RegionStats>,
    change_mask: Vec<u32>,
    profiles: Vec<u32>,
}

/// The rows of one pass of a comparison: those uploaded, and within them those it counts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StripeRows {
    uploaded: Range<usize>,
    counted: Range<usize>,
}

/// How comparisons cover a scene: all its rows in one pass, or stripes of at most `rows` counted rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ComparePasses {
    Whole,
    Stripes { rows: usize },
}

/// Rows a stripe starts on a multiple of, so that it starts on a whole word of the samples, of the
/// validity and change bitmaps (32 pixels to a word) and of the labels (2 to a word): a multiple of 32
/// pixels.
fn stripe_alignment(width: u32) -> usize {
    32 >> width.trailing_zeros().min(5)
}

/// The halo a smoothing window of radius `radius` needs, whole stripe alignments of rows.
fn halo_rows(radius: u32, alignment: usize) -> usize {
    (radius as usize).next_multiple_of(alignment)
}

/// How comparisons of `format` fit buffers of at most `max_binding` bytes: in one pass when every
/// per-pixel buffer fits, else in the tallest stripes whose buffers, with the widest halo, fit.
fn compare_passes(format: SceneFormat, max_binding: u64) -> Result<ComparePasses> {
    let per_pixel_bytes = |height: usize| {
        let rows = SceneFormat {
            height: height as u32,
            ..format
        };
        (rows.word_count() * 4).max(rows.pixel_count() * 4) as u64
    };
    if per_pixel_bytes(format.height as usize) <= max_binding {
        return Ok(ComparePasses::Whole);
    }
    let alignment = stripe_alignment(format.width);
    let halo = halo_rows(MAX_SMOOTHING_RADIUS, alignment);
    let row_bytes = per_pixel_bytes(1);
    let fitting_rows = (max_binding / row_bytes) as usize;
    let rows = fitting_rows.saturating_sub(2 * halo) / alignment * alignment;
    if rows == 0 {
        return Err(Error::Gpu(format!(
            "a stripe of {alignment} rows of {format} with a {halo}-row halo either side does not fit \
             the {} KiB the adapter can bind; use --device cpu",
            max_binding >> 10
        )));
    }
    Ok(ComparePasses::Stripes { rows })
}

impl ComparePasses {
    /// The rows of each pass of a comparison counting the scene rows `counted` of the rows `held` by the
    /// slots, `width` columns wide, for a smoothing window of radius `radius`.
    fn stripes(
        self,
        width: u32,
        held: Range<usize>,
        counted: Range<usize>,
        radius: u32,
    ) -> Vec<StripeRows> {
        let rows = match self {
            ComparePasses::Whole => {
                return vec![StripeRows {
                    uploaded: held,
                    counted,
                }];
            }
            ComparePasses::Stripes { rows } => rows,
        };
        let halo = halo_rows(radius, stripe_alignment(width));
        counted
            .clone()
            .step_by(rows)
            .map(|first| {
                let counted = first..(first + rows).min(counted.end);
                StripeRows {
                    uploaded: first.saturating_sub(halo).max(held.start)
                        ..(counted.end + halo).min(held.end),
                    counted,
                }
            })
            .collect()
    }

    /// The most rows one pass uploads, over a scene of `format`.
    fn buffer_rows(self, format: SceneFormat) -> usize {
        match self {
            ComparePasses::Whole => format.height as usize,
            ComparePasses::Stripes { rows } => {
                let halo = halo_rows(MAX_SMOOTHING_RADIUS, stripe_alignment(format.width));
                (rows + 2 * halo).min(format.height as usize)
            }
        }
    }
}

pub struct GpuKernel {
    adapter: wgpu::AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
    format: SceneFormat,
    region_count: u32,
    /// Where each region's profile starts: `LabelRaster::profile_offsets`.
    profile_offsets: Vec<u32>,
    max_workgroups: u32,
    /// The largest buffer the adapter can bind, in bytes.
    max_binding: u64,
    /// At most this many rows to a background stripe, when set (for tests).
    stripe_rows: Option<usize>,
    passes: ComparePasses,
    times: StageTimes,
    /// The regions' labels and positions, kept to upload a stripe at a time when comparisons go in stripes.
    striped_labels: Option<LabelRaster>,
    /// Why the device was lost, once it is: set by wgpu's device-lost callback.
    lost: Arc<Mutex<Option<String>>>,
    /// The comparisons made so far, and after how many to lose the device ([`LOSE_DEVICE_HOOK`]).
    compares: u64,
    lose_after: Option<u64>,
    params: wgpu::Buffer,
    slots: Vec<SceneSlot>,
    labels: wgpu::Buffer,
    positions: wgpu::Buffer,
    region_thresholds: wgpu::Buffer,
    stats: wgpu::Buffer,
    change_mask: wgpu::Buffer,
    profiles: wgpu::Buffer,
    stats_readback: wgpu::Buffer,
    mask_readback: wgpu::Buffer,
    profiles_readback: wgpu::Buffer,
    magnitude_pipeline: wgpu::ComputePipeline,
    smooth_pipeline: wgpu::ComputePipeline,
    region_stats_pipeline: wgpu::ComputePipeline,
    background_pipeline: wgpu::ComputePipeline,
    /// Made on first use: most runs never co-register.
    coregister_pipeline: std::cell::OnceCell<wgpu::ComputePipeline>,
    /// Indexed by [slot a][slot b], a ≠ b: magnitude of (slot a, slot b).
    magnitude_bindings: Vec<Vec<Option<wgpu::BindGroup>>>,
    smooth_binding: wgpu::BindGroup,
    /// [reading the raw magnitude, reading the smoothed magnitude].
    region_stats_bindings: [wgpu::BindGroup; 2],
}

impl GpuKernel {
    /// Opens the adapter `policy` chooses for scenes of `format` and regions `labels`.
    pub fn new(
        policy: AdapterPolicy,
        format: SceneFormat,
        labels: &LabelRaster,
    ) -> Result<GpuKernel> {
        let hook = std::env::var(BINDING_LIMIT_HOOK).ok();
        Self::with_binding_limit(policy, format, labels, hook.and_then(|n| n.parse().ok()))
    }

    /// As [`GpuKernel::new`], binding no buffer larger than `limit` bytes when given, as on an adapter
    /// with smaller limits: to exercise comparisons in stripes on small scenes.
    #[doc(hidden)]
    pub fn with_binding_limit(
        policy: AdapterPolicy,
        format: SceneFormat,
        labels: &LabelRaster,
        limit: Option<u64>,
    ) -> Result<GpuKernel> {
        let adapter = select_adapter(policy)?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let allowed = largest_binding(&limits).min(limit.unwrap_or(u64::MAX));
        let passes = compare_passes(format, allowed)?;
        let largest = [
            labels.region_count as usize * STATS_WORDS * 4,
            labels.profile_bins() * PROFILE_WORDS * 4,
        ]
        .into_iter()
        .max()
        .unwrap_or(0) as u64;
        if largest > allowed {
            return Err(Error::Gpu(format!(
                "the regions' statistics need a {} MiB buffer, above the {} MiB that {} allows; use --device cpu",
                largest >> 20,
                allowed >> 20,
                info.name
            )));
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("portwatch"),
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("cannot open {}: {e}", info.name)))?;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let opened = OpenedDevice {
            adapter: info,
            device: device.clone(),
            queue,
            max_workgroups: limits.max_compute_workgroups_per_dimension,
            max_binding: allowed,
        };
        let kernel = Self::build(opened, format, labels, passes);
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "setting up the kernels failed: {error}"
            )));
        }
        let lost = Arc::clone(&kernel.lost);
        kernel
            .device
            .set_device_lost_callback(move |reason, message| {
                if let Ok(mut lost) = lost.lock() {
                    *lost = Some(match message.as_str() {
                        "" => format!("{reason:?}"),
                        _ => format!("{reason:?}: {message}"),
                    });
                }
            });
        Ok(kernel)
    }

    fn build(
        opened: OpenedDevice,
        format: SceneFormat,
        labels: &LabelRaster,
        passes: ComparePasses,
    ) -> GpuKernel {
        let OpenedDevice {
            adapter,
            device,
            queue,
            max_workgroups,
            max_binding,
        } = opened;
        // Every per-pixel buffer holds the rows of one pass: all of them, or a stripe and its halo.
        let stripe = SceneFormat {
            height: passes.buffer_rows(format) as u32,
            ..format
        };
        let storage = |label: &str, words: usize, extra: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (words.max(1) * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE | extra,
                mapped_at_creation: false,
            })
        };
        let readback = |label: &str, words: usize| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (words.max(1) * 4) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let copy_dst = wgpu::BufferUsages::COPY_DST;
        let copy_src = wgpu::BufferUsages::COPY_SRC;
        let stats_words = labels.region_count as usize * STATS_WORDS;
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params"),
            size: std::mem::size_of::<KernelParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | copy_dst,
            mapped_at_creation: false,
        });
        let slots: Vec<SceneSlot> = (0..SCENE_SLOTS)
            .map(|_| SceneSlot {
                samples: storage("scene", stripe.word_count(), copy_dst),
                validity: storage("validity", stripe.bitmap_word_count(), copy_dst),
                radiometry: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("radiometry"),
                    size: std::mem::size_of::<Radiometry>() as u64,
                    usage: wgpu::BufferUsages::UNIFORM | copy_dst,
                    mapped_at_creation: false,
                }),
                has_validity: false,
                rows: None,
                host: None,
            })
            .collect();
        let magnitude = storage(
            "magnitude",
            stripe.pixel_count(),
            wgpu::BufferUsages::empty(),
        );
        let smoothed = storage(
            "smoothed",
            stripe.pixel_count(),
            wgpu::BufferUsages::empty(),
        );
        let label_buffer = storage("labels", stripe.pixel_count().div_ceil(2), copy_dst);
        let position_buffer = storage("positions", stripe.pixel_count().div_ceil(2), copy_dst);
        if passes == ComparePasses::Whole {
            queue.write_buffer(&label_buffer, 0, bytemuck::cast_slice(&labels.words));
            queue.write_buffer(&position_buffer, 0, bytemuck::cast_slice(&labels.positions));
        }
        let profile_offsets = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("profile offsets"),
            contents: bytemuck::cast_slice(&labels.profile_offsets),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let region_thresholds =
            storage("region thresholds", labels.region_count as usize, copy_dst);
        let stats = storage("stats", stats_words, copy_src | copy_dst);
        let change_mask = storage("change mask", stripe.bitmap_word_count(), copy_src);
        let profile_words = labels.profile_bins() * PROFILE_WORDS;
        let profiles = storage("profiles", profile_words, copy_src | copy_dst);

        let pipeline = |name: &str| stage_pipeline(&device, name);
        let magnitude_pipeline = pipeline("magnitude");
        let smooth_pipeline = pipeline("smooth");
        let region_stats_pipeline = pipeline("region_stats");
        let background_pipeline = pipeline("background");
        let bind = |pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]| {
            let entries: Vec<wgpu::BindGroupEntry> = std::iter::once(&params)
                .chain(buffers.iter().copied())
                .enumerate()
                .map(|(binding, buffer)| wgpu::BindGroupEntry {
                    binding: binding as u32,
                    resource: buffer.as_entire_binding(),
                })
                .collect();
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        };
        let magnitude_bindings = (0..SCENE_SLOTS)
            .map(|a| {
                (0..SCENE_SLOTS)
                    .map(|b| {
                        let (sa, sb) = (&slots[a], &slots[b]);
                        (a != b).then(|| {
                            bind(
                                &magnitude_pipeline,
                                &[
                                    &sa.samples,
                                    &sb.samples,
                                    &sa.validity,
                                    &sb.validity,
                                    &sa.radiometry,
                                    &sb.radiometry,
                                    &magnitude,
                                ],
                            )
                        })
                    })
                    .collect()
            })
            .collect();
        let smooth_binding = bind(&smooth_pipeline, &[&magnitude, &smoothed]);
        let region_stats_bindings = [&magnitude, &smoothed].map(|input| {
            bind(
                &region_stats_pipeline,
                &[
                    input,
                    &label_buffer,
                    &stats,
                    &change_mask,
                    &position_buffer,
                    &profile_offsets,
                    &profiles,
                    &region_thresholds,
                ],
            )
        });
        GpuKernel {
            adapter,
            format,
            region_count: labels.region_count,
            profile_offsets: labels.profile_offsets.clone(),
            max_workgroups,
            max_binding,
            stripe_rows: None,
            passes,
            times: StageTimes::default(),
            striped_labels: (passes != ComparePasses::Whole).then(|| labels.clone()),
            lost: Arc::default(),
            compares: 0,
            lose_after: std::env::var(LOSE_DEVICE_HOOK)
                .ok()
                .and_then(|n| n.parse().ok()),
            stats_readback: readback("stats readback", stats_words),
            mask_readback: readback("mask readback", stripe.bitmap_word_count()),
            profiles_readback: readback("profiles readback", profile_words),
            params,
            slots,
            labels: label_buffer,
            positions: position_buffer,
            region_thresholds,
            stats,
            change_mask,
            profiles,
            magnitude_pipeline,
            smooth_pipeline,
            region_stats_pipeline,
            background_pipeline,
            coregister_pipeline: Default::default(),
            magnitude_bindings,
            smooth_binding,
            region_stats_bindings,
            device,
            queue,
        }
    }

    /// Limits background stripes to `rows` rows (at least 1), to exercise striping on small stacks.
    #[doc(hidden)]
    pub fn with_background_stripe_rows(mut self, rows: u32) -> GpuKernel {
        self.stripe_rows = Some((rows as usize).max(1));
        self
    }

    /// Rows per background stripe for a stack of `scenes`: as many as keep the stack buffer within the
    /// binding limit (and `MAX_STACK_BYTES`). A stripe of r rows spans at most ⌈r · row samples / samples
    /// per word⌉ + 1 words of each scene.
    fn stripe_rows(&self, format: SceneFormat, scenes: usize) -> Result<usize> {
        let samples_per_word = (32 / format.bits_per_sample) as usize;
        let row_samples = format.width as usize * format.bands as usize;
        let words_per_scene = (self.max_binding.min(MAX_STACK_BYTES) / 4) as usize / scenes;
        let rows = (words_per_scene.saturating_sub(1) * samples_per_word / row_samples)
            .min(format.height as usize)
            .min(self.stripe_rows.unwrap_or(usize::MAX));
        if rows == 0 {
            return Err(Error::Gpu(format!(
                "a row of {scenes} scenes of {format} does not fit the {} MiB stack buffer that {} allows",
                self.max_binding.min(MAX_STACK_BYTES) >> 20,
                self.adapter.name
            )));
        }
        Ok(rows)
    }

    /// Uploads the stripe's rows of the scenes in slots `a` and `b`, which hold the scene rows `held`, and
    /// of the labels; nothing when comparisons go in one pass, whose scenes were uploaded when loaded.
    fn upload_stripe(
        &mut self,
        (a, b): (Slot, Slot),
        held: &Range<usize>,
        stripe: &StripeRows,
    ) -> Result<()> {
        let Some(labels) = &self.striped_labels else {
            return Ok(());
        };
        let started = Instant::now();
        let width = self.format.width as usize;
        let bands = self.format.bands as usize;
        let samples_per_word = (32 / self.format.bits_per_sample) as usize;
        let pixels = stripe.uploaded.start * width..stripe.uploaded.end * width;
        let slot_pixels = pixels.start - held.start * width..pixels.end - held.start * width;
        for slot in [a, b] {
            let target = &self.slots[slot];
            let scene = target
                .host
                .as_ref()
                .expect("a loaded slot holds its scene when striped");
            let samples = slot_pixels.start * bands / samples_per_word
                ..(slot_pixels.end * bands).div_ceil(samples_per_word);
            self.queue.write_buffer(
                &target.samples,
                0,
                bytemuck::cast_slice(&scene.words[samples]),
            );
            if let Some(validity) = &scene.validity {
                let words = &validity[slot_pixels.start / 32..slot_pixels.end.div_ceil(32)];
                self.queue
                    .write_buffer(&target.validity, 0, bytemuck::cast_slice(words));
            }
        }
        // Two 16-bit entries to a word; a stripe's rows start and end on whole words but the image's last.
        let halves = pixels.start / 2..pixels.end.div_ceil(2);
        for (buffer, words) in [
            (&self.labels, &labels.words),
            (&self.positions, &labels.positions),
        ] {
            self.queue
                .write_buffer(buffer, 0, bytemuck::cast_slice(&words[halves.clone()]));
        }
        self.times.upload += self.finish_uploads(started)?;
        Ok(())
    }

    /// Waits until the buffer writes queued so far have reached the device; the time since `started`.
    fn finish_uploads(&self, started: Instant) -> Result<std::time::Duration> {
        self.queue.submit([]);
        self.wait()?;
        Ok(started.elapsed())
    }

    /// Waits until the device has done all the work submitted to it.
    fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(drop)
            .map_err(|e| self.failure(format!("waiting for the device failed: {e}")))
    }

    /// One pass of a comparison over the stripe's uploaded rows, counting only its counted rows: the
    /// regions' statistics, and as asked the stripe's change bitmap and the regions' profiles, as words.
    fn compare_stripe(
        &mut self,
        (a, b): (Slot, Slot),
        held: &Range<usize>,
        (settings, outputs): (&ChangeSettings, Outputs),
        stripe: &StripeRows,
    ) -> Result<StripeWords> {
        self.upload_stripe((a, b), held, stripe)?;
        let rows = self.format.with_height(stripe.uploaded.len() as u32);
        let validity = [self.slots[a].has_validity, self.slots[b].has_validity];
        let to_u32 = |rows: &Range<usize>| rows.start as u32..rows.end as u32;
        let mut counted = CountedPixels::of_rows(
            self.format.width,
            &to_u32(&stripe.uploaded),
            &to_u32(&stripe.counted),
        );
        // Striped, the label buffer holds the stripe's rows alone.
        if self.striped_labels.is_some() {
            counted.label_offset = 0;
        }
        let params = kernel_params(
            rows,
            self.region_count,
            settings,
            validity,
            outputs,
            &counted,
        )?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&self.stats, 0, None);
        if outputs.profiles {
            encoder.clear_buffer(&self.profiles, 0, None);
        }
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            let pixels = rows.pixel_count();
            let magnitude_binding = self.magnitude_bindings[a][b]
                .as_ref()
                .expect("slots were checked");
            self.dispatch(
                &mut pass,
                &self.magnitude_pipeline,
                magnitude_binding,
                pixels,
            );
            if params.radius > 0 {
                self.dispatch(
                    &mut pass,
                    &self.smooth_pipeline,
                    &self.smooth_binding,
                    pixels,
                );
            }
            let input = usize::from(params.radius > 0);
            let words = pixels.div_ceil(PIXELS_PER_INVOCATION);
            self.dispatch(
                &mut pass,
                &self.region_stats_pipeline,
                &self.region_stats_bindings[input],
                words,
            );
        }
        let started = Instant::now();
        self.queue.submit([encoder.finish()]);
        self.wait()?;
        self.times.kernel += started.elapsed();
        let started = Instant::now();
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let mut readbacks = vec![&self.stats_readback];
        encoder.copy_buffer_to_buffer(&self.stats, 0, &self.stats_readback, 0, None);
        if outputs.change_mask {
            encoder.copy_buffer_to_buffer(&self.change_mask, 0, &self.mask_readback, 0, None);
            readbacks.push(&self.mask_readback);
        }
        if outputs.profiles {
            encoder.copy_buffer_to_buffer(&self.profiles, 0, &self.profiles_readback, 0, None);
            readbacks.push(&self.profiles_readback);
        }
        self.queue.submit([encoder.finish()]);
        let mut words = self.read_back(&readbacks)?.into_iter();
        self.times.readback += started.elapsed();
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(self.failure(format!("comparing scenes failed: {error}")));
        }
        let regions = words
            .next()
            .expect("stats were read back")
            .chunks_exact(STATS_WORDS)
            .map(region_stats_from_words)
            .collect();
        let change_mask = match outputs.change_mask {
            true => words.next().expect("mask was read back"),
            false => Vec::new(),
        };
        let profiles = match outputs.profiles {
            true => words.next().expect("profiles were read back"),
            false => Vec::new(),
        };
        Ok(StripeWords {
            regions,
            change_mask,
            profiles,
        })
    }

    /// Why the device was lost, once it is.
    fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|lost| lost.clone())
    }

    /// The error for a failure of the device: [`Error::DeviceLost`] once the device is lost, else
    /// [`Error::Gpu`] with `message`.
    fn failure(&self, message: String) -> Error {
        self.lost().map_or(Error::Gpu(message), Error::DeviceLost)
    }

    /// Refuses work once the device is lost.
    fn check_device(&self) -> Result<()> {
        self.lost()
            .map_or(Ok(()), |why| Err(Error::DeviceLost(why)))
    }

    /// Workgroups for `invocations`, spread over x and y so neither exceeds the per-dimension limit.
    fn workgroups(&self, invocations: usize) -> (u32, u32) {
        let groups = invocations.div_ceil(WORKGROUP_SIZE as usize).max(1) as u32;
        let x = groups.min(self.max_workgroups);
        (x, groups.div_ceil(x))
    }

    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass,
        pipeline: &wgpu::ComputePipeline,
        binding: &wgpu::BindGroup,
        invocations: usize,
    ) {
        let (x, y) = self.workgroups(invocations);
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, binding, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Maps the readback buffers, waits for the device and copies their words out.
    fn read_back(&self, buffers: &[&wgpu::Buffer]) -> Result<Vec<Vec<u32>>> {
        let (sender, receiver) = std::sync::mpsc::channel();
        for (index, buffer) in buffers.iter().enumerate() {
            let sender = sender.clone();
            buffer.map_async(wgpu::MapMode::Read, .., move |result| {
                let _ = sender.send((index, result));
            });
        }
        self.wait()?;
        drop(sender);
        for (index, result) in receiver {
            result.map_err(|e| self.failure(format!("reading back buffer {index} failed: {e}")))?;
        }
        buffers
            .iter()
            .map(|buffer| {
                let words = {
                    let view = buffer
                        .get_mapped_range(..)
                        .map_err(|e| self.failure(format!("reading back a buffer failed: {e}")))?;
                    bytemuck::cast_slice::<u8, u32>(&view).to_vec()
                };
                buffer.unmap();
                Ok(words)
            })
            .collect()
    }
}

fn region_stats_from_words(words: &[u32]) -> RegionStats {
    let mut histogram = [0; HISTOGRAM_BINS];
    for (bin, &count) in histogram.iter_mut().zip(&words[STAT_HISTOGRAM..]) {
        *bin = u64::from(count);
    }
    RegionStats {
        valid_px: u64::from(words[STAT_VALID]),
        changed_px: u64::from(words[STAT_CHANGED]),
        magnitude_sum: u64::from(words[STAT_SUM_HI]) << 32 | u64::from(words[STAT_SUM_LO]),
        histogram,
    }
}

impl ChangeKernel for GpuKernel {
    fn description(&self) -> String {
        let adapter = describe_adapter(&self.adapter);
        match self.passes {
            ComparePasses::Whole => format!("gpu: {adapter}"),
            ComparePasses::Stripes { rows } => {
                format!(
                    "gpu: {adapter}; scenes too large for its buffers, compared in stripes of {rows} rows"
                )
            }
        }
    }

    fn load_scene(
        &mut self,
        slot: Slot,
        first_row: u32,
        scene: Scene,
        radiometry: Radiometry,
    ) -> Result<()> {
        self.check_device()?;
        let rows = check_load(self.format, (slot, first_row), &scene, &radiometry)?;
        let started = Instant::now();
        let target = &mut self.slots[slot];
        self.queue
            .write_buffer(&target.radiometry, 0, bytemuck::bytes_of(&radiometry));
        target.has_validity = scene.validity.is_some();
        target.rows = Some(rows);
        target.host = None;
        match self.passes {
            ComparePasses::Whole => {
                self.queue
                    .write_buffer(&target.samples, 0, bytemuck::cast_slice(&scene.words));
                if let Some(validity) = &scene.validity {
                    self.queue
                        .write_buffer(&target.validity, 0, bytemuck::cast_slice(validity));
                }
            }
            ComparePasses::Stripes { .. } => target.host = Some(scene),
        }
        self.times.upload += self.finish_uploads(started)?;
        Ok(())
    }

    fn stage_times(&self) -> StageTimes {
        self.times
    }

    fn compare(
        &mut self,
        a: Slot,
        b: Slot,
        rows: Range<u32>,
        settings: &ChangeSettings,
        outputs: Outputs,
    ) -> Result<PairStats> {
        if self.lose_after == Some(self.compares) {
            self.device.destroy();
        }
        self.compares += 1;
        self.check_device()?;
        check_slot(a)?;
        check_slot(b)?;
        let held = check_counted_rows(
            self.format,
            (a, self.slots[a].rows.as_ref()),
            (b, self.slots[b].rows.as_ref()),
            &rows,
            settings.radius,
        )?;
        if self.magnitude_bindings[a][b].is_none() {
            return Err(unloaded_slots(a, b));
        }
        let thresholds = settings.thresholds_by_region(self.region_count)?;
        self.queue.write_buffer(
            &self.region_thresholds,
            0,
            bytemuck::cast_slice(&thresholds),
        );
        let mut regions = vec![RegionStats::default(); self.region_count as usize];
        let width = self.format.width as usize;
        let mut mask_words = vec![
            0;
            if outputs.change_mask {
                (rows.len() * width).div_ceil(32)
            } else {
                0
            }
        ];
        let mut profile_words = Vec::new();
        let held = held.start as usize..held.end as usize;
        let counted = rows.start as usize..rows.end as usize;
        for stripe in self.passes.stripes(
            self.format.width,
            held.clone(),
            counted.clone(),
            settings.radius,
        ) {
            let words = self.compare_stripe((a, b), &held, (settings, outputs), &stripe)?;
            for (total, stats) in regions.iter_mut().zip(&words.regions) {
                total.add(stats);
            }
            if outputs.change_mask {
                // Stripes start on whole words of the bitmap; only the last can end inside one.
                let first = (stripe.counted.start - stripe.uploaded.start) * width / 32;
                let length = (stripe.counted.len() * width).div_ceil(32);
                let start = (stripe.counted.start - counted.start) * width / 32;
                mask_words[start..start + length]
                    .copy_from_slice(&words.change_mask[first..first + length]);
            }
            if outputs.profiles {
                profile_words.resize(words.profiles.len(), 0);
                for (total, count) in profile_words.iter_mut().zip(&words.profiles) {
                    *total += count;
                }
            }
        }
        Ok(PairStats {
            regions,
            change_mask: outputs.change_mask.then_some(ChangeMask {
                width: self.format.width,
                height: rows.len() as u32,
                words: mask_words,
            }),
            profiles: match outputs.profiles {
                true => split_profiles(&self.profile_offsets, &profile_words),
                false => Vec::new(),
            },
        })
    }

    fn background(&mut self, stack: &[(&Scene, Radiometry)], nodata: Option<u32>) -> Result<Scene> {
        self.check_device()?;
        let format = check_stack(self.format, stack, nodata)?;
        let params = background_params(format, nodata)?;
        let (width, bands) = (format.width as usize, format.bands as usize);
        let samples_per_word = (32 / format.bits_per_sample) as usize;
        let rows = self.stripe_rows(format, stack.len())?;
        // The most words a stripe spans, of a scene's samples and of its validity bitmap.
        let scene_words = (rows * width * bands).div_ceil(samples_per_word) + 1;
        let validity_words = (rows * width).div_ceil(32) + 1;
        let device = &self.device;
        let buffer = |label: &str, words: usize, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (words * 4) as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as Usage;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let stack_buffer = buffer(
            "stack",
            stack.len() * scene_words,
            Usage::STORAGE | Usage::COPY_DST,
        );
        let stack_validity = buffer(
            "stack validity",
            stack.len() * validity_words,
            Usage::STORAGE | Usage::COPY_DST,
        );
        let radiometry: Vec<Radiometry> = stack.iter().map(|&(_, r)| r).collect();
        let stack_radiometry = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("stack radiometry"),
            contents: bytemuck::cast_slice(&radiometry),
            usage: Usage::STORAGE,
        });
        let output = Usage::STORAGE | Usage::COPY_SRC | Usage::COPY_DST;
        let background = buffer("background", scene_words, output);
        let background_validity = buffer("background validity", validity_words, output);
        let readback_usage = Usage::MAP_READ | Usage::COPY_DST;
        let background_readback = buffer("background readback", scene_words, readback_usage);
        let validity_readback = buffer("validity readback", validity_words, readback_usage);
        let stripe_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("stripe"),
            size: std::mem::size_of::<Stripe>() as u64,
            usage: Usage::UNIFORM | Usage::COPY_DST,
            mapped_at_creation: false,
        });
        let entries: Vec<wgpu::BindGroupEntry> = [
            &self.params,
            &stripe_buffer,
            &stack_buffer,
            &stack_validity,
            &stack_radiometry,
            &background,
            &background_validity,
        ]
        .into_iter()
        .enumerate()
        .map(|(binding, buffer)| wgpu::BindGroupEntry {
            binding: binding as u32,
            resource: buffer.as_entire_binding(),
        })
        .collect();
        let binding = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("background"),
            layout: &self.background_pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        self.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let all_valid = vec![u32::MAX; validity_words];
        let mut words = vec![0; format.word_count()];
        let mut validity = vec![0; format.bitmap_word_count()];
        for first_row in (0..format.height as usize).step_by(rows) {
            let pixels = first_row * width..(first_row + rows).min(format.height as usize) * width;
            let samples = pixels.start * bands / samples_per_word
                ..(pixels.end * bands).div_ceil(samples_per_word);
            let bitmap = pixels.start / 32..pixels.end.div_ceil(32);
            for (index, (scene, _)) in stack.iter().enumerate() {
                self.queue.write_buffer(
                    &stack_buffer,
                    (index * scene_words * 4) as u64,
                    bytemuck::cast_slice(&scene.words[samples.clone()]),
                );
                let scene_validity = match &scene.validity {
                    Some(bits) => &bits[bitmap.clone()],
                    None => &all_valid[..bitmap.len()],
                };
                self.queue.write_buffer(
                    &stack_validity,
                    (index * validity_words * 4) as u64,
                    bytemuck::cast_slice(scene_validity),
                );
            }
            let stripe = Stripe {
                first_pixel: pixels.start as u32,
                pixels: pixels.len() as u32,
                first_word: samples.start as u32,
                first_validity_word: bitmap.start as u32,
                scene_words: scene_words as u32,
                validity_words: validity_words as u32,
                scenes: stack.len() as u32,
                _padding: 0,
            };
            self.queue
                .write_buffer(&stripe_buffer, 0, bytemuck::bytes_of(&stripe));
            let mut encoder = self.device.create_command_encoder(&Default::default());
            encoder.clear_buffer(&background, 0, None);
            encoder.clear_buffer(&background_validity, 0, None);
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                self.dispatch(&mut pass, &self.background_pipeline, &binding, pixels.len());
            }
            encoder.copy_buffer_to_buffer(&background, 0, &background_readback, 0, None);
            encoder.copy_buffer_to_buffer(&background_validity, 0, &validity_readback, 0, None);
            self.queue.submit([encoder.finish()]);
            let stripe_words = self.read_back(&[&background_readback, &validity_readback])?;
            // Neighbouring stripes may share a word at their edge: each sets only its own pixels' bits.
            for (total, word) in words[samples].iter_mut().zip(&stripe_words[0]) {
                *total |= word;
            }
            for (total, word) in validity[bitmap].iter_mut().zip(&stripe_words[1]) {
                *total |= word;
            }
        }
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(self.failure(format!("computing a background failed: {error}")));
        }
        let every_pixel_valid = validity == all_set_bitmap(format.pixel_count());
        Ok(Scene {
            format,
            words,
            validity: (!every_pixel_valid).then_some(validity),
        })
    }

    fn shift_costs(
        &mut self,
        a: Slot,
        b: Slot,
        radius: u32,
        nodata: Option<u32>,
    ) -> Result<super::ShiftCosts> {
        self.search_shifts(a, b, radius, nodata)
    }
}
