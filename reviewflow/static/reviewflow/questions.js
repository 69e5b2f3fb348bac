// Screening questions on the screening page (the panel "_screen_questions.html").
// Answers live in the vote form as radio buttons and are sent with the vote: a key only
// ticks a radio, no request is made per key, so nothing can be lost or doubled and the
// in-flight guard of screen.js (no key while a vote is on its way) covers them too.
// screen.js hands its keys to reviewflowQuestions.key() (after that guard):
// "a" marks the first unanswered question; y / n / u answer the marked one and mark the
// next; after the last one, or on Esc (or any other key, which does nothing else), answer
// mode ends. A "no" to a question that names an exclusion reason proposes that reason:
// its radio is ticked when no reason is chosen yet, and the panel says which question
// proposed it.
(function () {
  const KEYS = { y: "yes", n: "no", u: "unclear" };

  function box(panel) { return panel.querySelector("[data-screen-questions]"); }
  function rows(fieldset) { return Array.from(fieldset.querySelectorAll("[data-question]")); }
  function answerOf(row) {
    const checked = row.querySelector("input[type=radio]:checked");
    return checked ? checked.value : "";
  }

  function mark(fieldset, row) {
    rows(fieldset).forEach((r) => { r.classList.remove("marked"); r.removeAttribute("aria-current"); });
    if (row) {
      fieldset.classList.add("answering");
      row.classList.add("marked");
      row.setAttribute("aria-current", "step");
      row.scrollIntoView({ block: "nearest" });
    } else {
      fieldset.classList.remove("answering");
    }
  }

  // The reason the answers propose: the first question answered "no" whose reason is one
  // of the form's reason radios. A reason the reviewer picked is never overwritten; one
  // proposed earlier follows the answers (cleared when no "no" proposes it any more).
  function propose(form) {
    const fieldset = form.querySelector("[data-screen-questions]");
    if (!fieldset) return;
    const reasons = Array.from(form.querySelectorAll("input[name=reason]"));
    const chosen = reasons.find((r) => r.checked);
    const proposedBefore = form.dataset.proposedReason || "";
    let proposal = null;
    for (const row of rows(fieldset)) {
      const reason = row.dataset.proposes;
      if (!reason || answerOf(row) !== "no") continue;
      const radio = reasons.find((r) => r.value === reason);
      if (radio) { proposal = { row: row, radio: radio }; break; }
    }
    const own = chosen && chosen.value !== proposedBefore;
    const note = fieldset.querySelector("[data-proposed]");
    if (own) { if (note) note.hidden = true; form.dataset.proposedReason = ""; return; }
    if (proposal) {
      proposal.radio.checked = true;
      form.dataset.proposedReason = proposal.radio.value;
      if (note) {
        note.querySelector("[data-proposed-by]").textContent =
          proposal.row.querySelector(".question-text").textContent.trim();
        note.hidden = false;
      }
    } else {
      if (chosen && proposedBefore && chosen.value === proposedBefore) chosen.checked = false;
      form.dataset.proposedReason = "";
      if (note) note.hidden = true;
    }
  }

  document.addEventListener("change", function (event) {
    const el = event.target;
    if (!(el instanceof HTMLInputElement) || el.type !== "radio") return;
    const form = el.closest("form");
    if (!form || !form.querySelector("[data-screen-questions]")) return;
    if (el.name === "reason" && el.value !== (form.dataset.proposedReason || "")) {
      form.dataset.proposedReason = "";  // the reviewer's own choice from now on
      const note = form.querySelector("[data-proposed]");
      if (note) note.hidden = true;
      return;
    }
    if (el.name.startsWith("answer-")) propose(form);
  });

  function answer(fieldset, row, value) {
    const radio = row.querySelector(`input[type=radio][value="${value}"]`);
    if (!radio) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // Returns true when the key was the questions' (the caller then does nothing else).
  function key(event, panel) {
    const fieldset = box(panel);
    if (!fieldset) return false;
    const all = rows(fieldset);
    if (!all.length) return false;
    const marked = fieldset.querySelector("[data-question].marked");
    if (fieldset.classList.contains("answering") && marked) {
      event.preventDefault();
      const value = KEYS[event.key.toLowerCase()];
      if (!value) { mark(fieldset, null); return true; }  // Esc, or any other key
      answer(fieldset, marked, value);
      mark(fieldset, all[all.indexOf(marked) + 1] || null);
      return true;
    }
    if (event.key !== "a") return false;
    event.preventDefault();
    mark(fieldset, all.find((row) => !answerOf(row)) || all[0]);
    return true;
  }

  window.reviewflowQuestions = { key: key, propose: propose };
})();
