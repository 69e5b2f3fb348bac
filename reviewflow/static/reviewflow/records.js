// The records list's bulk form: "select all on this page" ticks every row, "select all N
// matching" sends the filter instead of the ids, and a line says what is selected. Without
// script the form still works: rows are ticked one by one.
(function () {
  "use strict";

  const form = document.querySelector("[data-records-bulk]");
  if (!form) return;
  const rows = Array.from(form.querySelectorAll("[data-record-select]"));
  const page = form.querySelector("[data-select-page]");
  const all = form.querySelector("[data-select-all]");
  const count = form.querySelector("[data-selected-count]");

  function update() {
    const ticked = rows.filter(function (box) { return box.checked; }).length;
    if (page) {
      page.checked = rows.length > 0 && ticked === rows.length;
      page.indeterminate = ticked > 0 && ticked < rows.length;
    }
    if (!count) return;
    if (all && all.checked) {
      count.textContent = all.parentElement.textContent.trim().replace(/^Select all/, "All") + " selected";
    } else {
      count.textContent = ticked ? ticked + " selected" : "";
    }
  }

  if (page) {
    page.addEventListener("change", function () {
      rows.forEach(function (box) { box.checked = page.checked; });
      if (!page.checked && all) all.checked = false;
      update();
    });
  }
  if (all) {
    all.addEventListener("change", function () {
      // Every matching record includes this page's: tick them, so what shows is what goes.
      if (all.checked) rows.forEach(function (box) { box.checked = true; });
      update();
    });
  }
  rows.forEach(function (box) {
    box.addEventListener("change", function () {
      if (!box.checked && all) all.checked = false;
      update();
    });
  });
  update();
})();
