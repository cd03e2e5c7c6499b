// Associative reduction states as vec2<f32>, chosen by one of the defines OP_SUM, OP_MAX,
// OP_LSE, and the workgroup tree reduction over them.
//   OP_SUM: (sum, compensation) with Neumaier's error-free merge, value = sum + compensation
//   OP_MAX: (max, unused)
//   OP_LSE: (m, s) as in lse.wgsl, value = m + log(s)
// The importing kernel declares `override WG: u32` (a power of two) before the import.

#import lse

fn red_identity() -> vec2<f32> {
#ifdef OP_SUM
    return vec2<f32>(0.0, 0.0);
#else
    return lse_empty();
#endif
}

fn red_lift(x: f32) -> vec2<f32> {
#ifdef OP_LSE
    return lse_of(x);
#else
    return vec2<f32>(x, 0.0);
#endif
}

fn red_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
#ifdef OP_SUM
    let t = a.x + b.x;
    var err = 0.0;
    if (f32_is_finite(t)) {
        err = select((b.x - t) + a.x, (a.x - t) + b.x, abs(a.x) >= abs(b.x));
    }
    return vec2<f32>(t, a.y + b.y + err);
#endif
#ifdef OP_MAX
    return vec2<f32>(max(a.x, b.x), 0.0);
#endif
#ifdef OP_LSE
    return lse_merge(a, b);
#endif
}

fn red_value(p: vec2<f32>) -> f32 {
#ifdef OP_SUM
    if (!f32_is_finite(p.x)) {
        return p.x;
    }
    return p.x + p.y;
#endif
#ifdef OP_MAX
    return p.x;
#endif
#ifdef OP_LSE
    return lse_value(p);
#endif
}

var<workgroup> red_scratch: array<vec2<f32>, WG>;

// Reduces one state per invocation to the workgroup's result, returned to every invocation.
// Must be reached by all invocations of the workgroup (it contains barriers).
fn red_workgroup(lid: u32, value: vec2<f32>) -> vec2<f32> {
    red_scratch[lid] = value;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            red_scratch[lid] = red_merge(red_scratch[lid], red_scratch[lid + stride]);
        }
        workgroupBarrier();
    }
    let result = red_scratch[0];
    workgroupBarrier();
    return result;
}
