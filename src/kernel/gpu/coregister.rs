//! GPU host code of the co-registration stage (`shaders/coregister.wgsl`): its pipeline, made on first
//! use, and one dispatch over every shift, row segment and inner row of the two slots' scenes.

use super::{ComparePasses, GpuKernel, stage_pipeline};
use crate::error::{Error, Result};
use crate::kernel::params::COST_WORDS;
use crate::kernel::{ShiftCosts, Slot, check_slot, check_whole_scenes, search_params};
use wgpu::util::DeviceExt;

impl GpuKernel {
    fn coregister_pipeline(&self) -> &wgpu::ComputePipeline {
        self.coregister_pipeline
            .get_or_init(|| stage_pipeline(&self.device, "coregister"))
    }

    /// [`crate::kernel::ChangeKernel::shift_costs`] on the device.
    pub(super) fn search_shifts(
        &self,
        a: Slot,
        b: Slot,
        radius: u32,
        nodata: Option<u32>,
    ) -> Result<ShiftCosts> {
        self.check_device()?;
        check_slot(a)?;
        check_slot(b)?;
        let (slot_a, slot_b) = (&self.slots[a], &self.slots[b]);
        check_whole_scenes(
            self.format,
            (a, slot_a.rows.as_ref()),
            (b, slot_b.rows.as_ref()),
        )?;
        // The search reads whole scenes from the slots' buffers, which hold only a stripe when striped.
        if self.passes != ComparePasses::Whole {
            return Err(Error::Gpu(format!(
                "searching shifts of scenes of {} that exceed the adapter's buffers is not supported; use --device cpu",
                self.format
            )));
        }
        let validity = [slot_a.has_validity, slot_b.has_validity];
        let (search, params) = search_params(self.format, radius, nodata, validity)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipeline = self.coregister_pipeline();
        self.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let search_block = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("search"),
                contents: bytemuck::bytes_of(&search),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let words = search.shifts as usize * COST_WORDS;
        let costs = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("shift costs"),
                contents: bytemuck::cast_slice(&vec![0u32; words]),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            });
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("shift costs readback"),
            size: (words * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let buffers = [
            &self.params,
            &search_block,
            &slot_a.samples,
            &slot_b.samples,
            &slot_a.validity,
            &slot_b.validity,
            &slot_a.radiometry,
            &slot_b.radiometry,
            &costs,
        ];
        let entries: Vec<wgpu::BindGroupEntry> = (0..)
            .zip(buffers)
            .map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let binding = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("coregister"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            self.dispatch(&mut pass, pipeline, &binding, search.invocations());
        }
        encoder.copy_buffer_to_buffer(&costs, 0, &readback, 0, None);
        self.queue.submit([encoder.finish()]);
        let words = self.read_back(&[&readback])?;
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(self.failure(format!("searching shifts failed: {error}")));
        }
        Ok(ShiftCosts::from_words(radius, &words[0]))
    }
}

#[cfg(test)]
mod tests {
    use crate::kernel::params::Search;

    #[test]
    fn a_search_covers_every_shift_of_the_inner_window() {
        let search = Search::new(100, 40, 3);
        assert_eq!(search.shifts, 49);
        assert_eq!(search.inner_rows, 34);
        assert_eq!(search.segments_per_row, 2);
        assert_eq!(search.invocations(), 49 * 34 * 2);
    }
}
