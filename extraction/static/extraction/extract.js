/* Extraction and consensus forms: table rows added and removed in the page, and the RoB 2
   algorithm's proposed judgements refreshed as signalling questions are answered. */
(function () {
  "use strict";

  function renumber(tbody) {
    tbody.querySelectorAll("tr[data-row]").forEach((tr, i) => {
      const cell = tr.querySelector("td.num");
      if (cell && cell.firstChild) cell.firstChild.textContent = String(i + 1);
    });
  }

  document.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const name = add.getAttribute("data-add-row");
      const table = document.querySelector(`table[data-table="${CSS.escape(name)}"]`);
      const template = document.querySelector(`template[data-row-template="${CSS.escape(name)}"]`);
      const index = Number(table.dataset.next);
      const blank = template.content.firstElementChild.outerHTML
        .replaceAll(`${name}-${template.content.firstElementChild.dataset.row}-`, `${name}-${index}-`)
        .replace(/data-row="\d+"/, `data-row="${index}"`);
      const tbody = table.tBodies[0];
      tbody.insertAdjacentHTML("beforeend", blank);
      table.dataset.next = String(index + 1);
      renumber(tbody);
      const first = tbody.lastElementChild.querySelector("input, select, textarea");
      if (first) first.focus();
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      const tr = remove.closest("tr");
      const tbody = tr.parentElement;
      const table = tr.closest("table");
      const next = tr.nextElementSibling || tr.previousElementSibling;
      tr.remove();
      renumber(tbody);
      const focus = next ? next.querySelector("input, select, textarea") : table.parentElement.querySelector("[data-add-row]");
      if (focus) focus.focus();
      refresh();
    }
  });

  const form = document.querySelector("form[data-rob2-url]");
  let pending = null;
  function refresh() {
    if (!form) return;
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(form.dataset.rob2Url, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal: pending.signal,
    }).then((r) => (r.ok ? r.json() : null)).then((data) => {
      if (!data) return;
      for (const [key, proposal] of Object.entries(data.proposals)) {
        const el = document.querySelector(`[data-proposal-for="${CSS.escape(key)}"]`);
        if (el) el.textContent = proposal ? data.labels[proposal] : (el.dataset.noProposal || "not yet (answer the signalling questions)");
      }
      for (const [key, note] of Object.entries(data.notes || {})) {
        const el = document.querySelector(`[data-proposal-note-for="${CSS.escape(key)}"]`);
        if (el) el.textContent = note;
      }
    }).catch(() => {});
  }
  if (form) form.addEventListener("change", refresh);
})();
