// The page around morphogen's GPU trainer: trains a flow from eight Gaussians to moons,
// redraws the field's trajectories every `redraw` steps and the loss as it goes. Query
// parameters method, batch, seed, per_frame set the controls; steps=N stops after N steps;
// report=1 then posts the losses and the canvas as a PNG to /report on the page's server
// (the end-to-end test reads them).

import init, { create_training } from "./pkg/morphogen_web.js";
import { $, loadModule, params, status, webGpuName } from "./page.js";

const target = params.has("steps") ? Number(params.get("steps")) : Infinity;
const report = params.get("report") === "1";
const redraw = 200;
const particles = 400;
for (const [key, id] of [["method", "method"], ["batch", "batch"], ["seed", "seed"], ["per_frame", "per-frame"]]) {
  if (params.has(key)) $(id).value = params.get(key);
}

let trainer = null;
let running = !params.has("paused");
let busy = false;
let losses = [];
let lastDrawn = -1;
let gpuName = "WebGPU";

// World coordinates [-8, 8]^2 onto the square canvas.
function toCanvas(x, y) {
  const c = $("flow");
  return [((x + 8) / 16) * c.width, (1 - (y + 8) / 16) * c.height];
}

async function drawFlow() {
  const steps = 20;
  const paths = await trainer.samples(particles, steps);
  const ctx = $("flow").getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, $("flow").width, $("flow").height);
  const moons = trainer.targets(1000);
  ctx.fillStyle = "rgba(120,120,120,0.35)";
  for (let p = 0; p < moons.length; p += 2) {
    const [x, y] = toCanvas(moons[p], moons[p + 1]);
    ctx.fillRect(x - 1, y - 1, 2, 2);
  }
  ctx.strokeStyle = "rgba(0,114,178,0.25)";
  for (let i = 0; i < particles; i++) {
    ctx.beginPath();
    for (let k = 0; k <= steps; k++) {
      const at = (k * particles + i) * 2;
      const [x, y] = toCanvas(paths[at], paths[at + 1]);
      if (k === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();
  }
  const last = steps * particles * 2;
  ctx.fillStyle = "#E69F00";
  for (let i = 0; i < particles; i++) {
    const [x, y] = toCanvas(paths[last + 2 * i], paths[last + 2 * i + 1]);
    ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
  }
  lastDrawn = trainer.step();
}

function drawLoss() {
  const c = $("loss");
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, c.width, c.height);
  if (losses.length < 2) return;
  const logs = losses.map((l) => Math.log10(Math.max(l, 1e-6)));
  const lo = Math.min(...logs), hi = Math.max(...logs);
  ctx.strokeStyle = "#0072B2";
  ctx.beginPath();
  logs.forEach((v, i) => {
    const x = 40 + (i / (logs.length - 1)) * (c.width - 50);
    const y = 10 + (1 - (v - lo) / Math.max(hi - lo, 1e-9)) * (c.height - 40);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = "#222";
  ctx.fillText(`loss ${losses[losses.length - 1].toFixed(3)} (log scale, ${10 ** hi > 1 ? (10 ** hi).toFixed(1) : (10 ** hi).toPrecision(2)} at top)`, 40, c.height - 10);
}

async function reset() {
  running = !params.has("paused");
  busy = true;
  try {
    status("compiling kernels…");
    trainer = await create_training($("method").value, Number($("batch").value), Number($("seed").value));
    losses = [];
    lastDrawn = -1;
    status(`training on ${gpuName}`);
  } catch (e) {
    running = false;
    return status(String(e.message || e), true);
  } finally {
    busy = false;
  }
  requestAnimationFrame(loop);
}

async function finish() {
  running = false;
  await drawFlow();
  status(`stopped after ${trainer.step()} steps on ${gpuName}`);
  document.body.dataset.done = "1";
  if (report) {
    await fetch("/report", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        metrics: { step: trainer.step(), losses, adapter: trainer.adapter() },
        png: $("flow").toDataURL("image/png"),
      }),
    });
  }
}

async function loop() {
  if (!trainer || !running || busy) return;
  const steps = Math.min(Number($("per-frame").value), target - trainer.step());
  if (steps <= 0) return;
  busy = true;
  try {
    losses.push(await trainer.train(steps));
    if (trainer.step() - lastDrawn >= redraw || lastDrawn < 0) await drawFlow();
    drawLoss();
    status(`step ${trainer.step()} on ${gpuName}: loss ${losses[losses.length - 1].toFixed(4)}`);
  } catch (e) {
    running = false;
    return status(String(e.message || e), true);
  } finally {
    busy = false;
  }
  if (trainer.step() >= target) return finish();
  requestAnimationFrame(loop);
}

$("reset").onclick = reset;
$("pause").onclick = () => {
  running = !running;
  $("pause").textContent = running ? "pause" : "resume";
  if (running) requestAnimationFrame(loop);
};

async function main() {
  gpuName = await webGpuName();
  if (!gpuName) return;
  if (await loadModule(init)) await reset();
}

main();
