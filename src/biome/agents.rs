//! The agent side of a world on the GPU: the program table, its layout block, and the
//! per-agent scratch the agent kernels share.

use bytemuck::{Pod, Zeroable};

use crate::biome::config::BiomeConfig;
use crate::biome::program::{Mutator, Net, ProgramLayout, ProgramTable};
use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, GpuContext};

/// Floats per listed agent in the parallel op's output.
pub(crate) const SHARE_STRIDE: usize = 24;
/// Counters of the `control` buffer before the per-world candidate counts
/// (`CONTROL_SLOTS` of `shaders/biome/control.wgsl`).
const CONTROL_SLOTS: usize = 2;
/// Floats per listed agent in the spawn payload.
pub(crate) const SPAWN_STRIDE: usize = 12;
/// Reproductions per step the reproduce kernel carries out at most.
pub const MAX_REPRODUCTIONS_PER_STEP: u32 = 16;

/// Mirrors `NetAt` in `shaders/common/agent.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
struct NetBlock {
    w0: u32,
    b0: u32,
    w1: u32,
    b1: u32,
    inputs: u32,
    outputs: u32,
    pad: [u32; 2],
}

impl From<Option<Net>> for NetBlock {
    fn from(net: Option<Net>) -> Self {
        net.map_or_else(Self::default, |n| Self {
            w0: n.w0 as u32,
            b0: n.b0 as u32,
            w1: n.w1 as u32,
            b1: n.b1 as u32,
            inputs: n.inputs as u32,
            outputs: n.outputs as u32,
            pad: [0; 2],
        })
    }
}

/// Mirrors `AgentLayout` in `shaders/common/agent.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct LayoutBlock {
    stride: u32,
    slots: u32,
    state_size: u32,
    extended: u32,
    perceive_ids: u32,
    mutator: u32,
    params_len: u32,
    picks: u32,
    nsl_w: u32,
    nsl_b: u32,
    denm_b: u32,
    denm_keep: u32,
    excl_b: u32,
    excl_min_en: u32,
    excl_max_neigh: u32,
    excl_sensitivity: u32,
    excl_en_perc: u32,
    repr_threshold: u32,
    min_dist: u32,
    max_dist: u32,
    mutate_sd: f32,
    change_perc: f32,
    meta_sd_perc: f32,
    capacity: u32,
    dsm: NetBlock,
    nsl_net: NetBlock,
    denm_net: NetBlock,
    excl_net: NetBlock,
}

/// Mirrors `Table` in `shaders/common/biome.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct TableBlock {
    slots: u32,
    capacity: u32,
    pad: [u32; 2],
}

/// Program tables and agent scratch of a batch of worlds: each world's table of `slots`
/// programs follows the previous world's in `programs` (and in `slot_ok`, `id_counts`,
/// `id_cells`).
pub(crate) struct AgentTables {
    /// The programs' layout and floats per slot (the programs themselves live on the GPU
    /// and change there through mutation).
    pub layout: ProgramLayout,
    pub stride: usize,
    /// Program slots per world.
    pub slots: usize,
    pub capacity: usize,
    pub programs: GpuBuffer<f32>,
    pub slot_ok: GpuBuffer<u32>,
    pub layout_block: GpuBuffer<LayoutBlock>,
    pub sizes: GpuBuffer<TableBlock>,
    /// Listed agent cells of the batch, and each listed cell's position.
    pub list: GpuBuffer<u32>,
    pub list_pos: GpuBuffer<u32>,
    /// Counters of each step (agents listed, beyond the table, then each world's
    /// reproduction candidates), at the slots `shaders/biome/control.wgsl` names.
    pub control: GpuBuffer<u32>,
    /// Workgroup counts of the dispatches over the list.
    pub args: GpuBuffer<u32>,
    pub share: GpuBuffer<f32>,
    pub spawn: GpuBuffer<f32>,
    pub id_counts: GpuBuffer<u32>,
    pub id_cells: GpuBuffer<u32>,
    pub candidates: GpuBuffer<[u32; 2]>,
}

impl AgentTables {
    /// The tables of one world of `world_cells` cells per program table in `tables`.
    pub fn new(
        ctx: &GpuContext,
        config: &BiomeConfig,
        world_cells: usize,
        tables: &[ProgramTable],
    ) -> Result<Self> {
        let Some(table) = tables.first() else {
            return Err(Error::invalid("a batch needs at least one world"));
        };
        let worlds = tables.len();
        let cells = world_cells * worlds;
        let agents = &config.agents;
        if config.n_reproduce_per_step > MAX_REPRODUCTIONS_PER_STEP {
            return Err(Error::invalid(format!(
                "n_reproduce_per_step {} is above {MAX_REPRODUCTIONS_PER_STEP}",
                config.n_reproduce_per_step
            )));
        }
        let slots = agents.slots as usize;
        for t in tables {
            if t.slots() != slots || t.layout.model != agents.model || t.stride != table.stride {
                return Err(Error::invalid(format!(
                    "a program table holds {} {:?} programs but the config asks for {slots} \
                     {:?}",
                    t.slots(),
                    t.layout.model,
                    agents.model
                )));
            }
        }
        let max = ctx.max_binding_bytes() as usize;
        if table.data.len() * 4 * worlds > max {
            return Err(Error::invalid(format!(
                "{worlds} x {slots} programs of {} floats exceed one GPU buffer binding ({max} \
                 bytes); use fewer slots or fewer worlds per batch",
                table.stride
            )));
        }
        let data: Vec<f32> = tables.iter().flat_map(|t| t.data.iter().copied()).collect();
        let usable: Vec<u32> = tables.iter().flat_map(|t| t.usable()).collect();
        // Agents the per-agent scratch holds: every cell, or as many as one binding of the
        // largest record allows.
        let capacity = cells.min(max / (SHARE_STRIDE * 4)).max(1);
        let l = &table.layout;
        let (mutator, sd, change, meta) = match agents.mutator {
            Mutator::None => (0, 0.0, 0.0, 0.0),
            Mutator::Basic { sd, change_perc } => (1, sd, change_perc, 0.0),
            Mutator::Adaptive {
                init_sd: _,
                change_perc,
                meta_sd_perc,
            } => (2, 0.0, change_perc, meta_sd_perc),
        };
        let block = LayoutBlock {
            stride: table.stride as u32,
            slots: slots as u32,
            state_size: config.agent_state_size,
            extended: u32::from(l.dsm.is_some()),
            perceive_ids: u32::from(agents.perceive_ids),
            mutator,
            params_len: l.len as u32,
            picks: config.n_reproduce_per_step,
            nsl_w: l.nsl_w as u32,
            nsl_b: l.nsl_b as u32,
            denm_b: l.denm_b as u32,
            denm_keep: l.denm_keep as u32,
            excl_b: l.excl_b as u32,
            excl_min_en: l.excl_min_en as u32,
            excl_max_neigh: l.excl_max_neigh as u32,
            excl_sensitivity: l.excl_sensitivity as u32,
            excl_en_perc: l.excl_en_perc as u32,
            repr_threshold: l.repr_threshold as u32,
            min_dist: config.reproduce_min_dist,
            max_dist: config.reproduce_max_dist,
            mutate_sd: sd as f32,
            change_perc: change as f32,
            meta_sd_perc: meta as f32,
            capacity: capacity as u32,
            dsm: l.dsm.into(),
            nsl_net: l.nsl_net.into(),
            denm_net: l.denm_net.into(),
            excl_net: l.excl_net.into(),
        };
        let label = |name: &str| format!("morphogen.biome.agents.{name}");
        Ok(Self {
            programs: GpuBuffer::from_slice(ctx, &data, &label("programs"))?,
            slot_ok: GpuBuffer::from_slice(ctx, &usable, &label("slot_ok"))?,
            layout_block: GpuBuffer::uniform(ctx, &block, &label("layout"))?,
            sizes: GpuBuffer::uniform(
                ctx,
                &TableBlock {
                    slots: slots as u32,
                    capacity: capacity as u32,
                    pad: [0; 2],
                },
                &label("table"),
            )?,
            list: GpuBuffer::zeroed(ctx, capacity, &label("list"))?,
            list_pos: GpuBuffer::zeroed(ctx, cells, &label("list_pos"))?,
            control: GpuBuffer::zeroed(ctx, CONTROL_SLOTS + worlds, &label("control"))?,
            args: GpuBuffer::indirect(ctx, 4, &label("args"))?,
            share: GpuBuffer::zeroed(ctx, capacity * SHARE_STRIDE, &label("share"))?,
            spawn: GpuBuffer::zeroed(ctx, capacity * SPAWN_STRIDE, &label("spawn"))?,
            id_counts: GpuBuffer::zeroed(ctx, slots * worlds, &label("id_counts"))?,
            id_cells: GpuBuffer::zeroed(ctx, slots * worlds, &label("id_cells"))?,
            candidates: GpuBuffer::zeroed(ctx, cells, &label("candidates"))?,
            layout: table.layout.clone(),
            stride: table.stride,
            slots,
            capacity,
        })
    }

    /// Replaces world `world`'s programs (same shape) and their usable flags.
    pub fn upload(&self, ctx: &GpuContext, world: usize, table: &ProgramTable) -> Result<()> {
        let len = self.slots * self.stride;
        if table.data.len() != len || table.stride != self.stride {
            return Err(Error::invalid(format!(
                "a table of {} floats ({} per slot) cannot replace one of {len} ({} per slot)",
                table.data.len(),
                table.stride,
                self.stride
            )));
        }
        self.programs.write_at(ctx, world * len, &table.data)?;
        self.slot_ok
            .write_at(ctx, world * self.slots, &table.usable())
    }

    /// World `world`'s programs as they are now on the GPU.
    pub fn download(&self, ctx: &GpuContext, world: usize) -> Result<ProgramTable> {
        let len = self.slots * self.stride;
        let mut rec = ctx.recorder("morphogen.biome.programs");
        let pending = rec.read_range(&self.programs, world * len, len)?;
        rec.submit()?;
        Ok(ProgramTable {
            layout: self.layout.clone(),
            stride: self.stride,
            data: pending.wait(ctx)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CONTROL_SLOTS;
    use crate::gpu::preprocess::u32_constants;

    #[test]
    fn the_control_buffer_holds_every_named_slot() {
        let wgsl = u32_constants("biome/control").unwrap();
        assert_eq!(wgsl.get("CONTROL_SLOTS"), Some(&(CONTROL_SLOTS as u32)));
        // The per-world counts start right after the batch's counters.
        assert_eq!(
            wgsl.get("CONTROL_CANDIDATES"),
            Some(&(CONTROL_SLOTS as u32))
        );
        for (name, slot) in &wgsl {
            assert!(
                *slot < CONTROL_SLOTS as u32
                    || name == "CONTROL_SLOTS"
                    || name == "CONTROL_CANDIDATES",
                "{name}"
            );
        }
    }
}
