// node-shims.mjs — what the bench's shared modules (lib/util.mjs) import from node:path and
// node:url, for the browser page (page.html maps both names here with an import map). Only the
// calls util.mjs makes at load time are needed; the page never uses the paths they compute.

/** node:url's fileURLToPath, for URLs of this page's origin. */
export function fileURLToPath(url) {
  return new URL(String(url)).pathname;
}

/** node:path's resolve, dirname and join on '/'-separated paths. */
const path = {
  resolve: (...parts) => path.join(...parts),
  dirname: (p) => p.replace(/\/[^/]*\/?$/, '') || '/',
  join: (...parts) => parts.join('/').replace(/\/+/g, '/'),
};

export default path;
