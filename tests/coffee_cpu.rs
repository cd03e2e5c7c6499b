//! The coffee automaton's host side, no GPU: coarse-graining against a brute-force window
//! average (borders and exact bucket ties included), both adjustments on hand-made rows,
//! the twin's conservation, the reference schedules, the configuration's checks and the
//! polynomial fits of the scaling study.

mod common;

use common::{seed, TestRng};
use morphogen::coffee::{
    coarse_grain, default_grain, fit_polynomial, reference, Adjust, Boundary, CoffeeConfig, Model,
    ReplicaClock, Schedule,
};

/// The window average of cell (r, c) the slow way, as an exact fraction (sum, count).
fn window(cells: &[u32], n: usize, g: usize, r: usize, c: usize) -> (u64, u64) {
    let h = (g / 2) as isize;
    let (mut sum, mut count) = (0u64, 0u64);
    for dr in -h..=h {
        for dc in -h..=h {
            let (rr, cc) = (r as isize + dr, c as isize + dc);
            if rr >= 0 && cc >= 0 && (rr as usize) < n && (cc as usize) < n {
                sum += u64::from(cells[rr as usize * n + cc as usize]);
                count += 1;
            }
        }
    }
    (sum, count)
}

/// Buckets of an exact average `sum / count`: the first bucket whose upper bound
/// (1/3, 2/3; or k/6 of `max_value`) the average does not exceed, compared as exact
/// fractions. (Ties are pinned separately by `exact_ties_go_to_the_lower_bucket`.)
fn brute_buckets(sum: u64, count: u64, max_value: u32) -> (u8, u8) {
    let at_most = |num: u64, den: u64| sum * den <= num * count;
    let three = (1..=2u64).position(|k| at_most(k, 3)).unwrap_or(2) as u8;
    let m = u64::from(max_value);
    let seven = (0..=6u64).position(|k| at_most(k * m, 6)).unwrap_or(6) as u8;
    (three, seven)
}

#[test]
fn coarse_graining_matches_brute_force_windows() {
    let s = seed("coarse_graining_matches_brute_force_windows");
    let mut rng = TestRng::new(s);
    for (model, n, grain) in [
        (Model::Interacting, 8, 3),
        (Model::Interacting, 12, 5),
        (Model::Interacting, 10, 9),
        (Model::NonInteracting, 12, 3),
        (Model::NonInteracting, 16, 9),
    ] {
        let config = CoffeeConfig::default()
            .model(model)
            .size(n)
            .grain(grain)
            .adjust(Adjust::Cellwise);
        for _ in 0..20 {
            let cells: Vec<u32> = (0..n * n)
                .map(|_| match model {
                    Model::Interacting => u32::from(rng.uniform() < 0.5),
                    Model::NonInteracting => rng.below(5) as u32,
                })
                .collect();
            let [coarse, buckets, _] =
                reference::coarse_grain(&cells, n, grain, config.max_value(), Adjust::Rowwise);
            for r in 0..n {
                for c in 0..n {
                    let (sum, count) = window(&cells, n, grain, r, c);
                    let (three, seven) = brute_buckets(sum, count, config.max_value());
                    assert_eq!(
                        coarse[r * n + c],
                        three,
                        "{model:?} n={n} g={grain} ({r}, {c})"
                    );
                    assert_eq!(
                        buckets[r * n + c],
                        seven,
                        "{model:?} n={n} g={grain} ({r}, {c})"
                    );
                }
            }
            // The public entry point gives the same coarse state.
            assert_eq!(coarse_grain(&cells, &config).coarse, coarse);
        }
    }
}

#[test]
fn exact_ties_go_to_the_lower_bucket() {
    // A 6 x 6 grid, grain 5: cell (0, 0)'s window is the 3 x 3 corner (9 cells), cell
    // (2, 2)'s the 5 x 5 centre (25 cells).
    let n = 6;
    let with_corner_sum = |ones: usize| -> Vec<u32> {
        let mut cells = vec![0u32; n * n];
        for k in 0..ones {
            cells[(k / 3) * n + k % 3] = 1;
        }
        cells
    };
    let buckets = |cells: &[u32], max_value: u32| {
        let [coarse, seven, _] = reference::coarse_grain(cells, n, 5, max_value, Adjust::Rowwise);
        (coarse[0], seven[0])
    };
    // 3/9 = 1/3 exactly: the low bucket of three; 6/9 = 2/3: the middle one.
    assert_eq!(buckets(&with_corner_sum(3), 1).0, 0);
    assert_eq!(buckets(&with_corner_sum(4), 1).0, 1);
    assert_eq!(buckets(&with_corner_sum(6), 1).0, 1);
    assert_eq!(buckets(&with_corner_sum(7), 1).0, 2);
    // 6/9 = 4/6 exactly: bucket 4 (not 5); 3/9 = 2/6: bucket 2.
    assert_eq!(buckets(&with_corner_sum(6), 1).1, 4);
    assert_eq!(buckets(&with_corner_sum(3), 1).1, 2);
    assert_eq!(buckets(&with_corner_sum(9), 1).1, 6);
    // The 5/6 tie: 15 of 18 counts over 9 cells with max value 2 (average 15/9, scaled
    // 15/18 = 5/6) is bucket 5; one more count is bucket 6.
    let mut cells = vec![0u32; n * n];
    for (k, v) in [2, 2, 2, 2, 2, 2, 1, 1, 1].into_iter().enumerate() {
        cells[(k / 3) * n + k % 3] = v;
    }
    assert_eq!(buckets(&cells, 2).1, 5);
    cells[2 * n + 2] += 1;
    assert_eq!(buckets(&cells, 2).1, 6);
    // Averages above max_value are bucket 6.
    let full = vec![9u32; n * n];
    assert_eq!(buckets(&full, 3).1, 6);
    assert_eq!(reference::seven_buckets(0, 9, 1), 0);
}

#[test]
fn rowwise_adjustment_flattens_rows_that_span_one_bucket() {
    use reference::adjust_row;
    // Spans one bucket: the whole row takes its majority.
    assert_eq!(adjust_row(&[3, 4, 4, 3, 4], Adjust::Rowwise), vec![4; 5]);
    // A tie goes to the value seen first from the left.
    assert_eq!(adjust_row(&[4, 3, 3, 4], Adjust::Rowwise), vec![4; 4]);
    assert_eq!(adjust_row(&[3, 4, 4, 3], Adjust::Rowwise), vec![3; 4]);
    // Spans two buckets: unchanged, even if one cell is the odd one out.
    assert_eq!(adjust_row(&[3, 3, 3, 5], Adjust::Rowwise), vec![3, 3, 3, 5]);
    assert_eq!(adjust_row(&[0, 0, 0, 0], Adjust::Rowwise), vec![0; 4]);
}

#[test]
fn cellwise_adjustment_moves_cells_within_one_bucket_of_the_majority() {
    use reference::adjust_row;
    assert_eq!(
        adjust_row(&[3, 3, 3, 5, 2, 4, 6, 3], Adjust::Cellwise),
        vec![3, 3, 3, 5, 3, 3, 6, 3]
    );
    // Tie between 1 and 5 (two each): 5 is seen first.
    assert_eq!(
        adjust_row(&[5, 1, 1, 5, 4, 0], Adjust::Cellwise),
        vec![5, 1, 1, 5, 5, 0]
    );
    assert_eq!(reference::majority(&[2, 6, 6, 2, 1]), 2);
}

#[test]
fn the_twins_conserve_cream() {
    let s = seed("the_twins_conserve_cream");
    for boundary in [Boundary::Closed, Boundary::Periodic] {
        let n = 8;
        let mut cells = reference::initial_cells(n);
        let mut clock = ReplicaClock::default();
        for target in [10, 100, 1000] {
            assert!(reference::advance(
                &mut cells,
                n,
                boundary,
                s,
                0,
                &mut clock,
                target,
                morphogen::coffee::Clock::Swaps,
                u64::MAX
            ));
            assert_eq!(cells.iter().sum::<u32>(), 32);
            assert_eq!(clock.swaps, target);
        }
        let mut particles = reference::initial_particles(n);
        reference::walk(&mut particles, n, boundary, s, 3, 0, 500);
        let counts = reference::counts(&particles, n);
        assert_eq!(counts.iter().sum::<u32>(), 32);
    }
}

#[test]
fn a_grid_without_differing_neighbours_stops_at_the_attempt_cap() {
    let mut cells = vec![1u32; 16];
    let mut clock = ReplicaClock::default();
    let reached = reference::advance(
        &mut cells,
        4,
        Boundary::Closed,
        1,
        0,
        &mut clock,
        5,
        morphogen::coffee::Clock::Swaps,
        1000,
    );
    assert!(!reached);
    assert_eq!(
        clock,
        ReplicaClock {
            swaps: 0,
            attempts: 1000
        }
    );
}

#[test]
fn reference_schedules_are_the_authors() {
    let s = Schedule::reference(Model::Interacting, 100);
    assert_eq!((s.interval, s.end), (26_547, 42_476_000));
    assert_eq!(s.len(), 1601);
    assert_eq!(s.last(), 1600 * 26_547);
    let s = Schedule::reference(Model::Interacting, 20);
    assert_eq!((s.interval, s.end), (62, 100_000));
    let s = Schedule::reference(Model::NonInteracting, 100);
    assert_eq!((s.interval, s.end), (12, 20_000));
    // Below n = 29 the authors sample every step.
    assert_eq!(Schedule::reference(Model::NonInteracting, 20).interval, 1);
    // Never more samples than asked, the last at or before the end.
    for (steps, samples) in [(1000u64, 401usize), (600, 401), (999, 10), (7, 3), (5, 50)] {
        let s = Schedule::spread(steps, samples);
        assert!(
            s.len() <= samples,
            "{steps} steps, {samples} samples: {}",
            s.len()
        );
        assert!(s.last() <= steps && s.last() + s.interval > steps, "{s:?}");
    }
    let spread = Schedule::spread(1000, 11);
    assert_eq!(
        spread.times().collect::<Vec<_>>(),
        (0..=10).map(|k| k * 100).collect::<Vec<_>>()
    );
    assert_eq!(default_grain(100), 9);
    assert_eq!(default_grain(50), 7);
    assert_eq!(default_grain(16), 3);
    assert_eq!(
        CoffeeConfig::default()
            .model(Model::NonInteracting)
            .max_value(),
        3
    );
}

#[test]
fn bad_configurations_say_what_is_wrong() {
    let check = |c: CoffeeConfig, needle: &str| {
        let e = c.validate().unwrap_err();
        assert!(e.contains(needle), "{e}");
    };
    check(CoffeeConfig::default().size(7), "even");
    check(CoffeeConfig::default().size(2), "at least 4");
    check(CoffeeConfig::default().replicas(0), "replicas");
    check(
        CoffeeConfig::default().size(8).grain(9),
        "larger than the grid",
    );
    check(CoffeeConfig::default().grain(4), "odd");
    check(
        CoffeeConfig::default()
            .model(Model::NonInteracting)
            .size(4096)
            .grain(4095),
        "32-bit",
    );
    assert!(CoffeeConfig::default().validate().is_ok());
}

#[test]
fn polynomial_fits_recover_exact_polynomials() {
    let points: Vec<(f64, f64)> = [20.0, 40.0, 60.0, 80.0, 100.0]
        .iter()
        .map(|&n| (n, 2495.0 * n * n - 173_600.0 * n + 3_029_000.0))
        .collect();
    let fit = fit_polynomial(&points, 2).unwrap();
    for (got, want) in fit
        .coefficients
        .iter()
        .zip([3_029_000.0, -173_600.0, 2495.0])
    {
        assert!((got - want).abs() <= 1e-6 * want.abs(), "{got} vs {want}");
    }
    assert!((fit.r_squared - 1.0).abs() < 1e-12);
    let noisy = [(1.0, 1.0), (2.0, 2.2), (3.0, 2.8), (4.0, 4.1)];
    let line = fit_polynomial(&noisy, 1).unwrap();
    assert!(line.r_squared > 0.95 && line.r_squared < 1.0);
    assert!(fit_polynomial(&noisy[..1], 1).is_none());
}
