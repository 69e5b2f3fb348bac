// The full-text viewer (pdf.js, vendored in static/vendor/pdfjs): one page at a time on a
// canvas with pdf.js's text layer over it, the stage's highlight terms marked in that text,
// a search box, and keys for pages: Shift+J / Shift+K next and previous page (PageDown /
// PageUp while the viewer has focus), "/" to search. On the extraction page, text selected
// in the PDF fills the field last focused and keeps its quote and page as evidence.
// Each [data-pdf-viewer] element is one viewer; htmx swaps in new ones on the screening
// page, so viewers start on htmx:load as well as on page load.
import { compileTerms, findPhrase, foldChar } from "./pdf_terms.js";

let pdfjs = null;
async function library(root) {
  if (!pdfjs) {
    pdfjs = await import(root.dataset.pdfjs);
    pdfjs.GlobalWorkerOptions.workerSrc = root.dataset.pdfjsWorker;
  }
  return pdfjs;
}

const typing = (el) => el && (el.matches("input, textarea, select, [contenteditable]") || el.isContentEditable);

class Viewer {
  constructor(root) {
    this.root = root;
    this.pageBox = root.querySelector("[data-pdf-page-box]");
    this.canvas = root.querySelector("canvas");
    this.layer = root.querySelector("[data-pdf-text]");
    this.status = root.querySelector("[data-pdf-status]");
    this.pageInput = root.querySelector("[data-pdf-page]");
    this.countOut = root.querySelector("[data-pdf-count]");
    this.search = root.querySelector("[data-pdf-search]");
    this.hitsOut = root.querySelector("[data-pdf-hits]");
    const termsNode = root.querySelector("script[type='application/json']");
    this.terms = compileTerms(termsNode ? JSON.parse(termsNode.textContent) : {});
    this.page = 1;
    this.count = 0;
    this.texts = new Map(); // page -> {items, text, offsets}
    this.hits = [];
    this.hit = -1;
    this.task = null;
    this.textLayer = null;
    this.bind();
    this.open();
  }

  bind() {
    const r = this.root;
    r.querySelector("[data-pdf-prev]").addEventListener("click", () => this.go(this.page - 1));
    r.querySelector("[data-pdf-next]").addEventListener("click", () => this.go(this.page + 1));
    this.pageInput.addEventListener("change", () => this.go(Number(this.pageInput.value) || this.page));
    this.pageInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); this.go(Number(this.pageInput.value) || this.page); } });
    this.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); this.find(this.search.value, e.shiftKey ? -1 : 1); }
      else if (e.key === "Escape") { e.preventDefault(); this.search.value = ""; this.find("", 1); this.search.blur(); }
    });
    r.addEventListener("keydown", (e) => {
      if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "PageDown") { e.preventDefault(); this.go(this.page + 1); }
      else if (e.key === "PageUp") { e.preventDefault(); this.go(this.page - 1); }
    });
    let resize = null;
    // Drawn again only when the width changed: the observer also fires once when it starts,
    // and a redraw at the same size blanks the canvas and drops the reader's selection.
    const resized = () => { if (this.pageBox.clientWidth !== this.drawnWidth) this.render(); };
    new ResizeObserver(() => { clearTimeout(resize); resize = setTimeout(resized, 150); }).observe(this.pageBox);
  }

  async open() {
    try {
      const lib = await library(this.root);
      this.lib = lib;
      this.doc = await lib.getDocument({
        url: this.root.dataset.pdfUrl,
        withCredentials: true,
        // The worker's WebAssembly image decoders (JPEG 2000, JBIG2 and CCITT fax: scans) and
        // colour profiles, vendored beside pdf.js; their names are pdf.js's, not hashed.
        wasmUrl: this.root.dataset.pdfjsWasm,
      }).promise;
      this.count = this.doc.numPages;
      this.countOut.textContent = String(this.count);
      this.pageInput.max = String(this.count);
      this.status.hidden = true;
      await this.render();
    } catch (error) {
      this.status.hidden = false;
      this.status.textContent = `The PDF could not be shown here (${error.message}): open it with the link above.`;
    }
  }

  async pageText(number) {
    let entry = this.texts.get(number);
    if (!entry) {
      const page = await this.doc.getPage(number);
      const content = await page.getTextContent();
      // pdf.js's text layer makes one element per item that has a "str", in order; its find
      // bar reads the page the same way (items end to end, a line break after hasEOL).
      const items = content.items.filter((item) => item.str !== undefined);
      let text = "";
      const offsets = [];
      for (const item of items) {
        offsets.push(text.length);
        text += item.str + (item.hasEOL ? "\n" : "");
      }
      entry = { content, items, text, offsets };
      this.texts.set(number, entry);
    }
    return entry;
  }

  go(number) {
    if (!this.doc) return;
    const page = Math.min(Math.max(1, number), this.count);
    this.pageInput.value = String(page);
    if (page === this.page && this.textLayer) return;
    this.page = page;
    this.render();
  }

  async render() {
    if (!this.doc) return;
    const number = this.page;
    if (this.task) this.task.cancel();
    if (this.textLayer) this.textLayer.cancel();
    const page = await this.doc.getPage(number);
    const entry = await this.pageText(number);
    if (number !== this.page) return;
    const base = page.getViewport({ scale: 1 });
    this.drawnWidth = this.pageBox.clientWidth;
    const scale = Math.max(0.5, (this.drawnWidth || base.width) / base.width);
    const viewport = page.getViewport({ scale });
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.floor(viewport.width * ratio);
    this.canvas.height = Math.floor(viewport.height * ratio);
    this.canvas.style.width = `${Math.floor(viewport.width)}px`;
    this.canvas.style.height = `${Math.floor(viewport.height)}px`;
    this.pageBox.style.setProperty("--scale-factor", String(scale));
    this.pageBox.style.setProperty("--total-scale-factor", String(scale));
    this.task = page.render({
      canvasContext: this.canvas.getContext("2d"),
      viewport,
      transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
    });
    this.layer.replaceChildren();
    this.textLayer = new this.lib.TextLayer({ textContentSource: entry.content, container: this.layer, viewport });
    try {
      await Promise.all([this.task.promise, this.textLayer.render()]);
    } catch (error) {
      // A newer render (another page, a resize) cancelled this one.
      if (error && ["RenderingCancelledException", "AbortException"].includes(error.name)) return;
      throw error;
    }
    this.pageInput.value = String(number);
    this.root.dataset.pageShown = String(number);
    this.paint();
  }

  // Marks on the shown page: highlight terms, search hits, the current hit.
  paint() {
    if (!this.textLayer) return;
    const entry = this.texts.get(this.page);
    const divs = this.textLayer.textDivs;
    const spans = this.terms(entry.text).map(([s, e, kind]) => [s, e, `hl-${kind}`]);
    this.hits.forEach((h, i) => {
      if (h.page === this.page) spans.push([h.start, h.end, i === this.hit ? "pdfv-hit pdfv-hit-current" : "pdfv-hit"]);
    });
    divs.forEach((div, i) => {
      const str = entry.items[i].str;
      const from = entry.offsets[i];
      const classes = new Array(str.length).fill("");
      for (const [s, e, cls] of spans) {
        for (let k = Math.max(s, from); k < Math.min(e, from + str.length); k++) classes[k - from] = classes[k - from] ? `${classes[k - from]} ${cls}` : cls;
      }
      if (!classes.some(Boolean)) { if (div.childElementCount) div.textContent = str; return; }
      const parts = [];
      let k = 0;
      while (k < str.length) {
        let j = k;
        while (j < str.length && classes[j] === classes[k]) j++;
        const piece = str.slice(k, j);
        if (classes[k]) {
          const mark = document.createElement("mark");
          mark.className = classes[k];
          mark.textContent = piece;
          parts.push(mark);
        } else parts.push(document.createTextNode(piece));
        k = j;
      }
      div.replaceChildren(...parts);
    });
    const current = this.layer.querySelector(".pdfv-hit-current");
    if (current) current.scrollIntoView({ block: "center", inline: "nearest" });
  }

  async find(phrase, step) {
    if (!this.doc) return;
    if (phrase !== this.lastPhrase) {
      this.lastPhrase = phrase;
      this.hits = [];
      this.hit = -1;
      if (phrase.trim()) {
        for (let n = 1; n <= this.count; n++) {
          const { text } = await this.pageText(n);
          for (const [start, end] of findPhrase(text, phrase)) this.hits.push({ page: n, start, end });
        }
      }
      // The first hit on or after the shown page.
      const next = this.hits.findIndex((h) => h.page >= this.page);
      this.hit = this.hits.length ? (step > 0 ? (next === -1 ? 0 : next) : (next <= 0 ? this.hits.length - 1 : next - 1)) : -1;
    } else if (this.hits.length) {
      this.hit = (this.hit + step + this.hits.length) % this.hits.length;
    }
    this.hitsOut.textContent = !phrase.trim() ? "" : this.hits.length ? `${this.hit + 1} of ${this.hits.length}` : "not found";
    const target = this.hit >= 0 ? this.hits[this.hit].page : this.page;
    if (target !== this.page) { this.page = target; this.pageInput.value = String(target); await this.render(); }
    else this.paint();
  }

  // The text selected inside this viewer's text layer, on one line, or "".
  selection() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount) return "";
    const range = sel.getRangeAt(0);
    if (!this.layer.contains(range.commonAncestorContainer)) return "";
    return sel.toString().replace(/\s+/g, " ").trim();
  }
}

// ------------------------------------------------------------------ evidence (extraction)

const numberIn = (text, integer) => {
  const m = text.replace(/\u2212/g, "-").match(integer ? /-?\d{1,3}(?:,\d{3})+(?!\d)|-?\d+/ : /-?\d+(?:\.\d+)?/);
  return m ? m[0].replace(/,/g, "") : null;
};
const foldText = (text) => [...text].map((c) => foldChar(c)).join("");

class Evidence {
  constructor(viewer, form) {
    this.viewer = viewer;
    this.form = form;
    this.bar = viewer.root.querySelector("[data-pdf-evidence]");
    this.button = this.bar.querySelector("[data-pdf-use]");
    this.fieldOut = this.bar.querySelector("[data-pdf-use-field]");
    this.target = null;
    form.addEventListener("focusin", (e) => {
      const input = e.target.closest("[name^='f-']");
      if (input && this.block(input)) { this.target = input; this.update(); }
    });
    document.addEventListener("selectionchange", () => this.update());
    // A press on the button must not take the selection away before its click.
    this.button.addEventListener("mousedown", (e) => e.preventDefault());
    this.button.addEventListener("click", () => this.use());
    form.addEventListener("click", (e) => {
      const clear = e.target.closest("[data-evidence-clear]");
      if (clear) this.fill(clear.closest("[data-evidence]"), "", "");
      const show = e.target.closest("[data-evidence-show]");
      if (show) {
        const block = show.closest("[data-evidence]");
        const page = Number(block.querySelector("[name^='ev-page-']").value);
        viewer.search.value = block.querySelector("[name^='ev-quote-']").value;
        viewer.page = page || viewer.page;
        viewer.lastPhrase = null;
        viewer.find(viewer.search.value, 1);
      }
    });
  }

  block(input) {
    const name = input.getAttribute("name");
    return this.form.querySelector(`[data-evidence="${CSS.escape(name)}"]`);
  }

  label(input) {
    const cell = input.closest("td");
    const field = input.closest("[data-field]");
    const title = field ? (field.querySelector(".x-label, label") || field).textContent.replace("*", "").trim() : input.name;
    if (!cell) return title;
    const row = input.closest("tr").querySelector("td.num");
    return `${title}, row ${row ? row.firstChild.textContent.trim() : "?"}, ${input.getAttribute("aria-label") || ""}`.replace(/, $/, "");
  }

  update() {
    const quote = this.viewer.selection();
    const ready = Boolean(quote && this.target && !this.target.disabled && document.contains(this.target));
    this.bar.hidden = !ready;
    if (ready) this.fieldOut.textContent = this.label(this.target);
  }

  use() {
    const quote = this.viewer.selection();
    const input = this.target;
    if (!quote || !input) return;
    if (input.matches("select")) {
      const folded = foldText(quote);
      const option = [...input.options].find((o) => o.value && folded.includes(foldText(o.textContent.trim())));
      if (option) input.value = option.value;
    } else if (input.matches("textarea, input[type=text]")) {
      // Number inputs (inputmode numeric or decimal) take the first number of the quote.
      const inputmode = input.getAttribute("inputmode");
      const number = inputmode ? numberIn(quote, inputmode === "numeric") : null;
      input.value = number !== null ? number : quote;
    }
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    this.fill(this.block(input), quote, String(this.viewer.page));
    window.getSelection().removeAllRanges();
    this.bar.hidden = true;
    input.focus();
  }

  fill(block, quote, page) {
    if (!block) return;
    block.querySelector("[name^='ev-quote-']").value = quote;
    block.querySelector("[name^='ev-page-']").value = page;
    block.querySelector("[data-evidence-quote]").textContent = quote;
    block.querySelector("[data-evidence-page]").textContent = page;
    block.hidden = !quote;
  }
}

// ------------------------------------------------------------------ start and keys

const viewers = new Set();

function start(scope) {
  scope.querySelectorAll("[data-pdf-viewer]").forEach((root) => {
    if (root.pdfViewer) return;
    const viewer = new Viewer(root);
    root.pdfViewer = viewer;
    viewers.add(viewer);
    const formId = root.dataset.evidenceForm;
    const form = formId && document.getElementById(formId);
    if (form) viewer.evidence = new Evidence(viewer, form);
  });
}

function shown() {
  for (const v of viewers) if (!document.contains(v.root)) viewers.delete(v);
  return [...viewers][0] || null;
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || document.querySelector("dialog[open]")) return;
  const viewer = shown();
  if (!viewer) return;
  if (e.key === "J") { e.preventDefault(); viewer.go(viewer.page + 1); }
  else if (e.key === "K") { e.preventDefault(); viewer.go(viewer.page - 1); }
  else if (e.key === "/") { e.preventDefault(); viewer.search.focus(); viewer.search.select(); }
});

start(document);
document.addEventListener("htmx:load", (e) => start(e.target));
