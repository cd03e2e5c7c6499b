//! Biome configuration, presets, initial layouts and checkpoint files (no GPU needed).

use morphogen::biome::{
    kind, BiomeConfig, Checkpoint, Layout, Preset, ProgramTable, Width, WorldState,
};

#[test]
fn presets_carry_the_published_values() {
    let p = BiomeConfig::preset(Preset::Persistence);
    assert_eq!(p.dissipation_per_step, [0.01, 0.01]);
    assert_eq!(p.spawn_cost, [0.75, 0.75]);
    assert_eq!(p.max_lifetime, 10_000);
    assert_eq!((p.reproduce_min_dist, p.reproduce_max_dist), (15, 35));
    let q = BiomeConfig::preset(Preset::Pestilence);
    assert_eq!((q.max_lifetime, q.specialize_cost), (300, [0.05, 0.05]));
    let c = BiomeConfig::preset(Preset::Collaboration);
    assert_eq!((c.struct_integrity_cap, c.spawn_cost[0]), (300.0, 0.25));
    assert_eq!(c.max_lifetime, 100_000_000);
    let s = BiomeConfig::preset(Preset::Sideways);
    assert_eq!(
        (s.struct_integrity_cap, s.layout),
        (400.0, Layout::Sideways)
    );
    let d = BiomeConfig::default();
    assert_eq!((d.reproduce_min_dist, d.reproduce_max_dist), (5, 15));
    assert_eq!(d.max_lifetime, 1_000_000);
    for preset in Preset::ALL {
        BiomeConfig::preset(preset).validate().unwrap();
        assert_eq!(preset.name().parse::<Preset>().unwrap(), preset);
    }
}

#[test]
fn widths_follow_the_reference() {
    assert_eq!(Width::Wide.columns(72), 288);
    assert_eq!(Width::Landscape.columns(72), 128);
    assert_eq!(Width::Landscape.columns(16), 28);
    assert_eq!(Width::Square.columns(72), 72);
    assert_eq!(Width::Petri.columns(72), 36);
    assert_eq!("landscape".parse::<Width>().unwrap(), Width::Landscape);
    assert_eq!("300".parse::<Width>().unwrap(), Width::Columns(300));
    assert!("tall".parse::<Width>().is_err());
}

fn column_types(world: &WorldState, col: usize) -> Vec<u32> {
    (0..world.height).map(|r| world.type_at(r, col)).collect()
}

#[test]
fn default_layout_has_sun_rock_earth_and_a_seed() {
    for h in [16usize, 17, 72] {
        let config = BiomeConfig::preset(Preset::Persistence)
            .height(h as u32)
            .width(Width::Landscape);
        let world = WorldState::initial(&config).unwrap();
        let w = world.width;
        let seed_col = w / 2;
        for c in 0..w {
            assert_eq!(world.type_at(0, c), kind::SUN);
            assert_eq!(world.type_at(h - 1, c), kind::IMMOVABLE);
            if c == seed_col {
                continue;
            }
            // Earth fills rows floor(h/2) ..= h-2.
            for r in 1..h - 1 {
                let want = if r >= h / 2 { kind::EARTH } else { kind::AIR };
                assert_eq!(world.type_at(r, c), want, "h={h} cell ({r}, {c})");
            }
            let e = world.state_at(h / 2, c);
            assert_eq!((e[2], e[3]), (2.0, 0.0), "earth holds earth nutrient only");
            let a = world.state_at(1, c);
            assert_eq!((a[2], a[3]), (0.0, 2.0), "air holds air nutrient only");
        }
        // The seed: two UNSPECIALIZED cells on the topmost air-over-earth spot.
        let col = column_types(&world, seed_col);
        assert_eq!(col[h / 2 - 1], kind::UNSPECIALIZED);
        assert_eq!(col[h / 2], kind::UNSPECIALIZED);
        let s = world.state_at(h / 2 - 1, seed_col);
        let want = 4.0 * 0.01 + 0.02;
        assert!((f64::from(s[2]) - want).abs() < 1e-7 && (f64::from(s[3]) - want).abs() < 1e-7);
        assert_eq!(s[0], 0.0);
        assert_eq!(world.ids[world.index(h / 2 - 1, seed_col)], 0);
        let census = world.census();
        assert_eq!(census[kind::UNSPECIALIZED as usize], 2);
    }
}

#[test]
fn sideways_layout_has_a_sun_triangle_and_a_rock_staircase() {
    let config = BiomeConfig::preset(Preset::Sideways)
        .height(72)
        .width(Width::Landscape);
    let world = WorldState::initial(&config).unwrap();
    let (h, w) = (world.height, world.width);
    for wi in 0..10 {
        let span = 20 - 2 * wi;
        for c in 0..w {
            let top = world.type_at(wi, c);
            let sun = c < span;
            assert_eq!(top == kind::SUN, sun, "row {wi} col {c}");
            let bottom = world.type_at(h - 1 - wi, c);
            assert_eq!(
                bottom == kind::IMMOVABLE,
                c >= w - span,
                "row {} col {c}",
                h - 1 - wi
            );
        }
    }
    // Row 0 beyond the triangle is AIR and the bottom row left of the staircase is EARTH,
    // both with fresh nutrients.
    assert_eq!(world.type_at(0, w - 1), kind::AIR);
    assert_eq!(world.state_at(0, w - 1)[3], 2.0);
    assert_eq!(world.type_at(h - 1, 0), kind::EARTH);
    assert_eq!(world.state_at(h - 1, 0)[2], 2.0);
    assert_eq!(world.type_at(h / 2 - 1, w / 2), kind::UNSPECIALIZED);
}

#[test]
fn toml_round_trips_and_presets_can_be_overridden() {
    let config = BiomeConfig::preset(Preset::Pestilence)
        .height(40)
        .width(Width::Columns(90))
        .soil_unbalance_limit(1.0 / 3.0);
    let text = config.to_toml().unwrap();
    assert_eq!(BiomeConfig::from_toml(&text).unwrap(), config);

    let over = BiomeConfig::from_toml(
        "preset = \"collaboration\"\nheight = 20\nwidth = \"square\"\nspawn_cost = [0.3, 0.4]\n",
    )
    .unwrap();
    assert_eq!(over.struct_integrity_cap, 300.0);
    assert_eq!((over.height, over.columns()), (20, 20));
    assert_eq!(over.spawn_cost, [0.3, 0.4]);
    // The reference's spelling is accepted.
    let alias = BiomeConfig::from_toml("absorbtion_amounts = [0.5, 0.5]").unwrap();
    assert_eq!(alias.absorption_amounts, [0.5, 0.5]);
    // The petri-dish mode is written only when set, and read back.
    let mut petri = config.clone();
    petri.intercept_reproduction = Some([0.08, 0.08]);
    let text = petri.to_toml().unwrap();
    assert!(text.contains("intercept_reproduction"));
    assert_eq!(BiomeConfig::from_toml(&text).unwrap(), petri);
    assert!(!config.to_toml().unwrap().contains("intercept_reproduction"));
}

#[test]
fn bad_configs_are_clear_errors() {
    let cases = [
        ("preset = \"drought\"", "unknown preset"),
        ("height = 3", "below 4"),
        ("width = 0", "0 columns"),
        ("spawn_cost = [-0.1, 0.1]", "spawn_cost"),
        ("nutrient_cap = [0.0, 10.0]", "nutrient_cap"),
        (
            "reproduce_min_dist = 20\nreproduce_max_dist = 10",
            "exceeds",
        ),
        ("max_lifetime = 0", "max_lifetime"),
        ("soil_unbalance_limit = 0.7", "soil_unbalance_limit"),
        ("colour = 3", "unknown key"),
        (
            "intercept_reproduction = [-1.0, 0.1]",
            "intercept_reproduction",
        ),
        ("width = \"tall\"", "unknown width"),
        ("preset = \"sideways\"\nheight = 12", "sideways"),
    ];
    for (text, needle) in cases {
        let err = BiomeConfig::from_toml(text).unwrap_err().to_string();
        assert!(
            err.contains(needle),
            "{text:?} gave {err:?}, wanted {needle:?}"
        );
    }
}

#[test]
fn checkpoints_round_trip_and_reject_other_files() {
    let config = BiomeConfig::preset(Preset::Persistence)
        .height(16)
        .width(Width::Landscape);
    let mut world = WorldState::initial(&config).unwrap();
    world.state[5] = 1.25;
    world.ids[40] = 3;
    let cp = Checkpoint {
        programs: ProgramTable::initial(&config, 5),
        config: config.clone(),
        seed: 99,
        step: 1234,
        world,
    };
    let bytes = cp.encode().unwrap();
    let back = Checkpoint::decode(&bytes, "x.safetensors".as_ref()).unwrap();
    assert_eq!(back, cp);
    let err = Checkpoint::decode(b"not a checkpoint", "x.safetensors".as_ref()).unwrap_err();
    assert!(err.to_string().contains("x.safetensors"), "{err}");
}

#[test]
fn identical_checkpoints_are_identical_files() {
    let config = BiomeConfig::preset(Preset::Pestilence)
        .height(16)
        .width(Width::Square);
    let cp = Checkpoint {
        programs: ProgramTable::initial(&config, 8),
        config: config.clone(),
        seed: 3,
        step: 77,
        world: WorldState::initial(&config).unwrap(),
    };
    let dir = std::env::temp_dir().join(format!("morphogen-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    cp.save(&a).unwrap();
    cp.clone().save(&b).unwrap();
    let first = std::fs::read(&a).unwrap();
    assert!(
        first == std::fs::read(&b).unwrap(),
        "two saves of one state differ"
    );
    // Each encoding builds its own metadata map; a map iterated in hash order would
    // differ between some of these.
    for k in 0..16 {
        assert!(cp.encode().unwrap() == first, "encoding {k} differs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shipped_preset_files_are_the_presets() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/biome");
    for preset in Preset::ALL {
        let path = dir.join(format!("{}.toml", preset.name()));
        let want = BiomeConfig::preset(preset);
        if std::env::var_os("MORPHOGEN_WRITE_ASSETS").is_some() {
            want.save(&path).unwrap();
        }
        let got = BiomeConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, want, "{} differs from the preset", path.display());
    }
}
