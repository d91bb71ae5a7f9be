// A tiny DOM builder: text always goes in as text nodes, never as HTML.

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
export type Child = Node | string | number | null | undefined | false | Child[];

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = String(v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SYNC_MARK: Record<string, string> = { Synced: "✓", OutOfSync: "≠", Unknown: "?" };
const HEALTH_MARK: Record<string, string> = {
  Healthy: "♥", Progressing: "↻", Degraded: "✕", Missing: "∅", Suspended: "❚❚", Unknown: "?",
};

/** A status badge: a symbol and the word, so it never relies on colour alone. */
export function badge(kind: "sync" | "health", status: string | undefined): HTMLElement {
  const s = status || "Unknown";
  const mark = (kind === "sync" ? SYNC_MARK : HEALTH_MARK)[s] ?? "•";
  return el("span", { class: `badge ${kind} s-${s.replace(/[^A-Za-z]/g, "")}`, title: `${kind}: ${s}` },
    el("span", { "aria-hidden": "true" }, mark), " ", s);
}

export function short(rev: string | undefined): string {
  return rev ? rev.slice(0, 7) : "—";
}

export function ago(iso: string | undefined): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function toast(message: string, bad = false): void {
  const t = document.getElementById("toast");
  if (!t) return;
  t.textContent = message;
  t.className = bad ? "toast show bad" : "toast show";
  window.setTimeout(() => { if (t.textContent === message) t.className = "toast"; }, 6000);
}
