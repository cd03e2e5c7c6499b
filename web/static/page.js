// What the pages share: element lookup, query parameters, the status line, and finding a
// WebGPU adapter (or saying which browsers have one).

export const $ = (id) => document.getElementById(id);
export const params = new URLSearchParams(location.search);

export function status(text, error = false) {
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

// The adapter's name for the status line, or null (with the reason shown) when this
// browser has no WebGPU adapter.
export async function webGpuName() {
  const adapter = navigator.gpu ? await navigator.gpu.requestAdapter() : null;
  if (!adapter) {
    noWebGpu();
    return null;
  }
  const info = adapter.info || {};
  return `WebGPU (${[info.vendor, info.architecture, info.description].filter(Boolean).join(" ")})`;
}

// Loads the WebAssembly module with `init`; false (with the reason shown) when it fails.
export async function loadModule(init) {
  try {
    await init();
    return true;
  } catch (e) {
    status(`the WebAssembly module failed to load: ${e}`, true);
    return false;
  }
}
