// A record's discussion outside the screening page (the record's page, the adjudication
// desk): "c" puts the cursor in the first comment box, Esc leaves it. The screening page
// has its own keys (screen.js), which come first there.
(function () {
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || document.getElementById("screen")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof Element && target.matches("textarea, input, select, [contenteditable]")) {
      if (event.key === "Escape" && target.matches("[data-comment-box]")) { target.blur(); event.preventDefault(); }
      return;
    }
    if (event.key !== "c") return;
    const box = document.querySelector("[data-discussion] [data-comment-box]");
    if (box) { box.focus(); event.preventDefault(); }
  });
})();
