// The REST API: typed calls with the bearer token, errors as {error, hint}, and the live stream.

export interface AppSummary {
  namespace: string; name: string; project: string; cluster: string;
  labels?: Record<string, string>;
  // revision: as the engine verified it (its own status, or the repository record's later
  // commit, then with checkedAt).
  sync: { status: string; revision: string; checkedAt?: string };
  health: { status: string; message?: string };
  source: { repoURL: string; path: string; targetRevision: string };
  destinationNamespace: string; autoSync: boolean; suspended: boolean;
  pinned?: string; reconciledAt?: string;
  lastOperation?: { phase: string; message: string; revision: string; startedAt: string; finishedAt: string; dryRun: boolean };
  problems?: { type: string; reason: string; message: string }[];
}
export interface AppList {
  items: AppSummary[]; total: number;
  counts: { sync: Record<string, number>; health: Record<string, number> };
  facets: { project: string[]; cluster: string[]; namespace: string[]; destNamespace: string[]; repo: string[]; label: string[] };
}
export interface TreeNode {
  id: string; group: string; version: string; kind: string; namespace?: string; name: string;
  managed: boolean; sync?: string; health: string; message?: string; parents?: string[];
}
export interface Resource {
  group: string; version: string; kind: string; namespace: string; name: string;
  sync: string; health?: { status: string; message?: string }; drift: string[];
}
export interface FieldChange {
  path: string; desired: unknown; live: unknown;
  changedBy?: { manager: string; operation: string; time?: string };
}
export interface ObjectDiff { apiVersion: string; kind: string; namespace?: string; name: string; changes: FieldChange[]; ignored?: (FieldChange & { rule: string })[] }
export interface HistoryEntry {
  id: number; revision: string; deployedAt: string; repoURL: string; path: string; targetRevision: string;
  healthy?: boolean; author?: string; approvedBy?: string; current: boolean; message?: string;
  changes?: HistoryChanges;
}
export interface HistoryChanges {
  created: number; configured: number; pruned: number; unchanged: number; other?: number; more?: number;
  objects?: { action: string; group?: string; kind: string; namespace?: string; name: string }[];
}
export interface EventItem { type: string; reason: string; message: string; count: number; lastSeen: string; source: string }
export interface Condition { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }
export interface Application {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    project?: string; suspend?: boolean;
    source: { repoURL: string; path: string; targetRevision: string };
    destination: { server?: string; name?: string; namespace: string };
    syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean } };
  };
  status?: {
    // verifiedRevision/verifiedAt: added by the API when the repository record verified the
    // app unchanged at a later commit than its own status says.
    sync: { status: string; revision: string; verifiedRevision?: string; verifiedAt?: string };
    health: { status: string; message?: string };
    conditions?: Condition[]; reconciledAt?: string;
    pinned?: { revision: string; historyId?: number; by?: string; at?: string };
    operationState?: { phase: string; message: string; revision: string; startedAt: string; finishedAt: string; dryRun: boolean };
    approval?: { phase: string; revision: string; message?: string };
    pruneApproval?: { phase: string; revision: string; message?: string };
  };
}

export class ApiError extends Error {
  constructor(message: string, public hint = "", public status = 0) { super(message); }
}

let token = sessionStorage.getItem("ferry-token") ?? "";
export function setToken(t: string): void { token = t; sessionStorage.setItem("ferry-token", t); }
let onUnauthenticated: () => void = () => {};
export function whenUnauthenticated(f: () => void): void { onUnauthenticated = f; }

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (token) h["Authorization"] = `Bearer ${token}`;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

export async function api<T>(path: string, method = "GET", body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined || method !== "GET"),
    body: body !== undefined ? JSON.stringify(body) : method !== "GET" ? "{}" : undefined,
  });
  if (res.status === 401) onUnauthenticated();
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(answer.error || res.statusText, answer.hint || "", res.status);
  return answer as T;
}

export const appPath = (ns: string, name: string): string =>
  `/api/v1/applications/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;

const canCache = new Map<string, Promise<boolean>>();
/** Whether the caller may `action` the app; cached for the page's life (roles rarely change). */
export function canI(action: string, object: string): Promise<boolean> {
  const key = `${action} ${object}`;
  let answer = canCache.get(key);
  if (!answer) {
    const q = new URLSearchParams({ action, resource: "applications", object });
    answer = api<{ allowed: boolean }>(`/api/v1/account/can-i?${q}`).then((r) => r.allowed, () => false);
    canCache.set(key, answer);
  }
  return answer;
}

export interface Changes { upserts: AppSummary[]; deletes: { namespace: string; name: string }[] }
type Listener = (c: Changes) => void;
const listeners = new Set<Listener>();
export function onChanges(f: Listener): () => void { listeners.add(f); return () => listeners.delete(f); }

/** Follows the server's event stream (fetch, so the bearer token goes along), reconnecting. */
export async function follow(setState: (s: string) => void): Promise<void> {
  for (;;) {
    try {
      const res = await fetch("/api/v1/stream/applications", { headers: headers(false) });
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      setState("live");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
          if (data) {
            const changes = JSON.parse(data) as Changes;
            listeners.forEach((f) => f(changes));
          }
        }
      }
    } catch {
      // fall through to the retry
    }
    setState("reconnecting…");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export interface Accepted { namespace: string; name: string; action: string; message: string; requestId?: string }
