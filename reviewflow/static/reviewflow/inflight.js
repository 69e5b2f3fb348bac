// Requests still in flight from one swapped region of a keyboard-first page (the screening
// panel, the adjudication desk). While one is, that page's keys are ignored, not queued: a
// key pressed before the next record (or conflict) is on the screen cannot be a judgement
// of it, and one applied to the record just decided would be a second decision. A tap,
// click or Enter in that time is dropped too (the submit guard below), so nothing ever
// posts twice or falls back to a full-page form post.
//
// reviewflowInFlight(id, waitSelector) watches the element with that id and returns
// {busy(), region()}; the elements matching waitSelector (a "wait for the next…" note)
// are hidden again when nothing is in flight.
window.reviewflowInFlight = function (id, waitSelector) {
  function region() { return document.getElementById(id); }
  const inFlight = new Set();
  function busy() { return inFlight.size > 0; }
  function showBusy() {
    const r = region();
    if (!r) return;
    r.setAttribute("aria-busy", busy() ? "true" : "false");
    if (!busy()) r.querySelectorAll(waitSelector).forEach((el) => { el.hidden = true; });
  }
  function inside(event) {
    const el = event.target;
    return el instanceof Element && el.closest("#" + id) !== null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!inside(event)) return;
    inFlight.add(event.detail.xhr);
    showBusy();
  });
  // afterRequest comes after the swap, success or failure alike (the regions swap with
  // settle:0ms, so the new form is already wired to htmx by then). An element swapped out
  // has it fired on its closest parent still on the page: the set counts once.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!inFlight.delete(event.detail.xhr)) return;
    showBusy();
  });
  document.addEventListener("submit", function (event) {
    if (busy() && inside(event)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  return { busy: busy, region: region };
};
