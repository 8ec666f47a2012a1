// Builds the page into the Python package (committed, shipped as package data): the server
// needs no Node.js at run time and the browser no network.
import { defineConfig } from "vite";

export default defineConfig({
  root: ".",
  base: "/",
  build: {
    outDir: "../optimizer/interfaces/web",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
});
