# workerd configuration for the bundled Worker (run `node build.mjs` first):
#   npx workerd serve config.capnp            (listens on localhost:8787)
#   npx workerd serve config.capnp --socket-addr http=127.0.0.1:9000
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .attentionWorker) ],
  sockets = [ (name = "http", address = "localhost:8787", http = (), service = "main") ],
);

const attentionWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    # Compiled when the Worker loads: the module type wrangler calls CompiledWasm.
    (name = "wasm/relaxed.wasm", wasm = embed "dist/wasm/relaxed.wasm"),
    (name = "wasm/simd128.wasm", wasm = embed "dist/wasm/simd128.wasm"),
  ],
  compatibilityDate = "2025-01-01",
);
