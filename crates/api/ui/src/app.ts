// One application: header with state and actions, and tabs for its tree, diff, why, events,
// history and manifest. Refreshed when the live stream says the app changed.

import {
  Accepted, api, ApiError, appPath, Application, canI, EventItem, FieldChange, HistoryChanges, HistoryEntry, ObjectDiff, onChanges, Resource, TreeNode,
} from "./api";
import { ask, checkbox } from "./dialogs";
import { ago, badge, el, short, toast } from "./dom";

export const TABS = ["tree", "diff", "why", "events", "history", "manifest"] as const;
type Tab = (typeof TABS)[number];
const TAB_LABELS: Record<Tab, string> = {
  tree: "Tree", diff: "Diff", why: "Why", events: "Events", history: "History", manifest: "Manifest",
};

interface Data { app: Application; tree: TreeNode[]; resources: Resource[]; diff: ObjectDiff[]; history: HistoryEntry[] }

export class AppPage {
  readonly root = el("section", { class: "app" });
  private data?: Data;
  private timer = 0;
  private stop: () => void;

  constructor(private ns: string, private name: string, private tab: Tab) {
    this.stop = onChanges((c) => {
      const mine = c.upserts.some((a) => a.namespace === ns && a.name === name) || c.deletes.some((d) => d.namespace === ns && d.name === name);
      if (mine) { window.clearTimeout(this.timer); this.timer = window.setTimeout(() => void this.load(), 200); }
    });
  }

  dispose(): void { this.stop(); window.clearTimeout(this.timer); }

  async load(): Promise<void> {
    const base = appPath(this.ns, this.name);
    try {
      const [app, tree, resources, diff, history] = await Promise.all([
        api<Application>(base), api<{ nodes: TreeNode[] }>(`${base}/tree`), api<{ items: Resource[] }>(`${base}/resources`),
        api<{ items: ObjectDiff[] }>(`${base}/diff`), api<{ items: HistoryEntry[] }>(`${base}/history`),
      ]);
      this.data = { app, tree: tree.nodes, resources: resources.items, diff: diff.items, history: history.items };
    } catch (e) {
      const err = e as ApiError;
      this.root.replaceChildren(el("div", { class: "problem", role: "alert" }, err.message, err.hint ? el("div", { class: "muted" }, `hint: ${err.hint}`) : null));
      return;
    }
    await this.render();
  }

  private object(): string {
    return `${this.data?.app.spec.project || "default"}/${this.ns}/${this.name}`;
  }

  private async render(): Promise<void> {
    const d = this.data!;
    // Ask the policy about every action at once (each answer is cached), not one after another.
    await Promise.all(["sync", "get", "update", "delete", "approve"].map((p) => canI(p, this.object())));
    const panel = el("div", { class: "panel", role: "tabpanel", id: "panel", "aria-labelledby": `tab-${this.tab}` });
    this.root.replaceChildren(await this.header(d), this.tabs(d), panel);
    panel.append(...(await this.panel(d)));
  }

  private async header(d: Data): Promise<HTMLElement> {
    const s = d.app.status;
    const src = d.app.spec.source;
    const pin = s?.pinned ? el("div", { class: "banner", role: "note" },
      `Pinned to ${short(s.pinned.revision)} by a rollback: new commits are not applied. `,
      await this.action("unpin", "Unpin", "sync", () => this.post("unpin", undefined, "Follow targetRevision again?"))) : null;
    const waiting = [s?.approval, s?.pruneApproval].find((a) => a?.phase === "AwaitingApproval");
    const approve = waiting ? await this.action("approve", `Approve ${short(waiting.revision)}`, "approve",
      () => this.post("approve", { revision: waiting.revision }, `Approve revision ${short(waiting.revision)}?`)) : null;
    const suspended = d.app.spec.suspend;
    return el("header", { class: "app-head" },
      el("nav", { "aria-label": "Breadcrumb" }, el("a", { href: "#/" }, "Applications"), " / ", this.ns),
      el("h1", {}, this.name, " ", badge("sync", s?.sync.status), " ", badge("health", s?.health.status)),
      el("p", { class: "muted" }, `${src.repoURL} · ${src.path || "."} @ ${src.targetRevision || "HEAD"} → `,
        `${cluster(d.app.spec.destination)}/${d.app.spec.destination.namespace}`,
        ` · revision `, el("span", { class: "mono" }, short(s?.sync.verifiedRevision ?? s?.sync.revision)),
        s?.sync.verifiedRevision ? ` (unchanged since ${short(s.sync.revision)}, verified ${ago(s.sync.verifiedAt)})` : "",
        ` · reconciled ${ago(s?.reconciledAt)}`),
      s?.operationState ? el("p", { class: "op" }, `Last operation: ${s.operationState.phase}${s.operationState.dryRun ? " (dry run)" : ""} — ${s.operationState.message}`) : null,
      pin,
      el("div", { class: "actions", role: "toolbar", "aria-label": "Actions" },
        await this.action("sync", "Sync…", "sync", () => this.syncDialog(d)),
        await this.action("refresh", "Refresh", "get", () => this.post("refresh")),
        await this.action(suspended ? "resume" : "suspend", suspended ? "Resume" : "Suspend", "update",
          () => this.post(suspended ? "resume" : "suspend")),
        approve,
        await this.action("delete", "Delete…", "delete", () => this.deleteDialog(), true)));
  }

  /** A button that is disabled, with the reason as its tooltip, when the policy says no. */
  private async action(id: string, label: string, permission: string, run: () => Promise<void>, danger = false): Promise<HTMLElement> {
    const allowed = await canI(permission, this.object());
    const button = el("button", {
      type: "button", id: `action-${id}`, class: danger ? "danger" : "", disabled: !allowed,
      title: allowed ? "" : `Your role may not ${permission} this application`,
      onclick: async () => { button.disabled = true; try { await run(); } finally { button.disabled = false; } },
    }, label);
    return button;
  }

  private async post(verb: string, body?: unknown, confirm?: string): Promise<void> {
    if (confirm && !(await ask(confirm, [], "Confirm"))) return;
    try {
      const answer = await api<Accepted>(`${appPath(this.ns, this.name)}/${verb}`, "POST", body ?? {});
      toast(answer.message);
    } catch (e) {
      toast(`${(e as Error).message}${(e as ApiError).hint ? ` — ${(e as ApiError).hint}` : ""}`, true);
    }
  }

  private async syncDialog(d: Data): Promise<void> {
    const outOf = d.resources.filter((r) => r.sync !== "Synced");
    const form = await ask(`Sync ${this.name}`, [
      el("p", {}, `Applies revision ${d.app.spec.source.targetRevision || "HEAD"} of ${d.app.spec.source.path || "."}. `,
        outOf.length ? `${outOf.length} object(s) differ from Git: ${outOf.slice(0, 5).map((r) => `${r.kind}/${r.name}`).join(", ")}${outOf.length > 5 ? "…" : ""}.` : "Every object matches Git."),
      checkbox("prune", "Prune", "delete objects Ferry applied before that Git no longer declares"),
      checkbox("dryRun", "Dry run", "compute and report the change set; change nothing"),
      checkbox("force", "Force", "delete and create again objects whose immutable fields changed (a Job's template, a Service's clusterIP); their pods restart"),
      selectObjects(d.resources),
    ], "Synchronize");
    if (!form) return;
    const resources = form.getAll("resource").map((v) => JSON.parse(String(v)) as SyncRef);
    const body = { prune: form.get("prune") === "on", dryRun: form.get("dryRun") === "on", force: form.get("force") === "on", resources };
    if (body.prune && !(await ask("Prune objects?", [el("p", {}, "Objects Git no longer declares will be deleted from the cluster.")], "Sync and prune", true))) return;
    if (body.force && !body.dryRun && !(await ask("Sync with force?", [el("p", { class: "warn", id: "force-warning" },
      "Objects the server refuses to update because an immutable field changed are deleted and created again: their pods restart, and whatever lives only in them is lost.")], "Sync with force", true))) return;
    await this.post("sync", body);
  }

  private async deleteDialog(): Promise<void> {
    const form = await ask(`Delete ${this.name}?`, [
      el("p", {}, "The Application is removed. Its objects stay in the cluster unless you tick the box."),
      checkbox("cascade", "Delete its objects too", "adds the cascade finalizer first (as ferry app delete --cascade)"),
    ], "Delete", true);
    if (!form) return;
    const cascade = form.get("cascade") === "on";
    try {
      const answer = await api<Accepted>(`${appPath(this.ns, this.name)}?cascade=${cascade}`, "DELETE");
      toast(answer.message);
      location.hash = "#/";
    } catch (e) {
      toast((e as Error).message, true);
    }
  }

  private tabs(d: Data): HTMLElement {
    // Objects whose only differences are ignored are listed (greyed) but not counted.
    const counts: Partial<Record<Tab, number>> = { tree: d.tree.length, diff: d.diff.filter((x) => x.changes.length).length, history: d.history.length };
    const list = el("div", { class: "tabs", role: "tablist", "aria-label": "Views of the application" },
      ...TABS.map((t) => el("a", {
        role: "tab", id: `tab-${t}`, href: `#/app/${encodeURIComponent(this.ns)}/${encodeURIComponent(this.name)}/${t}`,
        "aria-selected": t === this.tab ? "true" : "false", "aria-controls": "panel", tabindex: t === this.tab ? 0 : -1,
      }, TAB_LABELS[t], counts[t] !== undefined ? el("span", { class: "n" }, String(counts[t])) : null)));
    list.addEventListener("keydown", (e) => {
      const i = TABS.indexOf(this.tab);
      const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (step) (list.children[(i + step + TABS.length) % TABS.length] as HTMLElement).click();
    });
    return list;
  }

  private async panel(d: Data): Promise<Node[]> {
    switch (this.tab) {
      case "tree": {
        const view = el("section", { class: "object-view", id: "object-view", "aria-live": "polite" },
          el("p", { class: "muted" }, "Choose an object to see its desired and live manifests."));
        return [renderTree(d.tree, d.resources, (n) => void this.showObject(n, view)), view];
      }
      case "diff": return renderDiff(d.diff);
      case "why": return renderWhy(d);
      case "events": return [await this.events()];
      case "history": return [await this.history(d)];
      case "manifest": return [el("pre", { class: "manifest", "aria-label": "The Application object" }, JSON.stringify(d.app, null, 2))];
    }
  }

  /** One object of the tree: what Git renders for it (managed objects only) next to the live
   * manifest; Secret values come masked on both sides. */
  private async showObject(n: TreeNode, view: HTMLElement): Promise<void> {
    const q = new URLSearchParams({ group: n.group, version: n.version, kind: n.kind, namespace: n.namespace ?? "", name: n.name });
    const base = appPath(this.ns, this.name);
    view.replaceChildren(el("p", { class: "muted" }, `Loading ${n.kind} ${n.name}…`));
    try {
      const [live, desired] = await Promise.all([
        api<unknown>(`${base}/object?${q}`),
        n.managed ? api<{ origin: string; object: unknown }>(`${base}/desired?${q}`).catch((e: ApiError) => e) : Promise.resolve(null),
      ]);
      const want = desired === null
        ? el("p", { class: "muted" }, "Owned by another object: Git declares no manifest for it.")
        : desired instanceof ApiError ? el("p", { class: "problem" }, desired.message)
          : el("pre", { class: "manifest", "aria-label": "Desired manifest" }, JSON.stringify(desired.object, null, 2));
      view.replaceChildren(el("h3", {}, `${n.kind} ${n.namespace ? `${n.namespace}/` : ""}${n.name}`, el("span", { class: "muted small" }, " Secret values masked")),
        el("div", { class: "sides" },
          el("section", { class: "side", id: "desired-manifest" }, el("h4", {}, "Desired (Git)",
            desired && !(desired instanceof ApiError) ? el("span", { class: "muted small" }, ` from ${desired.origin}`) : null), want),
          el("section", { class: "side", id: "live-manifest" }, el("h4", {}, "Live (cluster)"),
            el("pre", { class: "manifest", "aria-label": "Live manifest" }, JSON.stringify(live, null, 2)))));
    } catch (e) {
      view.replaceChildren(el("p", { class: "problem" }, (e as Error).message));
    }
  }

  private async events(): Promise<HTMLElement> {
    const list = await api<{ items: EventItem[] }>(`${appPath(this.ns, this.name)}/events`);
    if (!list.items.length) return el("p", { class: "empty" }, "No events yet.");
    return table(["Type", "Reason", "Message", "Count", "Last seen"], list.items.map((e) => [
      el("span", { class: e.type === "Warning" ? "warn" : "" }, e.type), e.reason, e.message, String(e.count), ago(e.lastSeen)]));
  }

  private async history(d: Data): Promise<HTMLElement> {
    if (!d.history.length) return el("p", { class: "empty" }, "Nothing deployed yet.");
    const may = await canI("sync", this.object());
    return table(["#", "Revision", "Message", "Author", "Changes", "Deployed", "Source", "Healthy", ""], d.history.map((h) => [
      String(h.id), el("span", { class: "mono" }, short(h.revision)), h.message || "—",
      h.author ? el("span", { title: h.author }, h.author.replace(/ <.*>$/, "")) : "—", changes(h.changes),
      ago(h.deployedAt), `${h.path || "."} @ ${h.targetRevision}`,
      h.healthy === undefined ? "—" : h.healthy ? "yes" : "no",
      h.current ? el("span", { class: "tag" }, "current") : el("button", {
        type: "button", class: "rollback", "data-id": String(h.id), disabled: !may,
        title: may ? `Roll back to ${short(h.revision)}` : "Your role may not sync this application",
        onclick: async () => {
          const ok = await ask(`Roll back to ${short(h.revision)}?`, [el("p", {},
            `History entry ${h.id} (${short(h.revision)}, deployed ${ago(h.deployedAt)}) is applied and the app is pinned there: new commits are not applied until you unpin.`)], "Roll back", true);
          if (ok) await this.post("rollback", { id: h.id });
        },
      }, "Roll back…")]));
  }
}

/** A sync's change set as history keeps it: counts, and the changed objects behind a disclosure. */
function changes(c: HistoryChanges | undefined): Node | string {
  if (!c) return "—";
  const counts = ([["created", c.created], ["configured", c.configured], ["pruned", c.pruned], ["unchanged", c.unchanged], ["other", c.other ?? 0]] as const)
    .filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`).join(", ") || "nothing to do";
  const objects = c.objects ?? [];
  if (!objects.length) return counts;
  return el("details", { class: "changes" }, el("summary", {}, counts),
    el("ul", {}, ...objects.map((o) => el("li", {}, el("span", { class: `act act-${o.action}` }, o.action), ` ${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`)),
      c.more ? el("li", { class: "muted" }, `and ${c.more} more`) : null));
}

interface SyncRef { group: string; kind: string; namespace: string; name: string }

/** The sync dialog's object list: none ticked syncs the whole app, some ticked only those. */
function selectObjects(resources: Resource[]): HTMLElement {
  const items = resources.map((r, i) => {
    const id = `res-${i}`;
    const ref: SyncRef = { group: r.group, kind: r.kind, namespace: r.namespace, name: r.name };
    return el("li", {}, el("input", { type: "checkbox", id, name: "resource", value: JSON.stringify(ref) }),
      el("label", { for: id }, `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name} `, badge("sync", r.sync)));
  });
  return el("fieldset", { class: "objects" },
    el("legend", {}, "Objects"),
    el("small", { class: "muted" }, "None ticked: the whole app. Ticked: only those are applied (and pruned, with Prune); hooks do not run, and the app stays OutOfSync while others differ."),
    items.length ? el("ul", { class: "object-list" }, ...items) : el("p", { class: "empty" }, "The app declares no objects yet."));
}

/** The destination as the list names it: `in-cluster` for the cluster Ferry runs in. */
function cluster(dest: { name?: string; server?: string }): string {
  if (dest.name) return dest.name;
  return !dest.server || /\/\/kubernetes\.default\.svc\/?$/.test(dest.server) ? "in-cluster" : dest.server;
}

function table(head: string[], rows: (Node | string)[][], rowClass: (i: number) => string = () => ""): HTMLElement {
  return el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r, i) => el("tr", { class: rowClass(i) || null }, ...r.map((c) => el("td", {}, c))))));
}

function renderTree(nodes: TreeNode[], resources: Resource[], open: (n: TreeNode) => void): HTMLElement {
  if (!nodes.length) return el("p", { class: "empty" }, "The app manages no objects yet.");
  const children = new Map<string, TreeNode[]>();
  const roots: TreeNode[] = [];
  for (const n of nodes) {
    const parent = n.parents?.[0];
    if (parent) children.set(parent, [...(children.get(parent) ?? []), n]);
    else roots.push(n);
  }
  const drift = new Map(resources.map((r) => [`${r.kind}/${r.namespace}/${r.name}`, r.drift]));
  const item = (n: TreeNode): HTMLElement => {
    const kids = children.get(n.id) ?? [];
    const lines = drift.get(`${n.kind}/${n.namespace ?? ""}/${n.name}`) ?? [];
    return el("li", { role: "treeitem", "aria-expanded": kids.length ? "true" : null, class: n.managed ? "" : "owned" },
      el("div", {
        class: "node", tabindex: 0, "data-kind": n.kind, role: "button", "aria-label": `${n.kind} ${n.name}: show its manifests`,
        onclick: () => open(n), onkeydown: (e: Event) => { if ((e as KeyboardEvent).key === "Enter") open(n); },
      },
        el("span", { class: "kind" }, n.kind),
        el("span", { class: "name" }, n.name),
        n.sync ? badge("sync", n.sync) : el("span", { class: "muted small" }, "owned"),
        n.health ? badge("health", n.health) : null,
        n.message ? el("span", { class: "msg" }, n.message) : null,
        lines.length > 1 ? el("span", { class: "msg" }, `+${lines.length - 1} more drifted field(s)`) : null),
      kids.length ? el("ul", { role: "group" }, ...kids.map(item)) : null);
  };
  return el("ul", { class: "tree", role: "tree", "aria-label": "Objects and what they own" }, ...roots.map(item));
}

function value(v: unknown): string {
  if (v === null || v === undefined) return "(absent)";
  return typeof v === "string" ? v : JSON.stringify(v, null, 1);
}

function renderDiff(diffs: ObjectDiff[]): Node[] {
  if (!diffs.length) return [el("p", { class: "empty" }, "Live objects match Git: no difference.")];
  const by = (c: FieldChange): string =>
    c.changedBy ? `${c.changedBy.manager} (${c.changedBy.operation})${c.changedBy.time ? `, ${ago(c.changedBy.time)}` : ""}` : "—";
  return diffs.map((d) => el("section", { class: "diff", "aria-label": `${d.kind} ${d.name}` },
    el("h3", {}, `${d.kind} ${d.namespace ? `${d.namespace}/` : ""}${d.name}`,
      d.changes.length ? null : el("span", { class: "muted small" }, " in sync; only ignored differences")),
    table(["Field", "Git (desired)", "Cluster (live)", "Changed by"], [
      ...d.changes.map((c) => [el("code", {}, c.path), el("pre", { class: "want" }, value(c.desired)), el("pre", { class: "have" }, value(c.live)), by(c)]),
      // Differences the app's ignoreDifferences leaves out: shown greyed, never drift.
      ...(d.ignored ?? []).map((c) => [
        el("span", {}, el("code", {}, c.path), " ", el("span", { class: "tag ignored-rule" }, `ignored: ${c.rule}`)),
        el("pre", {}, value(c.desired)), el("pre", {}, value(c.live)), by(c)]),
    ], (i) => i >= d.changes.length ? "ignored" : "")));
}

function renderWhy(d: Data): Node[] {
  const conditions = d.app.status?.conditions ?? [];
  const drifted = d.resources.filter((r) => r.drift.length);
  return [
    el("h3", {}, "Conditions"),
    conditions.length ? table(["Type", "Status", "Reason", "Message", "Since"], conditions.map((c) => [
      c.type, c.status, c.reason ?? "", c.message ?? "", ago(c.lastTransitionTime)])) : el("p", { class: "empty" }, "No conditions."),
    el("h3", {}, "Drift"),
    drifted.length ? table(["Object", "Field and who changed it"], drifted.flatMap((r) => r.drift.map((line) => [
      `${r.kind}/${r.name}`, el("code", {}, line)]))) : el("p", { class: "empty" }, "Nothing drifted from Git."),
  ];
}
