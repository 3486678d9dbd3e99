/* The building page's dialogs (div role=dialog, toggled by Dash callbacks): Échap closes the
   open one, focus goes to its first field when it opens, and the page behind does not scroll. */
(function () {
  function openDialogs() {
    return Array.prototype.filter.call(
      document.querySelectorAll("[role=dialog].dialog"), function (d) { return !d.hidden; });
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) { return; }
    if (document.activeElement && document.activeElement.closest(".dash-dropdown-content")) {
      return;  // Échap closes an open list first
    }
    var open = openDialogs();
    if (!open.length) { return; }
    var close = open[open.length - 1].querySelector(".dialog-close");
    if (close) { close.click(); }
  });
  var observer = new MutationObserver(function (mutations) {
    mutations.forEach(function (m) {
      var d = m.target;
      if (m.attributeName !== "hidden" || !d.classList || !d.classList.contains("dialog")) {
        return;
      }
      if (!d.hidden) {
        var first = d.querySelector("textarea") || d.querySelector(".dialog-close");
        if (first) { first.focus({preventScroll: true}); }
      }
    });
    document.body.classList.toggle("dialog-open", openDialogs().length > 0);
  });
  function start() {
    observer.observe(document.body, {attributes: true, attributeFilter: ["hidden"], subtree: true});
  }
  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
})();
