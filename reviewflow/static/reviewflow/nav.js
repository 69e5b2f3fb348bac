// The review's navigation menus (<details> in the top bar): one open at a time, closed by
// a click elsewhere or Escape. Without this script they still open and close by a click.
(function () {
  "use strict";

  function menus() { return document.querySelectorAll("details.nav-menu"); }

  document.addEventListener("toggle", function (event) {
    const opened = event.target;
    if (!(opened instanceof HTMLDetailsElement) || !opened.classList.contains("nav-menu") || !opened.open) return;
    menus().forEach(function (menu) { if (menu !== opened) menu.open = false; });
  }, true);

  document.addEventListener("click", function (event) {
    menus().forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus().forEach(function (menu) {
      if (menu.open) {
        menu.open = false;
        const summary = menu.querySelector("summary");
        if (summary && menu.contains(document.activeElement)) summary.focus();
      }
    });
  });
})();
