// The duplicates page's keys (listed at the top of the page).
document.addEventListener("keydown", function (event) {
  if (event.target.matches("input[type=text], textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
  const pair = document.getElementById("pair");
  if (!pair) return;
  const click = (sel) => { const el = pair.querySelector(sel); if (el) { el.click(); event.preventDefault(); } };
  switch (event.key) {
    case "d": click("button[value=duplicate]"); break;
    case "n": click("button[value=not_duplicate]"); break;
    case "1": click("input[name=primary][data-side=a]"); break;
    case "2": click("input[name=primary][data-side=b]"); break;
    case "ArrowLeft": click("a[rel=prev]"); break;
    case "ArrowRight": click("a[rel=next]"); break;
  }
});
