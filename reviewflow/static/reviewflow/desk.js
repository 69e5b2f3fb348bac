// The adjudication desk's keys (the help dialog lists them). A resolution is final, so
// "i" and "e" only choose the decision; Enter resolves.
(function () {
  function desk() { return document.getElementById("desk"); }

  // Keys wait while a resolution or a move is in flight (inflight.js says why).
  const busy = window.reviewflowInFlight("desk", "[data-desk-wait]").busy;

  function resolveForm(d) { return d.querySelector("form[data-resolve]"); }
  function submit(form) {
    if (!form || busy()) return;
    // requestSubmit fires the submit event htmx listens to: the desk swaps, no page load.
    form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    const d = desk();
    if (!d || event.ctrlKey || event.metaKey || event.altKey) return;
    const help = document.getElementById("desk-help");
    if (help && help.open) return;
    const target = event.target;
    if (target instanceof Element && target.matches("textarea, input[type=text], select")) {
      if (event.key === "Escape") { target.blur(); event.preventDefault(); return; }
      // Enter in the note resolves (Shift+Enter is a new line), so a typed note needs no
      // trip to the mouse.
      if (event.key === "Enter" && !event.shiftKey && target.closest("form[data-resolve]")) {
        event.preventDefault();
        submit(target.closest("form"));
      }
      return;
    }
    if (busy() && event.key !== "?") {
      if (event.key.length === 1 || event.key === "Enter") {
        d.querySelectorAll("[data-desk-wait]").forEach((el) => { el.hidden = false; });
        event.preventDefault();
      }
      return;
    }
    // Arrows on a focused radio button (after a click) move its choice, as browsers do.
    if (event.key.startsWith("Arrow") && target instanceof Element && target.matches("input[type=radio]")) return;
    const form = resolveForm(d);
    const pick = (sel) => {
      const el = form && form.querySelector(sel);
      if (el && !el.disabled) { el.checked = true; event.preventDefault(); }
    };
    const follow = (sel) => {
      const link = d.querySelector(sel);
      if (link) { link.click(); event.preventDefault(); }
    };
    if (event.key === "i") pick("input[name=decision][value=include]");
    else if (event.key === "e") pick("input[name=decision][value=exclude]");
    else if (/^[1-9]$/.test(event.key)) {
      pick(`input[name=reason][data-key="${event.key}"]`);
      // A reason is for an exclusion: picking one chooses exclude too.
      const exclude = form && form.querySelector("input[name=decision][value=exclude]");
      if (exclude && form.querySelector(`input[name=reason][data-key="${event.key}"]`)) exclude.checked = true;
    }
    else if (event.key === "n") {
      const note = form && form.querySelector("textarea[name=note]");
      if (note) { note.focus(); event.preventDefault(); }
    }
    else if (event.key === "c") {
      // The discussion of the conflict's stage (the last box shown).
      const boxes = d.querySelectorAll("textarea[data-comment-box]");
      if (boxes.length) { boxes[boxes.length - 1].focus(); event.preventDefault(); }
    }
    else if (event.key === "Enter") {
      // Enter on a focused link or button keeps its own meaning.
      if (target instanceof Element && target.matches("a, button, summary")) return;
      if (form) { event.preventDefault(); submit(form); }
    }
    else if (event.key === "j" || event.key === "ArrowRight") follow("a[data-next]");
    else if (event.key === "k" || event.key === "ArrowLeft") follow("a[data-prev]");
    else if (event.key === "s") follow("a[data-skip]");
    else if (event.key === "?" && help) { help.showModal(); event.preventDefault(); }
  });
})();
