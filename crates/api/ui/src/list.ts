// The apps list: counts by state, filters, sort and grouping in the URL, pages fetched from the
// server as they scroll into view, only the visible rows in the DOM, live updates in place.

import { api, AppList, AppSummary, onChanges } from "./api";
import { badge, el, short, ago } from "./dom";

const ROW = 44;
const PAGE = 100;
const FILTERS = ["project", "cluster", "destNamespace", "repo", "label"] as const;
const FILTER_LABELS: Record<string, string> = {
  project: "Project", cluster: "Cluster", destNamespace: "Namespace", repo: "Repository", label: "Label",
};
const SYNC = ["Synced", "OutOfSync", "Unknown"];
const HEALTH = ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"];
const GROUPS: Record<string, keyof AppSummary> = { project: "project", cluster: "cluster", destNamespace: "destinationNamespace" };

export function listQuery(params: URLSearchParams): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of ["q", "sync", "health", ...FILTERS]) {
    const v = params.get(k);
    if (v) q.set(k, v);
  }
  const group = params.get("group");
  const sort = [group && GROUPS[group] ? group : "", params.get("sort") ?? ""].filter(Boolean).join(",");
  if (sort) q.set("sort", sort);
  return q;
}

export class AppsList {
  private pages = new Map<number, AppSummary[]>();
  private loading = new Set<number>();
  private total = 0;
  private active = 0;
  private refetch = 0;
  private viewport!: HTMLElement;
  private header!: HTMLElement;
  private spacer!: HTMLElement;
  private rows!: HTMLElement;
  private summary!: HTMLElement;
  private chips!: HTMLElement;
  private stop: () => void;
  readonly root: HTMLElement;

  constructor(private params: URLSearchParams, private navigate: (p: URLSearchParams) => void) {
    this.root = el("section", { class: "list", "aria-label": "Applications" });
    this.stop = onChanges((c) => this.changed(c.upserts, c.deletes.length > 0));
  }

  dispose(): void { this.stop(); }

  async start(): Promise<void> {
    const first = await this.fetchPage(0);
    this.layout(first);
    this.draw();
  }

  /** New filters from the URL: the toolbar stays (focus and typing are kept), the rows reload. */
  async update(params: URLSearchParams): Promise<void> {
    this.params = params;
    this.pages.clear();
    this.active = 0;
    for (const select of this.root.querySelectorAll<HTMLSelectElement>(".toolbar select")) {
      const key = select.id.replace(/^filter-/, "");
      select.value = params.get(key) ?? "";
    }
    const search = this.root.querySelector<HTMLInputElement>("#search");
    if (search && document.activeElement !== search) search.value = params.get("q") ?? "";
    const first = await this.fetchPage(0);
    this.header.replaceWith(this.header = this.headerRow());
    this.counts(first);
    this.viewport.scrollTop = 0;
    this.draw();
  }

  private async fetchPage(n: number): Promise<AppList> {
    const q = listQuery(this.params);
    q.set("offset", String(n * PAGE));
    q.set("limit", String(PAGE));
    const page = await api<AppList>(`/api/v1/applications?${q}`);
    this.pages.set(n, page.items);
    this.total = page.total;
    return page;
  }

  private layout(first: AppList): void {
    this.summary = el("div", { class: "counts", role: "group", "aria-label": "Counts by state" });
    this.chips = el("div", { class: "chips", "aria-label": "Active filters" });
    this.spacer = el("div", { class: "spacer-rows" });
    this.rows = el("div", { class: "rows" });
    this.viewport = el("div", {
      class: "viewport", tabindex: 0, role: "listbox", "aria-label": "Applications, use arrow keys and Enter",
      onscroll: () => this.draw(), onkeydown: (e: Event) => this.key(e as KeyboardEvent),
    }, this.spacer, this.rows);
    this.header = this.headerRow();
    this.root.replaceChildren(this.toolbar(first), this.summary, this.chips, this.header, this.viewport);
    this.counts(first);
  }

  private toolbar(first: AppList): HTMLElement {
    const search = el("input", {
      type: "search", id: "search", placeholder: "Search name, namespace, repo, path  ( / )",
      value: this.params.get("q") ?? "", "aria-label": "Search applications",
    });
    let timer = 0;
    search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => this.set("q", search.value.trim()), 150);
    });
    const selects = FILTERS.map((f) => {
      const values = first.facets[f] ?? [];
      return this.select(`filter-${f}`, FILTER_LABELS[f], f, [["", "any"], ...values.map((v): [string, string] => [v, v])]);
    });
    const sort = this.select("sort", "Sort", "sort", [
      ["", "namespace, name"], ["name", "name"], ["health", "health (worst first)"], ["sync", "sync (out of sync first)"],
      ["-reconciled", "last reconciled"], ["project", "project"], ["cluster", "cluster"], ["repo", "repository"],
    ]);
    const group = this.select("group", "Group by", "group", [["", "none"], ["project", "project"], ["cluster", "cluster"], ["destNamespace", "namespace"]]);
    return el("div", { class: "toolbar" }, search, ...selects, sort, group);
  }

  private select(id: string, label: string, key: string, options: [string, string][]): HTMLElement {
    const current = this.params.get(key) ?? "";
    const s = el("select", { id, onchange: () => this.set(key, s.value) },
      ...options.map(([v, t]) => el("option", { value: v, selected: v === current }, t)));
    return el("label", { class: "field", for: id }, el("span", {}, label), s);
  }

  private headerRow(): HTMLElement {
    return el("div", { class: "row head", "aria-hidden": "true" },
      el("span", { class: "c-group" }, this.params.get("group") ? FILTER_LABELS[this.params.get("group")!] : ""),
      el("span", { class: "c-name" }, "Application"), el("span", { class: "c-state" }, "Sync"),
      el("span", { class: "c-state" }, "Health"), el("span", { class: "c-src" }, "Source"),
      el("span", { class: "c-dest" }, "Destination"), el("span", { class: "c-rev" }, "Revision"),
      el("span", { class: "c-when" }, "Reconciled"));
  }

  private counts(page: AppList): void {
    const chip = (key: string, value: string, n: number) => {
      const on = this.params.get(key) === value;
      return el("button", {
        type: "button", class: on ? "count on" : "count", "aria-pressed": on ? "true" : "false",
        onclick: () => this.set(key, on ? "" : value), title: `${on ? "Show all" : "Show only"} ${value}`,
      }, badge(key === "sync" ? "sync" : "health", value), el("strong", {}, String(n)));
    };
    const sum = Object.values(page.counts.sync).reduce((a, b) => a + b, 0);
    this.summary.replaceChildren(
      el("span", { class: "total", id: "total" }, `${page.total} of ${sum} apps`),
      ...SYNC.filter((s) => page.counts.sync[s]).map((s) => chip("sync", s, page.counts.sync[s])),
      el("span", { class: "sep", "aria-hidden": "true" }),
      ...HEALTH.filter((s) => page.counts.health[s]).map((s) => chip("health", s, page.counts.health[s])),
    );
    const active = ["q", "sync", "health", ...FILTERS].filter((k) => this.params.get(k));
    this.chips.replaceChildren(...active.map((k) => el("button", {
      type: "button", class: "chip", onclick: () => this.set(k, ""), "aria-label": `Remove filter ${k}=${this.params.get(k)}`,
    }, `${FILTER_LABELS[k] ?? k}: ${this.params.get(k)}`, el("span", { "aria-hidden": "true" }, " ×"))));
  }

  private set(key: string, value: string): void {
    const p = new URLSearchParams(this.params);
    if (value) p.set(key, value); else p.delete(key);
    this.navigate(p);
  }

  private at(i: number): AppSummary | undefined {
    return this.pages.get(Math.floor(i / PAGE))?.[i % PAGE];
  }

  private draw(): void {
    this.spacer.style.height = `${this.total * ROW}px`;
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - 5);
    const last = Math.min(this.total, Math.ceil((top + height) / ROW) + 5);
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const page = Math.floor(i / PAGE);
      if (!this.pages.has(page) && !this.loading.has(page)) {
        this.loading.add(page);
        void this.fetchPage(page).finally(() => { this.loading.delete(page); this.draw(); });
      }
      rows.push(this.row(i));
    }
    this.rows.replaceChildren(...rows);
    if (this.total === 0) this.rows.replaceChildren(el("p", { class: "empty" }, "No application matches these filters."));
  }

  private row(i: number): HTMLElement {
    const a = this.at(i);
    // The CSP forbids style attributes; the CSSOM is allowed.
    const place = (row: HTMLElement) => { row.style.transform = `translateY(${i * ROW}px)`; return row; };
    if (!a) return place(el("div", { class: "row loading" }, "loading…"));
    const group = this.params.get("group");
    const field = group ? GROUPS[group] : undefined;
    const prev = field && i > 0 ? this.at(i - 1) : undefined;
    const starts = field && (!prev || prev[field] !== a[field]);
    const href = `#/app/${encodeURIComponent(a.namespace)}/${encodeURIComponent(a.name)}`;
    return place(el("div", {
      class: `row${i === this.active ? " active" : ""}${starts ? " group-start" : ""}`, role: "option",
      id: `row-${i}`, "aria-selected": i === this.active ? "true" : "false", "data-app": `${a.namespace}/${a.name}`,
    },
      el("span", { class: "c-group" }, starts && field ? String(a[field]) : ""),
      el("span", { class: "c-name" }, el("a", { href, tabindex: -1 }, a.name), el("small", {}, a.namespace),
        a.suspended ? el("span", { class: "tag" }, "suspended") : null, a.pinned ? el("span", { class: "tag" }, `pinned ${short(a.pinned)}`) : null),
      el("span", { class: "c-state" }, badge("sync", a.sync.status)),
      el("span", { class: "c-state" }, badge("health", a.health.status)),
      el("span", { class: "c-src", title: a.source.repoURL }, `${a.source.path || "."} @ ${a.source.targetRevision || "HEAD"}`),
      el("span", { class: "c-dest" }, `${a.cluster}/${a.destinationNamespace}`),
      el("span", { class: "c-rev mono" }, short(a.sync.revision)),
      el("span", { class: "c-when" }, ago(a.reconciledAt))));
  }

  private key(e: KeyboardEvent): void {
    const move = (to: number) => {
      this.active = Math.max(0, Math.min(this.total - 1, to));
      const y = this.active * ROW;
      if (y < this.viewport.scrollTop) this.viewport.scrollTop = y;
      else if (y + ROW > this.viewport.scrollTop + this.viewport.clientHeight) this.viewport.scrollTop = y + ROW - this.viewport.clientHeight;
      this.viewport.setAttribute("aria-activedescendant", `row-${this.active}`);
      this.draw();
    };
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / ROW) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, j: 1, k: -1 };
    if (e.key in moves) { e.preventDefault(); move(this.active + moves[e.key]); }
    else if (e.key === "Home") { e.preventDefault(); move(0); }
    else if (e.key === "End") { e.preventDefault(); move(this.total - 1); }
    else if (e.key === "Enter") {
      const a = this.at(this.active);
      if (a) location.hash = `#/app/${encodeURIComponent(a.namespace)}/${encodeURIComponent(a.name)}`;
    }
  }

  /** Live: rows on screen change at once; counts and membership follow in one refetch. */
  private changed(upserts: AppSummary[], removed: boolean): void {
    const byKey = new Map(upserts.map((a) => [`${a.namespace}/${a.name}`, a]));
    let touched = removed;
    for (const items of this.pages.values()) {
      items.forEach((a, i) => {
        const fresh = byKey.get(`${a.namespace}/${a.name}`);
        if (fresh) { items[i] = fresh; touched = true; }
      });
    }
    if (touched) this.draw();
    if (upserts.length || removed) {
      window.clearTimeout(this.refetch);
      this.refetch = window.setTimeout(() => void this.reload(), 400);
    }
  }

  private async reload(): Promise<void> {
    const visible = [...this.pages.keys()];
    this.pages.clear();
    const first = await this.fetchPage(0);
    for (const n of visible.filter((n) => n > 0)) await this.fetchPage(n);
    this.counts(first);
    this.draw();
  }
}
