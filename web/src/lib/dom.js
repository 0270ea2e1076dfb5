// A small DOM builder: every text goes in as a text node, never as HTML, so
// nothing a record or the chain holds can become markup or script.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idSeq = 0;
export const uid = (p) => `${p}-${++idSeq}`;

/** A labelled form field; returns [label+input wrapper, input]. */
export function field(label, input, hint) {
  input.id ||= uid("f");
  const hintEl = hint ? h("span", { class: "hint", id: input.id + "-hint" }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hintEl);
}

export function table(caption, headers, rows, { rowClass } = {}) {
  // The wrapper scrolls sideways on a narrow screen: focusable, so the
  // keyboard can scroll it too.
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h(
        "tbody",
        {},
        rows.length
          ? rows.map((r, i) => h("tr", { class: rowClass?.(i) }, r.map((c) => h("td", {}, c))))
          : h("tr", {}, h("td", { colspan: headers.length }, "None.")),
      ),
    ),
  );
}

/** A status line that screen readers announce. */
export function status(el, text, kind = "info") {
  fill(el, text);
  el.className = "status " + kind;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
}

export const short = (a) => (a && a.length > 14 ? `${a.slice(0, 8)}…${a.slice(-4)}` : a);

export function fmtTime(t) {
  if (t === undefined || t === null || t === "" || t === 0) return "—";
  const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}

export const fmtDate = (t) => {
  const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleDateString("en-GB", { dateStyle: "long", timeZone: "UTC" });
};

export const fmtTokens = (n) => `${Number(n ?? 0).toLocaleString("en-GB")} MED`;
