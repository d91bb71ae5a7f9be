// Ferry's web UI: a list of applications and one page per application, refreshed every few
// seconds from the REST API. Plain DOM, no dependencies; text always goes in via textContent.
"use strict";

const REFRESH_MS = 3000;
const main = document.getElementById("main");
const statusLine = document.getElementById("status");
let timer = null;
let token = sessionStorage.getItem("ferry-token") || "";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function badge(text) {
  const t = text || "Unknown";
  return el("span", { class: "badge b-" + t.replace(/[^A-Za-z]/g, "") }, t);
}

function short(rev) { return rev ? rev.slice(0, 7) : "—"; }

function ago(iso) {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (token) opts.headers["Authorization"] = "Bearer " + token;
  if (opts.body !== undefined) opts.headers["Content-Type"] = "application/json";
  const res = await fetch(path, opts);
  if (res.status === 401) {
    askToken();
    throw new Error("a token is required");
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.error || res.statusText);
    err.hint = body.hint;
    throw err;
  }
  return body;
}

function askToken() {
  const dialog = document.getElementById("token-dialog");
  if (!dialog.open) dialog.showModal();
}

document.getElementById("token-form").addEventListener("submit", () => {
  token = document.getElementById("token-input").value.trim();
  sessionStorage.setItem("ferry-token", token);
  route();
});

function showError(e) {
  main.replaceChildren(el("div", { class: "problem" }, e.message, e.hint ? el("div", { class: "muted" }, "hint: " + e.hint) : null));
}

// ---- the list ----

async function renderList() {
  const list = await api("/api/v1/applications");
  const rows = list.items.map((a) => {
    const href = "#/app/" + encodeURIComponent(a.namespace) + "/" + encodeURIComponent(a.name);
    return el("tr", { class: "clickable", onclick: () => { location.hash = href; } },
      el("td", {}, el("a", { href }, a.name), el("div", { class: "muted" }, a.namespace)),
      el("td", {}, badge(a.sync.status), " ", a.suspended ? badge("Suspended") : null, a.pinned ? [" ", badge("Pinned")] : null),
      el("td", {}, badge(a.health.status)),
      el("td", { class: "mono", title: a.sync.revision }, short(a.sync.revision)),
      el("td", {}, el("div", { class: "mono" }, a.source.repoURL), el("div", { class: "muted" }, (a.source.path || ".") + " @ " + a.source.targetRevision),
        (a.problems || []).slice(0, 1).map((p) => el("div", { class: "problem-line" }, p.type + ": " + p.message))),
      el("td", {}, a.lastOperation ? [badge(a.lastOperation.phase), " ", el("span", { class: "muted" }, ago(a.lastOperation.finishedAt || a.lastOperation.startedAt))] : el("span", { class: "muted" }, "never")),
    );
  });
  const table = rows.length
    ? el("table", {}, el("thead", {}, el("tr", {}, ["Application", "Sync", "Health", "Revision", "Source", "Last sync"].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
    : el("div", { class: "empty" }, "No applications yet. Create one with ", el("code", {}, "ferry app create"), " or ", el("code", {}, "kubectl apply"), ".");
  main.replaceChildren(el("h1", {}, "Applications"), el("p", { class: "muted" }, list.items.length + " application(s)"), el("div", { class: "panel" }, table));
}

// ---- one application ----

let notice = "";

async function act(ns, name, action, body) {
  try {
    const r = await api(`/api/v1/applications/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${action}`, { method: "POST", body: JSON.stringify(body || {}) });
    notice = r.message;
  } catch (e) {
    notice = "Failed: " + e.message + (e.hint ? " (hint: " + e.hint + ")" : "");
  }
  route();
}

async function renderApp(ns, name) {
  const base = `/api/v1/applications/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
  const [app, resources, history, diff, events] = await Promise.all([
    api(base), api(base + "/resources"), api(base + "/history"), api(base + "/diff"), api(base + "/events"),
  ]);
  const st = app.status || {};
  const sync = st.sync || {};
  const health = st.health || {};
  const op = st.operationState;
  const src = app.spec.source;
  const suspended = !!app.spec.suspend;

  const actions = el("div", { class: "row" },
    el("button", { class: "primary", onclick: () => act(ns, name, "sync", {}) }, "Sync"),
    el("button", { onclick: () => act(ns, name, "sync", { prune: true }) }, "Sync + prune"),
    el("button", { onclick: () => act(ns, name, "refresh") }, "Refresh"),
    suspended
      ? el("button", { onclick: () => act(ns, name, "resume") }, "Resume")
      : el("button", { class: "danger", onclick: () => act(ns, name, "suspend") }, "Suspend"),
    st.pinned ? el("button", { onclick: () => act(ns, name, "unpin") }, "Unpin") : null,
  );

  const head = el("div", { class: "head" },
    el("div", { class: "grow" },
      el("div", {}, el("a", { href: "#/" }, "← Applications")),
      el("h1", {}, name),
      el("div", { class: "row" }, badge(sync.status), badge(health.status), suspended ? badge("Suspended") : null, st.pinned ? badge("Pinned") : null,
        el("span", { class: "muted" }, ns))),
    actions);

  const problems = (st.conditions || [])
    .filter((c) => (c.status === "True") === ["SyncFailed", "PruneRefused", "RollbackFailed", "Pinned", "ComparisonError"].includes(c.type))
    .map((c) => el("div", { class: "problem" }, el("strong", {}, c.type + ": " + c.reason), el("div", {}, c.message)));

  const facts = el("dl", { class: "facts" },
    el("dt", {}, "Repository"), el("dd", { class: "mono" }, src.repoURL),
    el("dt", {}, "Path"), el("dd", { class: "mono" }, src.path || "."),
    el("dt", {}, "Target"), el("dd", { class: "mono" }, src.targetRevision || "HEAD"),
    el("dt", {}, "Synced to"), el("dd", { class: "mono", title: sync.revision || "" }, short(sync.revision)),
    el("dt", {}, "Destination"), el("dd", {}, app.spec.destination.namespace || "—"),
    el("dt", {}, "Health"), el("dd", {}, health.message || health.status || "—"),
    el("dt", {}, "Last sync"), el("dd", {}, op ? [badge(op.phase), " ", short(op.revision), " · ", ago(op.finishedAt || op.startedAt), op.message ? el("div", { class: "muted" }, op.message) : null] : "never"),
    el("dt", {}, "Reconciled"), el("dd", {}, ago(st.reconciledAt)),
    st.pinned ? [el("dt", {}, "Pinned"), el("dd", {}, short(st.pinned.revision) + " — " + st.pinned.reason)] : null,
  );

  const resRows = resources.items.map((r) => el("tr", {},
    el("td", {}, r.kind, el("div", { class: "muted" }, r.group || "core")),
    el("td", {}, r.name, r.namespace ? el("div", { class: "muted" }, r.namespace) : null,
      r.drift.length ? el("ul", { class: "drift mono" }, r.drift.map((d) => el("li", {}, d))) : null),
    el("td", {}, badge(r.sync)),
    el("td", {}, r.health ? [badge(r.health.status), r.health.message ? el("div", { class: "muted" }, r.health.message) : null] : el("span", { class: "muted" }, "—")),
  ));
  const resTable = resRows.length
    ? el("table", {}, el("thead", {}, el("tr", {}, ["Kind", "Name", "Sync", "Health"].map((h) => el("th", {}, h)))), el("tbody", {}, resRows))
    : el("div", { class: "empty" }, "No resources yet.");

  const histRows = history.items.map((h) => el("tr", {},
    el("td", {}, String(h.id)),
    el("td", { class: "mono", title: h.revision }, short(h.revision), h.current ? [" ", el("span", { class: "badge b-info" }, "current")] : null),
    el("td", {}, ago(h.deployedAt)),
    el("td", {}, h.healthy === true ? badge("Healthy") : h.healthy === false ? badge("Degraded") : el("span", { class: "muted" }, "—")),
    el("td", {}, h.current ? null : el("button", { onclick: () => { if (confirm(`Roll back ${name} to ${short(h.revision)}?`)) act(ns, name, "rollback", { id: h.id }); } }, "Rollback")),
  ));
  const histTable = histRows.length
    ? el("table", {}, el("thead", {}, el("tr", {}, ["#", "Revision", "Deployed", "Health", ""].map((h) => el("th", {}, h)))), el("tbody", {}, histRows))
    : el("div", { class: "empty" }, "Nothing deployed yet.");

  const diffs = diff.items.map((d) => el("div", { class: "panel" },
    el("div", {}, el("strong", {}, d.kind + " " + (d.namespace ? d.namespace + "/" : "") + d.name)),
    d.changes.map((c) => el("div", { class: "mono" },
      el("span", { class: "diff-path" }, c.path), " ",
      el("span", { class: "diff-old" }, "live " + JSON.stringify(c.live)), " → ",
      el("span", { class: "diff-new" }, "git " + JSON.stringify(c.desired)),
      c.changedBy ? el("span", { class: "muted" }, " (changed by " + c.changedBy.manager + ")") : null)),
  ));

  const evRows = events.items.slice(0, 20).map((e) => el("tr", {},
    el("td", {}, badge(e.type)), el("td", {}, e.reason), el("td", {}, e.message), el("td", { class: "muted" }, ago(e.lastSeen))));
  const evTable = evRows.length
    ? el("table", {}, el("tbody", {}, evRows))
    : el("div", { class: "empty" }, "No recent events.");

  main.replaceChildren(...[
    head,
    notice ? el("div", { class: "notice" }, notice) : null,
    ...problems,
    el("div", { class: "grid" },
      el("div", { class: "panel" }, el("h2", {}, "Overview"), facts),
      el("div", { class: "panel" }, el("h2", {}, "History"), histTable)),
    el("div", { class: "panel" }, el("h2", {}, "Resources"), resTable),
    diffs.length ? el("div", {}, el("h2", {}, "Differences from Git"), diffs) : null,
    el("div", { class: "panel" }, el("h2", {}, "Events"), evTable),
  ].flat().filter(Boolean));
}

// ---- routing and refresh ----

async function route() {
  clearTimeout(timer);
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "app" && parts.length === 3) await renderApp(parts[1], parts[2]);
    else await renderList();
    statusLine.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (e.message !== "a token is required") showError(e);
    statusLine.textContent = "update failed";
  }
  timer = setTimeout(route, REFRESH_MS);
}

window.addEventListener("hashchange", () => { notice = ""; route(); });
route();
