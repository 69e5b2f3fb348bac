/* The effect-size panel of the extraction and consensus pages: as values are typed, the form's
   values (disabled inputs of a submitted extraction included) are posted to the effect-size
   view, which answers with the panel's HTML. */
(function () {
  "use strict";
  const panel = document.querySelector("[data-effects]");
  if (!panel) return;
  const form = document.getElementById(panel.dataset.effectsForm);
  const body = panel.querySelector("[data-effects-body]");
  if (!form || !body) {
    panel.hidden = true;
    return;
  }
  let pending = null;
  let timer = null;

  function values() {
    const data = new FormData();
    for (const el of form.elements) {
      if (!el.name || el.type === "submit" || el.type === "button") continue;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) continue;
      if (el.tagName === "SELECT" && el.multiple) {
        for (const option of el.selectedOptions) data.append(el.name, option.value);
      } else {
        data.append(el.name, el.value);
      }
    }
    return data;
  }

  function refresh() {
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(panel.dataset.effectsUrl, {
      method: "POST",
      body: values(),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal: pending.signal,
    }).then((r) => (r.ok ? r.text() : null)).then((html) => {
      if (html === null) return;
      body.innerHTML = html;
      panel.dataset.effectsReady = "1";
    }).catch(() => {});
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  // Rows removed in the page change the values without an input event.
  form.addEventListener("click", (event) => {
    if (event.target.closest("[data-remove-row]")) soon();
  });
  refresh();
})();
