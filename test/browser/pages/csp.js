// Loaded by csp.html (an inline script would itself violate the policy). ?threads=2 asks for the
// worker pool (the page is crossOriginIsolated when the server sends COOP/COEP as well);
// ?entry=browser|index picks the bundle. Reports the result, the CSP violations seen and errors.
const params = new URLSearchParams(location.search);
const violations = [];
document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective}: ${e.blockedURI || e.sample}`));
try {
  const { createRuntime, AttentionError } = await import(`/dist/${params.get('entry') ?? 'browser'}.js`);
  const threads = Number(params.get('threads') ?? 1);
  let runtime;
  try {
    runtime = await createRuntime({ threads });
  } catch (error) {
    window.report = {
      createError: { name: error?.name, code: error?.code, isAttentionError: error instanceof AttentionError, message: String(error?.message ?? error) },
      violations,
    };
    throw error;
  }
  // q, k, v [1, 2, 9, 8] filled from sin(), causal; the test checks against the float64 reference
  const shape = [1, 2, 9, 8];
  const size = shape.reduce((a, b) => a * b, 1);
  const fill = (t) => ({ data: Float32Array.from({ length: size }, (_, i) => Math.sin(0.37 * i + 1.3 * t)), shape });
  const y = runtime.attention(fill(0), fill(1), fill(2), { causal: true });
  // a call large enough to be split over the pool's threads, when there is a pool
  const bigShape = [1, 4, 256, 64];
  const big = (t) => ({ data: Float32Array.from({ length: 4 * 256 * 64 }, (_, i) => Math.sin(0.011 * i * (t + 1) + t)), shape: bigShape });
  const b = runtime.attention(big(0), big(1), big(2), { causal: true }).data;
  let checksum = 0;
  for (let i = 0; i < b.length; i += 97) checksum += b[i];
  window.report = {
    isa: runtime.isa, threads: runtime.threads, crossOriginIsolated: globalThis.crossOriginIsolated,
    shape: y.shape, output: Array.from(y.data), checksum, violations,
  };
  runtime.dispose();
} catch (error) {
  window.report ??= { error: String(error?.stack ?? error), violations };
}
