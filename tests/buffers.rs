//! Resident buffers: round trips of many sizes, copies, the pool, and a dispatch of more
//! than 65535 workgroups.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::gpu::{self, Draw, GpuBuffer};

#[test]
fn round_trips_of_sizes_that_are_not_workgroup_multiples() {
    let ctx = ctx();
    let mut rng = TestRng::new(seed("round_trips"));
    for len in [
        0usize, 1, 3, 63, 64, 65, 255, 257, 1000, 4097, 65_537, 1_000_003,
    ] {
        let data: Vec<f32> = (0..len).map(|_| rng.normal() as f32).collect();
        let buf = GpuBuffer::from_slice(ctx, &data, "test.round_trip").unwrap();
        assert_eq!(buf.len(), len);
        assert_eq!(buf.read(ctx).unwrap(), data, "len {len}");
    }
}

#[test]
fn elements_smaller_than_a_word_round_trip() {
    let ctx = ctx();
    for len in [1usize, 2, 3, 5, 7, 1023] {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
        let buf = GpuBuffer::from_slice(ctx, &data, "test.bytes").unwrap();
        assert_eq!(buf.read(ctx).unwrap(), data, "len {len}");
        let halves: Vec<u16> = (0..len).map(|i| (i * 7919 % 65_521) as u16).collect();
        let buf = GpuBuffer::from_slice(ctx, &halves, "test.halves").unwrap();
        assert_eq!(buf.read(ctx).unwrap(), halves, "len {len}");
    }
}

#[test]
fn zeroed_buffers_are_zero_even_when_reused_from_the_pool() {
    let ctx = ctx();
    for _ in 0..3 {
        let dirty = GpuBuffer::from_slice(ctx, &vec![7.5f32; 5000], "test.dirty").unwrap();
        drop(dirty);
        let clean = GpuBuffer::<f32>::zeroed(ctx, 5000, "test.clean").unwrap();
        assert!(clean.read(ctx).unwrap().iter().all(|&v| v == 0.0));
    }
}

#[test]
fn dropped_buffers_return_to_the_pool() {
    let ctx = ctx();
    // A size class no other test uses, so parallel tests cannot take it in between.
    let len = 3_333_331;
    drop(GpuBuffer::<u32>::zeroed(ctx, len, "test.pool").unwrap());
    let idle = ctx.pool_idle_bytes();
    assert!(idle >= 4 * len as u64, "idle {idle}");
}

#[test]
fn copies_and_partial_writes() {
    let ctx = ctx();
    let src = GpuBuffer::from_slice(ctx, &[1u32, 2, 3, 4, 5], "test.src").unwrap();
    let dst = GpuBuffer::<u32>::zeroed(ctx, 8, "test.dst").unwrap();
    dst.copy_from(ctx, &src).unwrap();
    dst.write_at(ctx, 6, &[9, 10]).unwrap();
    assert_eq!(dst.read(ctx).unwrap(), [1, 2, 3, 4, 5, 0, 9, 10]);
    assert!(
        dst.write_at(ctx, 7, &[1, 2]).is_err(),
        "writes past the end are refused"
    );
    assert!(
        src.copy_from(ctx, &dst).is_err(),
        "copies into a smaller buffer are refused"
    );
}

#[test]
fn a_dispatch_of_more_than_65535_workgroups_covers_every_element() {
    let ctx = ctx();
    // The fill kernel runs 64 invocations per workgroup, 4 elements each.
    let max = ctx.limits().max_compute_workgroups_per_dimension as usize;
    let len = (max + 7) * 64 * 4 + 3;
    let out = GpuBuffer::<u32>::scratch(ctx, len, "test.large").unwrap();
    let seed = seed("large_dispatch");
    let mut rec = ctx.recorder("test.large");
    gpu::record_fill(&mut rec, &out, seed, 5, Draw::Bits).unwrap();
    let pending = rec.read(&out).unwrap();
    rec.submit().unwrap();
    let got = pending.wait(ctx).unwrap();
    let key = morphogen::rng::seed_key(seed);
    let mut rng = TestRng::new(seed);
    let probes = (0..2000)
        .map(|_| rng.below(len))
        .chain([0, len - 1, len - 2, len - 4, max * 256]);
    for i in probes {
        let block = morphogen::rng::philox4x32_10([(i / 4) as u32, 5, 0, 0], key);
        assert_eq!(got[i], block[i % 4], "element {i} of {len}");
    }
}
