// The page around morphogen's biome: controls, the animation loop, metrics and a chart.
// Query parameters preset, height, width, seed, minimal, zoom, per_frame set the controls;
// program=URL loads a program .npy from the page's server; steps=N stops after N steps;
// report=1 then posts the metrics and the canvas as a PNG to /report on the page's server
// (the end-to-end test reads them).

import init, { create } from "./pkg/morphogen_web.js";
import { $, loadModule, params, status, webGpuName } from "./page.js";

const target = params.has("steps") ? Number(params.get("steps")) : Infinity;
const report = params.get("report") === "1";
// The Okabe-Ito colours the native figures use, one dash pattern per series as well, so
// the chart reads in greyscale and for colour-blind readers.
const series = [
  { key: "agents", label: "all agents", colour: "#0072B2", dash: [] },
  { key: "unspecialized", label: "unspecialized", colour: "#000000", dash: [2, 3] },
  { key: "root", label: "root", colour: "#D55E00", dash: [8, 3] },
  { key: "leaf", label: "leaf", colour: "#009E73", dash: [] },
  { key: "flower", label: "flower", colour: "#CC79A7", dash: [4, 2, 1, 2] },
];
// Rows of the metrics table: [label, key] or a group heading.
const rows = [
  ["step", "step"],
  ["agent cells", null],
  ["all", "agents"],
  ["unspecialized", "unspecialized"],
  ["root", "root"],
  ["leaf", "leaf"],
  ["flower", "flower"],
  ["this step", null],
  ["reproductions", "reproductions"],
  ["seeds placed", "seeds"],
  ["living programs", "living_ids"],
  ["since the start", null],
  ["reproductions", "total_reproductions"],
  ["seeds placed", "total_seeds"],
  ["agent steps", "agent_steps"],
];

let biome = null;
let running = !params.has("paused");
let busy = false;
let history = [];
let programBytes = null;
let gpuName = "WebGPU";

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
  showMetrics(m);
  history.push(m);
  drawChart();
  window.morphogen = { metrics: m, done: false };
  return m;
}

function showMetrics(m) {
  const body = $("metrics").tBodies[0];
  body.replaceChildren(
    ...rows.map(([label, key]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = label;
      tr.append(th);
      if (key === null) {
        tr.className = "group";
        th.colSpan = 2;
      } else {
        const td = document.createElement("td");
        td.textContent = Number(m[key] ?? 0).toLocaleString("en");
        tr.append(td);
      }
      return tr;
    }),
  );
}

// Round tick spacing for a range: 1, 2 or 5 times a power of ten.
function tickStep(range, ticks) {
  const raw = Math.max(range, 1) / ticks;
  const base = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((f) => f * base).find((s) => s >= raw);
}

function drawChart() {
  const c = $("chart");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const box = { left: 56, right: c.width - 12, top: 30, bottom: c.height - 40 };
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = "#222";
  g.textAlign = "center";
  g.fillText("agent cells by specialization", (box.left + box.right) / 2, 16);
  if (history.length < 2) return;
  const s0 = history[0].step;
  const s1 = Math.max(history[history.length - 1].step, s0 + 1);
  // Headroom above the highest curve.
  const max = 1.1 * Math.max(1, ...history.flatMap((m) => series.map((s) => m[s.key])));
  const x = (step) => box.left + ((step - s0) / (s1 - s0)) * (box.right - box.left);
  const y = (v) => box.bottom - (v / max) * (box.bottom - box.top);
  // Axes, ticks and grid.
  g.strokeStyle = "#ddd";
  g.lineWidth = 1;
  g.textAlign = "right";
  g.textBaseline = "middle";
  const ys = tickStep(max, 5);
  for (let v = 0; v <= max; v += ys) {
    if (y(v) < box.top) break;
    g.beginPath();
    g.moveTo(box.left, y(v));
    g.lineTo(box.right, y(v));
    g.stroke();
    g.fillText(String(v), box.left - 6, y(v));
  }
  g.textAlign = "center";
  g.textBaseline = "top";
  const xs = tickStep(s1 - s0, 6);
  for (let t = Math.ceil(s0 / xs) * xs; t <= s1; t += xs) {
    g.beginPath();
    g.moveTo(x(t), box.bottom);
    g.lineTo(x(t), box.bottom + 4);
    g.stroke();
    g.fillText(String(t), x(t), box.bottom + 6);
  }
  g.strokeStyle = "#444";
  g.strokeRect(box.left, box.top, box.right - box.left, box.bottom - box.top);
  g.fillText("step", (box.left + box.right) / 2, box.bottom + 22);
  g.save();
  g.translate(14, (box.top + box.bottom) / 2);
  g.rotate(-Math.PI / 2);
  g.fillText("agent cells", 0, -6);
  g.restore();
  // Curves, then the legend.
  g.lineWidth = 2;
  for (const s of series) {
    g.strokeStyle = s.colour;
    g.setLineDash(s.dash);
    g.beginPath();
    history.forEach((m, i) => (i ? g.lineTo(x(m.step), y(m[s.key])) : g.moveTo(x(m.step), y(m[s.key]))));
    g.stroke();
  }
  g.textAlign = "left";
  g.textBaseline = "middle";
  g.fillStyle = "rgba(255, 255, 255, 0.85)";
  g.fillRect(box.left + 2, box.top + 2, 120, 12 + 15 * series.length - 6);
  series.forEach((s, j) => {
    const lx = box.left + 8;
    const ly = box.top + 10 + j * 15;
    g.strokeStyle = s.colour;
    g.setLineDash(s.dash);
    g.beginPath();
    g.moveTo(lx, ly);
    g.lineTo(lx + 22, ly);
    g.stroke();
    g.fillStyle = "#222";
    g.fillText(s.label, lx + 28, ly);
  });
  g.setLineDash([]);
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
  gpuName = await webGpuName();
  if (!gpuName) return;
  if (params.has("program")) {
    const response = await fetch(params.get("program"));
    if (!response.ok) return status(`program ${params.get("program")}: HTTP ${response.status}`, true);
    programBytes = new Uint8Array(await response.arrayBuffer());
  }
  if (await loadModule(init)) await reset();
}

main();
