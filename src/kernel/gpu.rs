//! The GPU backend: the WGSL stages in `shaders/` run through wgpu, headless. Buffers are made once per
//! run; each scene is uploaded once into a slot and takes part in every pair that needs it.

use super::params::{
    HISTOGRAM_BINS, KernelParams, PIXELS_PER_INVOCATION, STAT_CHANGED, STAT_HISTOGRAM, STAT_SUM_HI,
    STAT_SUM_LO, STAT_VALID, STATS_WORDS, WORKGROUP_SIZE,
};
use super::{
    ChangeKernel, ChangeMask, ChangeSettings, PairStats, RegionStats, SCENE_SLOTS, Slot,
    check_scene, kernel_params, unloaded_slots,
};
use crate::error::{Error, Result};
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};
use std::borrow::Cow;
use wgpu::util::DeviceExt;

const PARAMS_WGSL: &str = include_str!("../../shaders/params.wgsl");

/// Every stage: its name (the shader file's stem and the CPU mirror's module) and its WGSL source.
pub const STAGES: [(&str, &str); 3] = [
    ("magnitude", include_str!("../../shaders/magnitude.wgsl")),
    ("smooth", include_str!("../../shaders/smooth.wgsl")),
    (
        "region_stats",
        include_str!("../../shaders/region_stats.wgsl"),
    ),
];

/// The complete source of a stage: the shared parameter file followed by the stage's own.
pub fn shader_source(stage_wgsl: &str) -> String {
    format!("{PARAMS_WGSL}\n{stage_wgsl}")
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

/// The scene held in a slot on the device.
struct SceneSlot {
    samples: wgpu::Buffer,
    validity: wgpu::Buffer,
    has_validity: bool,
    loaded: bool,
}

pub struct GpuKernel {
    adapter: wgpu::AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
    format: SceneFormat,
    region_count: u32,
    max_workgroups: u32,
    params: wgpu::Buffer,
    slots: Vec<SceneSlot>,
    stats: wgpu::Buffer,
    change_mask: wgpu::Buffer,
    stats_readback: wgpu::Buffer,
    mask_readback: wgpu::Buffer,
    magnitude_pipeline: wgpu::ComputePipeline,
    smooth_pipeline: wgpu::ComputePipeline,
    region_stats_pipeline: wgpu::ComputePipeline,
    /// Indexed by slot a: magnitude of (slot a, the other slot).
    magnitude_bindings: Vec<wgpu::BindGroup>,
    smooth_binding: wgpu::BindGroup,
    /// [reading the raw magnitude, reading the smoothed magnitude].
    region_stats_bindings: [wgpu::BindGroup; 2],
}

impl GpuKernel {
    pub fn new(
        policy: AdapterPolicy,
        format: SceneFormat,
        labels: &LabelRaster,
    ) -> Result<GpuKernel> {
        let adapter = select_adapter(policy)?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let largest = [
            format.word_count() * 4,
            format.pixel_count() * 4,
            labels.words.len() * 4,
            labels.region_count as usize * STATS_WORDS * 4,
        ]
        .into_iter()
        .max()
        .unwrap_or(0) as u64;
        let allowed = largest_binding(&limits);
        if largest > allowed {
            return Err(Error::Gpu(format!(
                "scenes of {format} need a {} MiB buffer, above the {} MiB that {} allows; use --device cpu",
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
        let kernel = Self::build(
            info,
            device.clone(),
            queue,
            format,
            labels,
            limits.max_compute_workgroups_per_dimension,
        );
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "setting up the kernels failed: {error}"
            )));
        }
        Ok(kernel)
    }

    fn build(
        adapter: wgpu::AdapterInfo,
        device: wgpu::Device,
        queue: wgpu::Queue,
        format: SceneFormat,
        labels: &LabelRaster,
        max_workgroups: u32,
    ) -> GpuKernel {
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
                samples: storage("scene", format.word_count(), copy_dst),
                validity: storage("validity", format.bitmap_word_count(), copy_dst),
                has_validity: false,
                loaded: false,
            })
            .collect();
        let magnitude = storage(
            "magnitude",
            format.pixel_count(),
            wgpu::BufferUsages::empty(),
        );
        let smoothed = storage(
            "smoothed",
            format.pixel_count(),
            wgpu::BufferUsages::empty(),
        );
        let label_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("labels"),
            contents: bytemuck::cast_slice(&labels.words),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let stats = storage("stats", stats_words, copy_src | copy_dst);
        let change_mask = storage("change mask", format.bitmap_word_count(), copy_src);

        let pipeline = |name: &str| {
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
        };
        let magnitude_pipeline = pipeline("magnitude");
        let smooth_pipeline = pipeline("smooth");
        let region_stats_pipeline = pipeline("region_stats");
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
                let (sa, sb) = (&slots[a], &slots[(a + 1) % SCENE_SLOTS]);
                bind(
                    &magnitude_pipeline,
                    &[
                        &sa.samples,
                        &sb.samples,
                        &sa.validity,
                        &sb.validity,
                        &magnitude,
                    ],
                )
            })
            .collect();
        let smooth_binding = bind(&smooth_pipeline, &[&magnitude, &smoothed]);
        let region_stats_bindings = [&magnitude, &smoothed].map(|input| {
            bind(
                &region_stats_pipeline,
                &[input, &label_buffer, &stats, &change_mask],
            )
        });
        GpuKernel {
            adapter,
            format,
            region_count: labels.region_count,
            max_workgroups,
            stats_readback: readback("stats readback", stats_words),
            mask_readback: readback("mask readback", format.bitmap_word_count()),
            params,
            slots,
            stats,
            change_mask,
            magnitude_pipeline,
            smooth_pipeline,
            region_stats_pipeline,
            magnitude_bindings,
            smooth_binding,
            region_stats_bindings,
            device,
            queue,
        }
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
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device failed: {e}")))?;
        drop(sender);
        for (index, result) in receiver {
            result.map_err(|e| Error::Gpu(format!("reading back buffer {index} failed: {e}")))?;
        }
        buffers
            .iter()
            .map(|buffer| {
                let words = {
                    let view = buffer
                        .get_mapped_range(..)
                        .map_err(|e| Error::Gpu(format!("reading back a buffer failed: {e}")))?;
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
        format!("gpu: {}", describe_adapter(&self.adapter))
    }

    fn load_scene(&mut self, slot: Slot, scene: Scene) -> Result<()> {
        check_scene(self.format, &scene)?;
        let target = &mut self.slots[slot];
        self.queue
            .write_buffer(&target.samples, 0, bytemuck::cast_slice(&scene.words));
        if let Some(validity) = &scene.validity {
            self.queue
                .write_buffer(&target.validity, 0, bytemuck::cast_slice(validity));
        }
        target.has_validity = scene.validity.is_some();
        target.loaded = true;
        Ok(())
    }

    fn compare(
        &mut self,
        a: Slot,
        b: Slot,
        settings: &ChangeSettings,
        with_mask: bool,
    ) -> Result<PairStats> {
        if a == b || !self.slots[a].loaded || !self.slots[b].loaded {
            return Err(unloaded_slots(a, b));
        }
        let validity = [self.slots[a].has_validity, self.slots[b].has_validity];
        let params = kernel_params(
            self.format,
            self.region_count,
            settings,
            validity,
            with_mask,
        )?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&self.stats, 0, None);
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            let pixels = self.format.pixel_count();
            self.dispatch(
                &mut pass,
                &self.magnitude_pipeline,
                &self.magnitude_bindings[a],
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
        encoder.copy_buffer_to_buffer(&self.stats, 0, &self.stats_readback, 0, None);
        if with_mask {
            encoder.copy_buffer_to_buffer(&self.change_mask, 0, &self.mask_readback, 0, None);
        }
        self.queue.submit([encoder.finish()]);
        let readbacks: &[&wgpu::Buffer] = if with_mask {
            &[&self.stats_readback, &self.mask_readback]
        } else {
            &[&self.stats_readback]
        };
        let mut words = self.read_back(readbacks)?;
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("comparing scenes failed: {error}")));
        }
        let change_mask = with_mask.then(|| {
            let mut mask = words.pop().expect("mask was read back");
            mask.truncate(self.format.bitmap_word_count());
            ChangeMask {
                width: self.format.width,
                height: self.format.height,
                words: mask,
            }
        });
        let regions = words[0]
            .chunks_exact(STATS_WORDS)
            .map(region_stats_from_words)
            .collect();
        Ok(PairStats {
            regions,
            change_mask,
        })
    }
}
