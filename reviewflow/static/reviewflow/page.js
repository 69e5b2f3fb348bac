// Behaviour every page shares, wired from data- attributes: the Content-Security-Policy
// allows no inline script, inline event handler or inline style.
(function () {
  "use strict";

  // Width of a progress bar's filling, from data-width (a percentage).
  function setUp(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      const percent = Number(el.dataset.width);
      if (Number.isFinite(percent)) el.style.width = Math.max(0, Math.min(100, percent)) + "%";
    });
    // An input's datalist, when the form widget cannot name it (<datalist data-list-for=ID>).
    root.querySelectorAll("datalist[data-list-for]").forEach(function (list) {
      const input = document.getElementById(list.dataset.listFor);
      if (input) input.setAttribute("list", list.id);
    });
  }

  // A form with data-confirm asks before it is sent.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // An input with data-select-on-focus selects its text (a link to copy).
  document.addEventListener("focusin", function (event) {
    const el = event.target;
    if (el instanceof HTMLInputElement && el.hasAttribute("data-select-on-focus")) el.select();
  });

  setUp(document);
  // Content htmx swaps in (the import's progress every second, the next record).
  document.addEventListener("htmx:load", function (event) { setUp(event.target); });
})();
