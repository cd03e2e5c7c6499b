// The page around morphogen's biome: controls, the animation loop, metrics and a chart.
// Query parameters preset, height, width, seed, minimal, zoom, per_frame set the controls;
// program=URL loads a program .npy from the page's server; steps=N stops after N steps;
// report=1 then posts the metrics and the canvas as a PNG to /report on the page's server
// (the end-to-end test reads them).

import init, { create } from "./pkg/morphogen_web.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const target = params.has("steps") ? Number(params.get("steps")) : Infinity;
const report = params.get("report") === "1";
const colours = { unspecialized: "#8a6ad1", root: "#a0522d", leaf: "#2e9b3e", flower: "#e0457b" };

let biome = null;
let running = !params.has("paused");
let busy = false;
let history = [];
let programBytes = null;
let gpuName = "WebGPU";

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function noWebGpu() {
  status(
    "This page needs WebGPU, and this browser does not offer it.\n" +
      "Chrome and Edge have it from version 113 on Windows, macOS and ChromeOS; on Linux, " +
      "depending on version and driver, turn on chrome://flags/#enable-unsafe-webgpu and " +
      "#enable-vulkan (headless: --enable-unsafe-webgpu --enable-features=Vulkan). Safari " +
      "has it from 26, Firefox from 141 on Windows (elsewhere: Nightly, or dom.webgpu.enabled " +
      "in about:config).",
    true,
  );
}

for (const key of ["preset", "height", "width", "seed", "zoom"]) {
  if (params.has(key)) $(key).value = params.get(key);
}
if (params.has("per_frame")) $("per-frame").value = params.get("per_frame");
if (params.get("minimal") === "1") $("minimal").checked = true;

async function reset() {
  running = false;
  while (busy) await new Promise((r) => setTimeout(r, 10));
  status("creating the world…");
  history = [];
  try {
    biome = await create(
      $("preset").value,
      Number($("height").value),
      $("width").value,
      Number($("seed").value),
      programBytes,
      $("minimal").checked,
    );
  } catch (e) {
    biome = null;
    status(String(e.message || e), true);
    return;
  }
  await draw();
  status(`running on ${gpuName}`);
  running = !params.has("paused") && !(target <= 0);
  requestAnimationFrame(loop);
}

async function draw() {
  const zoom = Number($("zoom").value);
  const rgba = await biome.frame(zoom);
  const w = biome.width() * zoom;
  const h = biome.height() * zoom;
  const canvas = $("world");
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer), w, h), 0, 0);
  const m = JSON.parse(biome.metrics());
  $("metrics").textContent = JSON.stringify(m, null, 1);
  history.push(m);
  drawChart();
  window.morphogen = { metrics: m, done: false };
  return m;
}

function drawChart() {
  const c = $("chart");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (history.length < 2) return;
  const keys = Object.keys(colours);
  const max = Math.max(1, ...history.flatMap((m) => keys.map((k) => m[k])));
  const x = (i) => (i / (history.length - 1)) * (c.width - 10) + 5;
  const y = (v) => c.height - 5 - (v / max) * (c.height - 20);
  keys.forEach((k, j) => {
    g.strokeStyle = colours[k];
    g.beginPath();
    history.forEach((m, i) => (i ? g.lineTo(x(i), y(m[k])) : g.moveTo(x(i), y(m[k]))));
    g.stroke();
    g.fillStyle = colours[k];
    g.fillText(k, 5 + j * 90, 12);
  });
}

async function advance(steps) {
  busy = true;
  try {
    await biome.step(steps);
    return await draw();
  } catch (e) {
    running = false;
    status(String(e.message || e), true);
  } finally {
    busy = false;
  }
}

async function finish(m) {
  running = false;
  status(`stopped after ${m.step} steps on ${gpuName}`);
  document.body.dataset.done = "1";
  window.morphogen = { metrics: m, done: true };
  if (report) {
    await fetch("/report", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ metrics: m, png: $("world").toDataURL("image/png") }),
    });
  }
}

async function loop() {
  if (!biome || !running || busy) return;
  const done = JSON.parse(biome.metrics()).step;
  const steps = Math.min(Number($("per-frame").value), target - done);
  if (steps <= 0) return;
  const m = await advance(steps);
  if (!m) return;
  if (m.step >= target) return finish(m);
  requestAnimationFrame(loop);
}

$("reset").onclick = reset;
$("pause").onclick = () => {
  running = !running;
  $("pause").textContent = running ? "pause" : "resume";
  if (running) requestAnimationFrame(loop);
};
$("step").onclick = async () => {
  running = false;
  $("pause").textContent = "resume";
  if (biome && !busy) await advance(1);
};
$("program").onchange = async (e) => {
  const file = e.target.files[0];
  programBytes = file ? new Uint8Array(await file.arrayBuffer()) : null;
  await reset();
};

async function main() {
  if (!navigator.gpu) return noWebGpu();
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return noWebGpu();
  const info = adapter.info || {};
  gpuName = `WebGPU (${[info.vendor, info.architecture, info.description].filter(Boolean).join(" ")})`;
  if (params.has("program")) {
    const response = await fetch(params.get("program"));
    if (!response.ok) return status(`program ${params.get("program")}: HTTP ${response.status}`, true);
    programBytes = new Uint8Array(await response.arrayBuffer());
  }
  try {
    await init();
  } catch (e) {
    return status(`the WebAssembly module failed to load: ${e}`, true);
  }
  await reset();
}

main();
