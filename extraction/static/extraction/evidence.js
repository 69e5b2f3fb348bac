/* The consensus page: "Use for the consensus" beside an extractor's quote puts that quote
   and its page beside the consensus value (the hidden evidence inputs of the form). */
(function () {
  "use strict";
  document.addEventListener("click", (event) => {
    const use = event.target.closest("[data-use-quote]");
    const clear = event.target.closest("[data-evidence-clear]");
    const block = use
      ? document.querySelector(`#consensus-form [data-evidence="${CSS.escape(use.dataset.target)}"]`)
      : clear && clear.closest("#consensus-form [data-evidence]");
    if (!block) return;
    const quote = use ? use.dataset.quote : "";
    const page = use ? use.dataset.page : "";
    block.querySelector("[name^='ev-quote-']").value = quote;
    block.querySelector("[name^='ev-page-']").value = page;
    block.querySelector("[data-evidence-quote]").textContent = quote;
    block.querySelector("[data-evidence-page]").textContent = page;
    block.hidden = !quote;
  });
})();
