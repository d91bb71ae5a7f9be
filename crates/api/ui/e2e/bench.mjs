// The web UI's benchmark (not a test): a real `ferry up` with 5,000 tiny apps (one ConfigMap
// each) and one app of 500 objects, measured in headless Chromium.
//
//   node crates/api/ui/e2e/bench.mjs --ferry target/release/ferry [--apps 5000] [--objects 500]
//
// Reports, for the list: time to the first row on screen (from navigation start), time from a
// keystroke in the search box to the filtered list on screen (150 ms of it is the input
// debounce), bytes transferred and the page's JS heap; for the app page: time to the tree on
// screen, bytes and heap. Prints one JSON object per measurement.

import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const ferry = arg("ferry", "target/release/ferry");
const APPS = Number(arg("apps", "5000"));
const OBJECTS = Number(arg("objects", "500"));

const port = () => new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(join(tmpdir(), "ferry-ui-bench-"));
const repo = join(tmp, "repo");
const git = (...a) => execFileSync("git", ["-C", repo, ...a], { stdio: "pipe" });

// The repository: apps/tiny (one ConfigMap) and apps/big (OBJECTS ConfigMaps).
mkdirSync(join(repo, "apps/tiny"), { recursive: true });
mkdirSync(join(repo, "apps/big"), { recursive: true });
writeFileSync(join(repo, "apps/tiny/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  a: b\n");
writeFileSync(join(repo, "apps/big/cms.yaml"), Array.from({ length: OBJECTS }, (_, i) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-${i}\ndata:\n  i: "${i}"\n`).join("---\n"));
execFileSync("git", ["init", "-q", "-b", "main", repo]);
git("-c", "user.name=bench", "-c", "user.email=bench@ferry.invalid", "add", "-A");
git("-c", "user.name=bench", "-c", "user.email=bench@ferry.invalid", "commit", "-qm", "bench apps");

const [apiPort, clusterPort] = [await port(), await port()];
const up = spawn(ferry, ["up", "--no-demo", "--data-dir", join(tmp, "data"), "--listen", `127.0.0.1:${apiPort}`,
  "--cluster-listen", `127.0.0.1:${clusterPort}`, "--poll-interval", "30s"], { stdio: ["ignore", "pipe", "ignore"] });
const url = `http://127.0.0.1:${apiPort}`;
// A failed measurement must not leave `ferry up` running.
process.on("exit", () => up.kill("SIGKILL"));
process.on("uncaughtException", (e) => { console.error(e); process.exit(1); });
process.on("unhandledRejection", (e) => { console.error(e); process.exit(1); });
for await (const line of createInterface({ input: up.stdout })) if (line.startsWith("Ferry is up")) break;
const env = { ...process.env, KUBECONFIG: join(tmp, "data/kubeconfig") };
const kubectl = (input, ...a) => execFileSync("kubectl", a, { input, env, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 1 << 28 });

const app = (name, path, ns) => ({
  apiVersion: "ferry.dev/v1alpha1", kind: "Application",
  metadata: { name, namespace: "ferry", labels: { team: `team-${name.length % 7}` } },
  spec: {
    project: "default", source: { repoURL: `file://${repo}`, targetRevision: "main", path },
    destination: { server: "https://kubernetes.default.svc", namespace: ns },
    syncPolicy: { automated: { prune: true }, syncOptions: ["CreateNamespace=true"] },
  },
});
kubectl(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "ferry" } }), "apply", "-f", "-");
const started = Date.now();
// The big app first, so the engine has it applied before it works through the small ones.
kubectl(JSON.stringify(app("big", "apps/big", "big")), "apply", "--server-side", "--field-manager=bench", "-f", "-");
for (let from = 0; from < APPS; from += 500) {
  const items = Array.from({ length: Math.min(500, APPS - from) }, (_, k) => app(`app-${from + k}`, "apps/tiny", `ns-${(from + k) % 50}`));
  kubectl(JSON.stringify({ apiVersion: "v1", kind: "List", items }), "apply", "--server-side", "--field-manager=bench", "-f", "-");
}
const get = async (p) => (await fetch(url + p)).json();
for (;;) {
  const list = await get("/api/v1/applications?limit=1");
  const big = await get("/api/v1/applications/ferry/big/resources").catch(() => ({ items: [] }));
  if (list.total >= APPS + 1 && (big.items ?? []).length >= OBJECTS) break;
  await sleep(1000);
}
const synced = (await get("/api/v1/applications?limit=1&sync=Synced")).total;
console.log(JSON.stringify({ setup: "apps created and seen by the API", apps: APPS + 1, synced, seconds: (Date.now() - started) / 1000 }));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--enable-precise-memory-info"],
});

/** Opens `path` in a fresh page, waits for `selector`, and measures. */
async function measure(name, path, selector, after) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  let bytes = 0;
  cdp.on("Network.loadingFinished", (e) => { bytes += e.encodedDataLength; });
  await page.goto(url + path, { waitUntil: "commit" });
  await page.waitForSelector(selector);
  const paint = await page.evaluate(() => performance.now());
  const extra = after ? await after(page) : {};
  await sleep(500);
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = await cdp.send("Runtime.getHeapUsage");
  const dom = await page.evaluate(() => document.getElementsByTagName("*").length);
  console.log(JSON.stringify({ page: name, firstPaintMs: Math.round(paint), ...extra, bytes, heapMiB: +(heap.usedSize / 1048576).toFixed(1), domNodes: dom }));
  await context.close();
}

const filter = async (page) => {
  const t0 = await page.evaluate(() => performance.now());
  await page.fill("#search", `app-${Math.floor(APPS * 0.8642)}`);
  await page.waitForFunction(() => document.getElementById("total")?.textContent?.startsWith("1 of"));
  const filterMs = Math.round((await page.evaluate(() => performance.now())) - t0);
  await page.fill("#search", "");
  await page.waitForFunction(() => !document.location.hash.includes("q="));
  await page.waitForSelector('.row[data-app]');
  const t1 = await page.evaluate(() => performance.now());
  await page.selectOption("#filter-destNamespace", "ns-7");
  // ns-7 holds 100 of the apps: the count on screen says the filtered list is there.
  await page.waitForFunction(() => document.getElementById("total")?.textContent?.startsWith("100 of"));
  const selectMs = Math.round((await page.evaluate(() => performance.now())) - t1);
  return { searchToScreenMs: filterMs, selectToScreenMs: selectMs };
};
/** The server's part: one request's time, as a client with nothing else to do sees it. */
async function timed(path) {
  const times = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const body = await (await fetch(url + path)).text();
    times.push(performance.now() - t0);
    bytes = body.length;
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ request: `GET ${path}`, medianMs: Math.round(times[2]), bytes }));
}
await timed("/api/v1/applications?limit=100");
await timed("/api/v1/applications?limit=100&q=app-4321");
await timed("/api/v1/applications/ferry/big/tree");
for (let i = 0; i < 3; i++) await measure(`list of ${APPS + 1} apps`, "/", ".row[data-app]", filter);
for (let i = 0; i < 3; i++) await measure(`app of ${OBJECTS} objects (tree)`, "/#/app/ferry/big/tree", ".tree .node");

await browser.close();
up.kill("SIGTERM");
await new Promise((r) => up.on("exit", r));
rmSync(tmp, { recursive: true, force: true });
