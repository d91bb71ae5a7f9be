// The page: hash routes (`#/?filters` for the list, `#/app/NS/NAME/TAB` for an app), the
// theme, the token prompt and the live stream.

import { api, follow, setToken, whenUnauthenticated } from "./api";
import { AppPage, TABS } from "./app";
import { AppsList } from "./list";

const main = document.getElementById("main")!;
let current: AppsList | AppPage | null = null;

function route(): void {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "app" && parts.length >= 3) {
    current?.dispose();
    const tab = (TABS as readonly string[]).includes(parts[3]) ? (parts[3] as (typeof TABS)[number]) : "tree";
    const page = new AppPage(parts[1], parts[2], tab);
    current = page;
    document.title = `${parts[2]} · Ferry`;
    main.replaceChildren(page.root);
    void page.load();
    return;
  }
  if (current instanceof AppsList) {
    void current.update(new URLSearchParams(query));
    return;
  }
  current?.dispose();
  const list = new AppsList(new URLSearchParams(query), (p) => {
    const q = p.toString();
    location.hash = q ? `#/?${q}` : "#/";
  });
  current = list;
  document.title = "Applications · Ferry";
  main.replaceChildren(list.root);
  void list.start().catch((e: Error) => { main.textContent = e.message; });
}

function theme(): void {
  const stored = localStorage.getItem("ferry-theme");
  if (stored) document.documentElement.dataset.theme = stored;
  const button = document.getElementById("theme")!;
  const label = () => {
    const dark = (document.documentElement.dataset.theme ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")) === "dark";
    button.textContent = dark ? "☀ Light" : "☾ Dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    return dark;
  };
  label();
  button.addEventListener("click", () => {
    const next = label() ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("ferry-theme", next);
    label();
  });
}

function token(): void {
  const dialog = document.getElementById("token-dialog") as HTMLDialogElement;
  whenUnauthenticated(() => { if (!dialog.open) dialog.showModal(); });
  document.getElementById("token-form")!.addEventListener("submit", () => {
    setToken((document.getElementById("token-input") as HTMLInputElement).value.trim());
    route();
  });
}

document.addEventListener("keydown", (e) => {
  const typing = (e.target as HTMLElement).closest("input, select, textarea");
  if (e.key === "/" && !typing) {
    const search = document.getElementById("search");
    if (search) { e.preventDefault(); search.focus(); }
  }
});

theme();
token();
window.addEventListener("hashchange", route);
route();
const live = document.getElementById("live")!;
void follow((s) => { live.textContent = s === "live" ? "● live" : s; live.dataset.state = s; });
void api<{ user: string; via: string }>("/api/v1/account").then((a) => {
  document.getElementById("who")!.textContent = a.via === "open" ? "" : a.user;
}, () => {});
