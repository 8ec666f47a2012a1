// Builds the page into the Python package (committed, shipped as package data): the server
// needs no Node.js at run time and the browser no network. The build also writes source.json,
// the SHA-256 of the sources it was built from, so a test can tell a stale build from a fresh one
// without Node.js (tests/test_web_build.py recomputes it the same way).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { defineConfig } from "vite";

const ROOT = import.meta.dirname;

function sources(dir = ROOT) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sources(path);
    return [relative(ROOT, path).split("\\").join("/")];
  });
}

// sha256 over every source file, sorted by path: path, NUL, contents, NUL
export function sourceDigest() {
  const hash = createHash("sha256");
  const files = sources().filter((f) => f !== ".gitignore").sort();
  for (const file of files) {
    hash.update(file + "\0");
    hash.update(readFileSync(join(ROOT, file)));
    hash.update("\0");
  }
  return { sha256: hash.digest("hex"), files };
}

export default defineConfig({
  root: ROOT,
  base: "/",
  build: {
    outDir: "../optimizer/interfaces/web",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  plugins: [{
    name: "source-digest",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "source.json", source: JSON.stringify(sourceDigest(), null, 1) + "\n" });
    },
  }],
});
