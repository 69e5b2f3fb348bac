// The screening page's keys (the help dialog lists them).
(function () {
  function panel() { return document.getElementById("screen"); }

  // Requests from the screening panel (a vote, an undo, a label) still in flight. While one
  // is, the keys are ignored, not queued: a key pressed before the next record is on the
  // screen cannot be a judgement of that record, and one applied to the record already
  // voted on would be a second vote. A tap or click in that time is dropped too (the
  // submit guard below), so nothing ever falls back to a full-page form post.
  const inFlight = new Set();
  function busy() { return inFlight.size > 0; }
  function showBusy() {
    const p = panel();
    if (!p) return;
    p.setAttribute("aria-busy", busy() ? "true" : "false");
    if (!busy()) p.querySelectorAll("[data-vote-wait]").forEach((el) => { el.hidden = true; });
  }
  function fromPanel(event) {
    const el = event.target;
    return el instanceof Element && el.closest("#screen") !== null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!fromPanel(event)) return;
    inFlight.add(event.detail.xhr);
    showBusy();
  });
  // afterRequest comes after the swap, success or failure alike (the panel's forms swap
  // with settle:0ms, so the new record's form is already wired to htmx by then). An element
  // swapped out has it fired on its closest parent still on the page: the set counts once.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!inFlight.delete(event.detail.xhr)) return;
    showBusy();
  });
  document.addEventListener("submit", function (event) {
    if (busy() && fromPanel(event)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

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
    if (busy() && event.key !== "?") {
      if (event.key.length === 1) {
        // Say why the key did nothing; the next record's panel comes without the note.
        p.querySelectorAll("[data-vote-wait]").forEach((el) => { el.hidden = false; });
        event.preventDefault();
      }
      return;
    }
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
