// The screening page's keys (the help dialog lists them).
(function () {
  function panel() { return document.getElementById("screen"); }

  // Keys wait while a vote, an undo or a label is in flight (inflight.js says why).
  const busy = window.reviewflowInFlight("screen", "[data-vote-wait]").busy;

  document.addEventListener("keydown", function (event) {
    const p = panel();
    if (!p || event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.matches("textarea, input[type=text], select");
    if (typing) {
      if (event.key === "Escape") {
        const go = event.target.closest("form[data-goto]");  // Esc closes the "go to" box
        if (go) go.hidden = true;
        event.target.blur();
        event.preventDefault();
      }
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
    // Questions: "a" starts answering, then y / n / u (questions.js; Esc leaves).
    if (window.reviewflowQuestions && window.reviewflowQuestions.key(event, p)) return;
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
    // My votes (#18): "c" comments, "[" / "]" back and forward through my votes (htmx
    // links: the in-flight guard above covers them), "g" go to a record, "h" my history.
    else if (event.key === "c") { const comment = p.querySelector("[data-comment-box]"); if (comment) { comment.focus(); event.preventDefault(); } }
    else if (event.key === "[") click("a[data-nav-prev]");
    else if (event.key === "]") click("a[data-nav-next]");
    else if (event.key === "h") click("a[data-nav-history]");
    else if (event.key === "g") {
      const go = p.querySelector("form[data-goto]");
      if (go) { go.hidden = false; go.querySelector("input").focus(); event.preventDefault(); }
    }
    else if (event.key === "?") { help.showModal(); event.preventDefault(); }
    else if (/^[1-9]$/.test(event.key)) click(`input[name=reason][data-key="${event.key}"]`);
  });
})();
