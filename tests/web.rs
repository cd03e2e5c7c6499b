//! The biome web page end to end in a real browser: headless Chromium (WebGPU on
//! SwiftShader where there is no GPU) loads the built site from a server on 127.0.0.1,
//! runs a fixed number of steps with a fixed seed, and posts its metrics and canvas back;
//! the metrics are compared with the native engine running the same configuration, and
//! the picture is saved as a PNG.
//!
//! Needs the site (`web/build.sh`) and Chromium, so it is ignored by plain `cargo test`;
//! `.ci/run` builds the site and runs it: `cargo test --release --test web -- --ignored`.
//! `MORPHOGEN_CHROMIUM` names the browser binary, `MORPHOGEN_WEB_OUT` where the picture
//! goes (default `target/web-test/`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use morphogen::biome::{BiomeConfig, Census, Preset, RunOptions, Width, World};
use morphogen::flow::train::{Method, Sampler, TrainConfig, Trainer};
use morphogen::gpu::GpuContext;

const PRESET: &str = "persistence";
const HEIGHT: u32 = 40;
const WIDTH: &str = "wide";
const SEED: u64 = 5;
const STEPS: u64 = 120;
/// The evolved program shipped in assets/, as a page would load it from disk.
const PROGRAM: &str = "assets/biomaker/persistence_1697720583799231923.npy";

fn site() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/site");
    assert!(
        dir.join("index.html").is_file() && dir.join("pkg").is_dir(),
        "no site in {}: build it with web/build.sh",
        dir.display()
    );
    dir
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Reads HTTP header lines up to the blank line; returns the Content-Length (0 if none).
fn read_head(reader: &mut impl BufRead) -> std::io::Result<usize> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            return Ok(length);
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
}

/// Serves one request: a file of the site, or the page's report (sent to `reports`).
fn serve(
    mut stream: TcpStream,
    root: &Path,
    reports: &mpsc::Sender<String>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let length = read_head(&mut reader)?;
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split('?').next().unwrap_or("/");
    if method == "POST" && path == "/report" {
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let _ = reports.send(String::from_utf8_lossy(&body).into_owned());
        return stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let relative = path.trim_start_matches('/').replace("..", "");
    // The repository's assets (the shipped program) beside the site.
    let file = match relative.strip_prefix("assets/") {
        Some(rest) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(rest),
        None => root.join(&relative),
    };
    let file = if file.is_dir() {
        file.join("index.html")
    } else {
        file
    };
    match std::fs::read(&file) {
        Ok(bytes) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                mime(&file),
                bytes.len()
            )?;
            stream.write_all(&bytes)
        }
        Err(_) => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}

fn chromium() -> String {
    if let Ok(path) = std::env::var("MORPHOGEN_CHROMIUM") {
        return path;
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("which")
            .arg(name)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return name.into();
        }
    }
    panic!("no Chromium found: install Debian's chromium or set MORPHOGEN_CHROMIUM");
}

struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn launch(url: &str, profile: &Path) -> Browser {
    let child = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu-sandbox",
            "--no-first-run",
            "--enable-unsafe-webgpu",
            "--enable-features=Vulkan",
            "--use-angle=swiftshader",
            "--use-webgpu-adapter=swiftshader",
            "--window-size=1400,1000",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the browser starts");
    Browser(child)
}

/// A PNG of the whole page, taken over the DevTools protocol (the port Chromium wrote into
/// its profile).
fn screenshot(profile: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(profile.join("DevToolsActivePort")).expect("DevTools port");
    let port: u16 = text.lines().next().unwrap().trim().parse().unwrap();
    // The page's target, from the /json/list endpoint.
    let http = TcpStream::connect(("127.0.0.1", port)).unwrap();
    http.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        &http,
        "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    // The DevTools server keeps the connection open: read the body by its length.
    let mut reader = BufReader::new(&http);
    // Skip the status line; the body follows the headers.
    reader.read_line(&mut String::new()).unwrap();
    let length = read_head(&mut reader).unwrap();
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    let targets: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let page = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .expect("a page target");
    let ws = page["webSocketDebuggerUrl"].as_str().unwrap();
    let (mut socket, _) = tungstenite::connect(ws).expect("DevTools websocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
    }
    let request = r#"{"id": 1, "method": "Page.captureScreenshot", "params": {"format": "png"}}"#;
    socket.send(tungstenite::Message::text(request)).unwrap();
    loop {
        let message = socket.read().unwrap();
        let Ok(text) = message.to_text() else {
            continue;
        };
        let reply: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        if reply["id"] == 1 {
            return base64(reply["result"]["data"].as_str().expect("screenshot data"));
        }
    }
}

/// Decodes standard base64 (the canvas's data URL).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |acc, &d| (acc << 6) | u32::from(d)) << (6 * (4 - c.len()));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes[..c.len().saturating_sub(1)].to_vec()
        })
        .collect()
}

/// The native engine on the same configuration: the census after the last step.
fn native(program: Option<&str>) -> (Census, Vec<u8>, String) {
    let ctx = GpuContext::new().expect("a native adapter");
    let config = BiomeConfig::preset(PRESET.parse::<Preset>().unwrap())
        .choose(Some(HEIGHT), Some(WIDTH.parse::<Width>().unwrap()), false)
        .unwrap();
    let mut world = World::new(&ctx, &config, SEED).unwrap();
    if let Some(p) = program {
        world
            .load_program(&Path::new(env!("CARGO_MANIFEST_DIR")).join(p))
            .unwrap();
    }
    let mut last = None;
    world
        .run_with(STEPS, &RunOptions::default().census(true), |_, rows| {
            last = rows.last().copied().or(last);
            Ok(())
        })
        .unwrap();
    let picture = world.render(3).unwrap().rgba;
    (last.expect("a census"), picture, ctx.adapter().to_string())
}

/// Serves the site on a free port of 127.0.0.1; returns the port and the page's reports.
fn start_server() -> (u16, mpsc::Receiver<String>) {
    let root = site();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, reports) = mpsc::channel();
    std::thread::spawn(move || {
        // A thread per connection: browsers open connections they use later, or never.
        for stream in listener.incoming().flatten() {
            let (root, sender) = (root.clone(), sender.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let _ = serve(stream, &root, &sender);
            });
        }
    });
    (port, reports)
}

/// Loads the page with `query`, waits for its report, and takes a screenshot; returns
/// the report (metrics and canvas PNG) and the screenshot.
fn run_page(query: &str) -> (serde_json::Value, Vec<u8>) {
    run_page_at("", query)
}

/// [`run_page`] for the page `page` of the site (`""`: the biome's).
fn run_page_at(page: &str, query: &str) -> (serde_json::Value, Vec<u8>) {
    let (port, reports) = start_server();
    let url = format!("http://127.0.0.1:{port}/{page}?{query}&report=1");
    let profile = std::env::temp_dir().join(format!(
        "morphogen-web-profile-{}-{port}",
        std::process::id()
    ));
    eprintln!("loading {url}");
    let browser = launch(&url, &profile);
    let report = reports
        .recv_timeout(Duration::from_secs(600))
        .expect("the page reported within 10 minutes (is WebGPU available to the browser?)");
    let page = screenshot(&profile);
    drop(browser);
    let _ = std::fs::remove_dir_all(&profile);
    (serde_json::from_str(&report).unwrap(), page)
}

/// Checks a page run against the native engine and saves its pictures as `name`_*.png.
fn check_against_native(name: &str, program: Option<&str>) {
    let mut query = format!(
        "preset={PRESET}&height={HEIGHT}&width={WIDTH}&seed={SEED}&steps={STEPS}&per_frame=8&zoom=3"
    );
    if let Some(p) = program {
        query.push_str(&format!("&program=/{p}"));
    }
    let (report, page_png) = run_page(&query);
    let out = std::env::var("MORPHOGEN_WEB_OUT").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-test"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&out).unwrap();
    let m = &report["metrics"];
    eprintln!("page: {m}");
    let png = base64(
        report["png"]
            .as_str()
            .unwrap()
            .trim_start_matches("data:image/png;base64,"),
    );
    assert_eq!(&png[1..4], b"PNG", "the page sent a PNG");
    assert_eq!(&page_png[1..4], b"PNG", "DevTools sent a PNG");
    let (shot, canvas) = (
        out.join(format!("{name}_page.png")),
        out.join(format!("{name}_canvas.png")),
    );
    std::fs::write(&canvas, &png).unwrap();
    std::fs::write(&shot, &page_png).unwrap();
    eprintln!(
        "after {STEPS} steps: the page {}, its canvas {}",
        shot.display(),
        canvas.display()
    );

    assert_eq!(m["step"].as_u64(), Some(STEPS));
    let web_agents = m["agents"].as_u64().unwrap();
    assert!(web_agents > 0, "no agents on the page after {STEPS} steps");
    let (census, picture, adapter) = native(program);
    let native_counts = census.by_specialization();
    let web_counts =
        ["unspecialized", "root", "leaf", "flower"].map(|k| m[k].as_u64().unwrap() as u32);
    eprintln!(
        "native ({adapter}): agents {} by specialization {native_counts:?}; page: agents {web_agents} {web_counts:?}",
        census.agents()
    );
    if web_counts == native_counts
        && m["reproductions"].as_u64() == Some(u64::from(census.reproductions))
    {
        // Then the whole world should agree: the page's canvas against the native render.
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0u8; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut pixels).unwrap();
        let differing = pixels
            .chunks(4)
            .zip(picture.chunks(4))
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            pixels.len(),
            picture.len(),
            "canvas and native picture sizes"
        );
        assert_eq!(
            differing, 0,
            "{differing} pixels differ although the census agrees"
        );
        eprintln!("{name}: the page and the native engine agree exactly (census and every pixel)");
    } else {
        // Different shader compilers may round transcendental functions differently, and a
        // chaotic system amplifies that: the two runs must then still be the same kind of
        // world (plants of similar size), not the same cells.
        let (a, b) = (web_agents as f64, census.agents() as f64);
        eprintln!(
            "{name}: the page and the native engine differ (relative agent difference {:.2})",
            (a - b).abs() / b
        );
        assert!(
            (a - b).abs() <= 0.5 * b.max(a),
            "agents: page {a}, native {b}"
        );
    }
}

#[test]
#[ignore = "needs the built site (web/build.sh) and Chromium; .ci/run runs it"]
fn the_page_grows_a_biome_in_a_real_browser_like_the_native_engine() {
    check_against_native("fresh", None);
    check_against_native("evolved", Some(PROGRAM));
}

#[test]
#[ignore = "needs the built site (web/build.sh) and Chromium; .ci/run runs it"]
fn the_train_page_learns_a_flow_in_a_real_browser() {
    let steps = 300;
    let (report, page_png) = run_page_at(
        "train.html",
        &format!("method=otcfm&batch=64&seed=3&per_frame=25&steps={steps}"),
    );
    let m = &report["metrics"];
    eprintln!("train page: {m}");
    assert_eq!(m["step"].as_u64(), Some(steps));
    let losses: Vec<f64> = m["losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 12, "one loss per frame of 25 steps");
    assert!(losses.iter().all(|l| l.is_finite()));
    // The same run natively: its first loss (a fresh network), and its losses at the
    // page's frames. Shader compilers round differently and training amplifies that, so
    // the page must learn as much, not the same bits.
    let ctx = GpuContext::new().unwrap();
    let config = TrainConfig::default()
        .method(Method::Otcfm)
        .batch(64)
        .sigma(0.01)
        .seed(3);
    let mut trainer =
        Trainer::new(&ctx, &config, &Sampler::EightGaussians, &Sampler::Moons).unwrap();
    let native = trainer.train(steps as usize, &mut |_| {}).unwrap();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let native_frames: Vec<f64> = (1..=12).map(|k| f64::from(native[25 * k - 1])).collect();
    let (page_late, native_late) = (mean(&losses[6..]), mean(&native_frames[6..]));
    eprintln!(
        "first native loss {}, late mean: page {page_late:.3}, native {native_late:.3}",
        native[0]
    );
    assert!(
        page_late < 0.4 * f64::from(native[0]),
        "the page's loss did not fall: {losses:?}"
    );
    assert!(
        (page_late - native_late).abs() < 0.5 * native_late,
        "page {losses:?} against native {native_frames:?}"
    );
    let out = std::env::var("MORPHOGEN_WEB_OUT").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-test"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("train_page.png"), &page_png).unwrap();
}

#[test]
#[ignore = "needs the built site (web/build.sh) and Chromium; .ci/run runs it"]
fn without_webgpu_the_page_says_which_browsers_have_it() {
    let (port, _reports) = start_server();
    let profile = std::env::temp_dir().join(format!("morphogen-web-nogpu-{}", std::process::id()));
    let dom = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-features=Vulkan,WebGPU",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://127.0.0.1:{port}/"))
        .stderr(Stdio::null())
        .output()
        .expect("the browser runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let status = dom
        .split("id=\"status\"")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap_or("");
    eprintln!("status without WebGPU: {status}");
    assert!(status.contains("needs WebGPU"), "{status}");
    assert!(status.contains("Chrome") && status.contains("Safari") && status.contains("Firefox"));
}
