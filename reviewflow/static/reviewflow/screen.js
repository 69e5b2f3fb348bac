// The screening page's keys (the help dialog lists them).
(function () {
  function panel() { return document.getElementById("screen"); }
  document.addEventListener("keydown", function (event) {
    const p = panel();
    if (!p || event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.matches("textarea, input[type=text], select");
    if (typing) {
      if (event.key === "Escape") { event.target.blur(); event.preventDefault(); }
      return;
    }
    const help = document.getElementById("help");
    if (help.open) return;
    const click = (sel) => { const el = p.querySelector(sel); if (el && !el.disabled) { el.click(); event.preventDefault(); } };
    // Labels: "l" opens the picker, then the label's own key (a digit or a letter) puts it
    // on or takes it off; any other key, or Esc, closes the picker.
    const box = p.querySelector("[data-record-labels]");
    if (box && box.classList.contains("picking")) {
      box.classList.remove("picking");
      event.preventDefault();
      if (event.key.length === 1) {
        const key = event.key.toLowerCase();
        const button = Array.from(box.querySelectorAll("button[data-label-key]")).find((b) => b.dataset.labelKey === key);
        if (button && !button.disabled) button.click();
      }
      return;
    }
    if (event.key === "l" && box && box.querySelector("button[data-label-key]")) {
      box.classList.add("picking");
      event.preventDefault();
      return;
    }
    if (event.key === "i") click("button[value=include]");
    else if (event.key === "e") click("button[value=exclude]");
    else if (event.key === "m") click("button[value=maybe]");
    else if (event.key === "u") click("button.undo");
    else if (event.key === "n") { const note = p.querySelector("textarea[name=note]"); if (note) { note.focus(); event.preventDefault(); } }
    else if (event.key === "?") { help.showModal(); event.preventDefault(); }
    else if (/^[1-9]$/.test(event.key)) click(`input[name=reason][data-key="${event.key}"]`);
  });
})();
