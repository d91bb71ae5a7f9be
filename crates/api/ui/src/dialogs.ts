// Modal dialogs built on <dialog>: focus is trapped and Escape closes, as the platform does it.

import { el } from "./dom";

/** Shows a dialog with `body` and resolves with the form's values when confirmed, or null. */
export function ask(title: string, body: Node[], confirm: string, danger = false): Promise<FormData | null> {
  return new Promise((resolve) => {
    const form = el("form", { method: "dialog" },
      el("h2", { id: "dialog-title" }, title), ...body,
      el("menu", {},
        el("button", { type: "button", value: "cancel", class: "ghost", onclick: () => { dialog.close(); } }, "Cancel"),
        el("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary" }, confirm)));
    const dialog = el("dialog", { "aria-labelledby": "dialog-title", class: "ask" }, form);
    let answered: FormData | null = null;
    form.addEventListener("submit", () => { answered = new FormData(form); });
    dialog.addEventListener("close", () => { dialog.remove(); resolve(answered); });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

export function checkbox(name: string, label: string, hint: string, checked = false): HTMLElement {
  const id = `opt-${name}`;
  return el("div", { class: "option" },
    el("input", { type: "checkbox", id, name, checked }),
    el("label", { for: id }, label), el("small", {}, hint));
}
