// Bundles the UI into ../src/ui/dist (committed; the binary embeds it, so `cargo build` needs no
// Node). Deterministic: pinned esbuild, no timestamps, no source maps with absolute paths.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const out = new URL("../src/ui/dist/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "none",
  charset: "utf8",
  outfile: out + "app.js",
  logLevel: "warning",
});
await build({
  entryPoints: ["src/style.css"],
  bundle: true,
  minify: true,
  charset: "utf8",
  outfile: out + "style.css",
  logLevel: "warning",
});
copyFileSync("src/index.html", out + "index.html");
