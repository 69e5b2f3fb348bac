// New review: the address (slug) is proposed from the title as it is typed, until the
// person edits the slug themselves. The server proposes the same when the slug is left
// empty (reviewflow.reviews.forms.propose_slug), so this only saves a step.
(function () {
  "use strict";

  function slugify(text) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9\s-]/g, "")
      .trim()
      .replace(/[\s-]+/g, "-")
      .slice(0, 60)
      .replace(/-+$/, "");
  }

  document.querySelectorAll("input[data-slug-from]").forEach(function (slug) {
    const title = document.getElementById(slug.dataset.slugFrom);
    if (!title) return;
    let edited = slug.value !== "" && slug.value !== slugify(title.value);
    slug.addEventListener("input", function () { edited = slug.value !== ""; });
    title.addEventListener("input", function () {
      if (!edited) slug.value = slugify(title.value);
    });
  });
})();
