// End-to-end tests of the web UI in headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a running `ferry up`. Started by crates/cli/tests/ui_e2e.rs, which
// passes where things are:
//   FERRY_URL       the API and UI, e.g. http://127.0.0.1:PORT
//   KUBECONFIG      the embedded cluster's kubeconfig (drift is made with real kubectl)
//   DEMO_REPO       the demo repository's working copy (commits are made with real git)
//   SCREENSHOTS     where each page's screenshot is written
//   CHROMIUM        the browser (default /usr/bin/chromium)
//   FERRY_BIN       the ferry binary (`ferry token create` for the read-only check)
// Prints one line per check and "N passed, N failed" at the end; exits 1 on a failure.

import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const url = need("FERRY_URL");
const repo = need("DEMO_REPO");
need("KUBECONFIG");
const shots = process.env.SCREENSHOTS || "target/ui-screenshots";
mkdirSync(shots, { recursive: true });

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set: run this through crates/cli/tests/ui_e2e.rs`);
    process.exit(2);
  }
  return v;
}

const run = (cmd, args, input) =>
  execFileSync(cmd, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
const kubectl = (...args) => run("kubectl", args);
const git = (...args) => run("git", ["-C", repo, ...args]);
const head = () => git("rev-parse", "HEAD");

async function api(path) {
  const res = await fetch(url + path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function until(what, check, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out after ${seconds}s waiting for ${what} (last: ${last})`);
}

function app(name, ns, path, { auto, labels, ignore }) {
  return JSON.stringify({
    apiVersion: "ferry.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: "ferry", labels },
    spec: {
      source: { repoURL: `file://${repo}`, targetRevision: "main", path },
      destination: { server: "https://kubernetes.default.svc", namespace: ns },
      syncPolicy: auto
        ? { automated: { prune: true, selfHeal: true }, syncOptions: ["CreateNamespace=true"] }
        : { syncOptions: ["CreateNamespace=true"] },
      ignoreDifferences: ignore,
    },
  });
}

/** Apps beside the demo: three tiny config apps (automated) and a manual copy of the demo. */
async function prepare() {
  mkdirSync(join(repo, "apps/config"), { recursive: true });
  writeFileSync(
    join(repo, "apps/config/configmap.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: info\n",
  );
  git("add", "-A");
  git("commit", "-q", "-m", "config app: one ConfigMap");
  const docs = [
    ...[1, 2, 3].map((i) => app(`cfg-${i}`, `cfg-${i}`, "apps/config", { auto: true, labels: { team: "platform" } })),
    // What the manager e2e-tuner writes to the ConfigMap is ignored: shown greyed in the diff.
    app("manual", "manual", "apps/demo", {
      auto: false, labels: { team: "payments" }, ignore: [{ kind: "ConfigMap", managedFieldsManagers: ["e2e-tuner"] }],
    }),
  ];
  for (const doc of docs) run("kubectl", ["apply", "--server-side", "--field-manager=e2e", "-f", "-"], doc);
  await until("the config apps synced at HEAD", async () => {
    const list = await api("/api/v1/applications?q=cfg-");
    return list.total === 3 && list.items.every((a) => a.sync.status === "Synced" && a.sync.revision === head());
  }, 90);
}

const results = [];
async function check(name, body) {
  try {
    await body();
    results.push([name, true]);
    console.log(`ok - ${name}`);
  } catch (e) {
    results.push([name, false]);
    console.log(`not ok - ${name}\n  ${String(e && e.stack ? e.stack : e).split("\n").join("\n  ")}`);
    await page.screenshot({ path: join(shots, `failed-${results.length}.png`), fullPage: true }).catch(() => {});
  }
}

const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const text = (selector) => page.locator(selector).first().innerText();

await prepare();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
const page = await context.newPage();
const consoleErrors = [];
page.on("pageerror", (e) => consoleErrors.push(String(e)));
// A CSP violation or a failed request is a console error, not a page error.
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });

await check("the list shows every app with its sync and health as words, and counts by state", async () => {
  await page.goto(url + "/");
  await page.locator('.row[data-app="ferry/manual"]').waitFor();
  await until("5 apps counted", async () => (await text("#total")) === "5 of 5 apps", 20);
  const manual = page.locator('.row[data-app="ferry/manual"]');
  if (!(await manual.innerText()).includes("OutOfSync")) throw new Error("manual is not shown OutOfSync");
  const tops = await page.locator(".rows .row").evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().top));
  if (new Set(tops).size !== tops.length) throw new Error(`rows overlap: ${tops}`);
  const counts = await text(".counts");
  if (!/Synced\s*4/.test(counts) || !/OutOfSync\s*1/.test(counts)) throw new Error(`counts: ${counts}`);
  await page.locator("#live", { hasText: "live" }).waitFor();
  await shot("01-list");
});

await check("filters by label, search and state chip narrow the list, and the URL keeps them", async () => {
  await page.selectOption("#filter-label", "team=payments");
  await until("one app", async () => (await text("#total")) === "1 of 1 apps", 10);
  if (!page.url().includes("label=team%3Dpayments")) throw new Error(`url: ${page.url()}`);
  await shot("02-list-filtered-by-label");
  await page.goto(url + "/#/?q=cfg");
  await until("three cfg apps", async () => (await text("#total")) === "3 of 3 apps", 10);
  await page.goto(url + "/#/");
  await page.locator(".count", { hasText: "OutOfSync" }).click();
  await until("the OutOfSync chip", async () => (await text("#total")) === "1 of 5 apps", 10);
  if (!page.url().includes("sync=OutOfSync")) throw new Error(`url: ${page.url()}`);
  await page.goto(url + "/#/?group=project&sort=health");
  await page.locator(".row.group-start").first().waitFor();
});

await check("the list updates in place after a commit, with no reload", async () => {
  await page.goto(url + "/#/?q=cfg");
  await until("three cfg apps", async () => (await text("#total")) === "3 of 3 apps", 10);
  await page.evaluate(() => { window.__sameDocument = true; });
  writeFileSync(
    join(repo, "apps/config/configmap.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: debug\n",
  );
  git("commit", "-qam", "config: debug logging");
  const short = head().slice(0, 7);
  await until(`cfg-1 at ${short} on screen`, async () =>
    (await page.locator('.row[data-app="ferry/cfg-1"] .c-rev').innerText()) === short, 60);
  if (!(await page.evaluate(() => window.__sameDocument === true))) throw new Error("the page reloaded");
  await shot("03-list-after-commit");
});

await check("the sync dialog syncs an app and its tree shows Deployment, ReplicaSet and Pods", async () => {
  await page.goto(url + "/#/app/ferry/manual/tree");
  await page.locator("#action-sync:not([disabled])").click();
  const dialog = page.locator("dialog.ask", { hasText: "Prune" });
  await dialog.waitFor();
  for (const want of ["Force", "Objects", "Deployment manual/demo", "ConfigMap manual/demo-config"]) {
    if (!(await dialog.innerText()).includes(want)) throw new Error(`the sync dialog lacks ${want}: ${await dialog.innerText()}`);
  }
  await shot("04-sync-dialog");
  await page.locator("dialog.ask button[type=submit]").click();
  await page.locator(".app-head h1 .s-Synced").waitFor({ timeout: 60_000 });
  await page.locator('.tree .owned .node[data-kind="Pod"]').first().waitFor({ timeout: 60_000 });
  const tree = await text(".tree");
  for (const want of ["Deployment", "ReplicaSet", "Pod", "Service", "ConfigMap"]) {
    if (!tree.toUpperCase().includes(want.toUpperCase())) throw new Error(`tree lacks ${want}: ${tree}`);
  }
  await page.locator(".app-head h1 .s-Healthy").waitFor({ timeout: 60_000 });
  await page.locator('.tree .node[data-kind="Deployment"]').click();
  await page.locator("#live-manifest pre", { hasText: '"replicas": 2' }).waitFor();
  // What Git renders, beside the live object: no status, and the file it came from.
  const desired = await text("#desired-manifest");
  if (!desired.includes("deployment.yaml") || !desired.includes('"replicas": 2') || desired.includes('"status"')) {
    throw new Error(`desired manifest: ${desired.slice(0, 300)}`);
  }
  await shot("05-app-tree");
});

await check("drift made with kubectl shows in the diff with the old and new value and who changed it", async () => {
  kubectl("scale", "deployment/demo", "-n", "manual", "--replicas=5");
  await page.goto(url + "/#/app/ferry/manual/diff");
  const row = page.locator(".diff tr", { hasText: ".spec.replicas" });
  await row.waitFor({ timeout: 60_000 });
  const line = await row.innerText();
  if (!/2/.test(line) || !/5/.test(line) || !/kubectl/.test(line)) throw new Error(`diff row: ${line}`);
  await shot("06-app-diff");
  // A field written by a manager the app ignores: greyed with its rule, not a difference.
  kubectl("patch", "configmap/demo-config", "-n", "manual", "--field-manager=e2e-tuner", "--type=merge",
    "-p", '{"data":{"PODINFO_UI_MESSAGE":"tuned by hand"}}');
  // The app's status does not change (an ignored field is no drift), so no event reloads the
  // page: wait for the engine's comparison, then open the diff.
  await until("the ignored field in the diff", async () =>
    (await api("/api/v1/applications/ferry/manual/diff")).items.some((d) => d.ignored?.length), 60);
  await page.reload();
  const ignored = page.locator(".diff tr.ignored", { hasText: "PODINFO_UI_MESSAGE" });
  await ignored.waitFor({ timeout: 60_000 });
  const greyed = await ignored.innerText();
  if (!greyed.includes("ignored: managedFieldsManagers e2e-tuner") || !greyed.includes("tuned by hand")) throw new Error(`ignored row: ${greyed}`);
  const color = await ignored.locator("td").first().evaluate((td) => getComputedStyle(td).color);
  const normal = await page.locator(".diff tr:not(.ignored) td").first().evaluate((td) => getComputedStyle(td).color);
  if (color === normal) throw new Error(`the ignored row is not greyed (${color})`);
  await shot("06b-app-diff-ignored-greyed");
  await page.locator('#tab-why').click();
  await page.locator(".panel code", { hasText: "replicas" }).first().waitFor();
  await shot("07-app-why");
});

await check("the sync dialog syncs only the ticked object, and force asks first", async () => {
  await page.goto(url + "/#/app/ferry/manual/tree");
  await page.locator("#action-sync:not([disabled])").click();
  const dialog = page.locator("dialog.ask", { hasText: "Objects" });
  await dialog.waitFor();
  await dialog.locator("li", { hasText: "Deployment manual/demo" }).locator("input").check();
  await dialog.locator("#opt-force").check();
  await shot("07b-sync-dialog-selected-with-force");
  await dialog.locator("button[type=submit]").click();
  await page.locator("#force-warning").waitFor();
  await shot("07c-sync-force-warning");
  await page.locator("dialog.ask button[type=submit]").click();
  const op = await until("a forced sync of the Deployment only", async () => {
    const o = (await api("/api/v1/applications/ferry/manual")).status.operationState;
    return o && o.phase === "Succeeded" && o.force && o.resources?.length === 1 && o.resources[0].kind === "Deployment" && o;
  }, 60);
  if (op.changeSet.some((c) => c.kind !== "Deployment" && c.kind !== "Namespace")) throw new Error(`change set: ${JSON.stringify(op.changeSet)}`);
  const replicas = kubectl("get", "deployment/demo", "-n", "manual", "-o", "jsonpath={.spec.replicas}");
  if (replicas !== "2") throw new Error(`replicas after the selective sync: ${replicas}`);
  const message = kubectl("get", "configmap/demo-config", "-n", "manual", "-o", "jsonpath={.data.PODINFO_UI_MESSAGE}");
  if (message !== "tuned by hand") throw new Error(`the ConfigMap was touched: ${message}`);
});

await check("history lists each deployed revision and rolls back from an entry", async () => {
  const first = (await api("/api/v1/applications/ferry/manual")).status.sync.revision;
  const demo = join(repo, "apps/demo/deployment.yaml");
  run("sed", ["-i", "s/replicas: 2/replicas: 3/", demo]);
  git("commit", "-qam", "demo: scale to 3");
  await page.goto(url + "/#/app/ferry/manual/tree");
  await until("the new commit seen", async () =>
    (await api("/api/v1/applications/ferry/manual")).status.sync.status === "OutOfSync", 60);
  await page.locator("#action-sync:not([disabled])").click();
  await page.locator("dialog.ask button[type=submit]").click();
  await until("two history entries", async () =>
    (await api("/api/v1/applications/ferry/manual/history")).items.length >= 2, 60);
  await page.goto(url + "/#/app/ferry/manual/history");
  await page.locator("button.rollback").first().waitFor();
  // Each entry says who wrote the commit, its first line and what the sync changed.
  const newest = await page.locator(".panel tbody tr").first().innerText();
  if (!newest.includes("demo: scale to 3") || !/1 configured/.test(newest)) throw new Error(`newest entry: ${newest}`);
  await page.locator(".panel tbody tr").first().locator("details.changes summary").click();
  if (!(await text(".panel tbody tr details.changes")).includes("configured Deployment manual/demo")) {
    throw new Error(`changed objects: ${await text(".panel tbody tr details.changes")}`);
  }
  await shot("08-app-history");
  await page.locator("button.rollback").last().click();
  await page.locator("dialog.ask", { hasText: "pinned" }).waitFor();
  await page.locator("dialog.ask button[type=submit]").click();
  await page.locator(".banner", { hasText: "Pinned to " + first.slice(0, 7) }).waitFor({ timeout: 60_000 });
  await shot("09-app-pinned");
});

await check("the dark theme is one click away and stays chosen", async () => {
  await page.goto(url + "/#/");
  await page.locator("#theme").click();
  await page.reload();
  const theme = await page.evaluate(() => document.documentElement.dataset.theme);
  if (theme !== "dark") throw new Error(`theme: ${theme}`);
  await page.locator('.row[data-app="ferry/manual"]').waitFor();
  await shot("10-list-dark");
});

await check("keyboard: arrows move through the list and Enter opens the app", async () => {
  await page.goto(url + "/#/?q=manual");
  await until("only manual listed", async () => (await text("#total")) === "1 of 1 apps", 10);
  await page.locator(".viewport").focus();
  await page.keyboard.press("Home");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => location.hash.startsWith("#/app/ferry/manual"));
  await page.locator(".app-head h1").waitFor();
});

await check("a read-only token sees the actions disabled, with the reason as a tooltip", async () => {
  const token = run(need("FERRY_BIN"), ["token", "create", "viewer", "--role", "role:readonly", "--kubeconfig", need("KUBECONFIG")]);
  const viewer = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await viewer.addInitScript((t) => sessionStorage.setItem("ferry-token", t), token);
  const p = await viewer.newPage();
  // The API learns of new tokens through a watch: retry until it knows this one.
  await until("the viewer's token known to the API", async () => {
    const res = await fetch(`${url}/api/v1/account`, { headers: { Authorization: `Bearer ${token}` } });
    return res.ok && (await res.json()).user.includes("viewer");
  }, 30);
  await p.goto(url + "/#/app/ferry/manual/history");
  await p.locator("#action-sync").waitFor();
  for (const id of ["#action-sync", "#action-delete", "#action-suspend"]) {
    if (!(await p.locator(id).isDisabled())) throw new Error(`${id} is enabled for a read-only token`);
  }
  const why = await p.locator("#action-sync").getAttribute("title");
  if (!/may not sync/.test(why ?? "")) throw new Error(`tooltip: ${why}`);
  if (!(await p.locator("button.rollback").first().isDisabled())) throw new Error("rollback is enabled for a read-only token");
  await p.screenshot({ path: join(shots, "11-readonly-app.png"), fullPage: true });
  await viewer.close();
});

await check("the page raised no script error, CSP violation or failed request", async () => {
  if (consoleErrors.length) throw new Error(consoleErrors.join("\n"));
});

await browser.close();
const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
