/* Paper (print.css): fill the print header with the page's title, its choices (the values of
   its selectors, which are not printed: contract, season, building, month...) and today's date
   in Europe/Paris, and fit the charts to the page. Runs when printing starts, when the print
   media is switched on (print preview, emulation) and whenever the page changes. */
(function () {
  function text(el) { return el ? (el.textContent || "").replace(/\s+/g, " ").trim() : ""; }

  function labelOf(control) {
    var label = control.closest("label, .filter, .form-field");
    var own = label && label.querySelector(".filter-label, .field-label");
    return text(own);
  }

  function choices(content) {
    var out = [];
    // what the page is about (a building chosen in it), then the selectors of what it shows
    content.querySelectorAll(".print-subject").forEach(function (el) {
      var parts = Array.prototype.map.call(el.childNodes, text).filter(Boolean);
      if (parts.length) { out.push(parts.join(" ")); }
    });
    content.querySelectorAll(".filters .dash-dropdown, .page-head .dash-dropdown").forEach(function (dd) {
      var shown = dd.querySelector(".dash-dropdown-value");
      var value = text(shown);
      if (value && !(shown && shown.querySelector(".dash-dropdown-placeholder"))) {
        out.push((labelOf(dd) ? labelOf(dd) + " : " : "") + value);
      }
    });
    content.querySelectorAll(".filters input[type=text], .filters input[type=search], .filters input[type=date], .filters input[type=month]").forEach(function (input) {
      if (input.value) { out.push((labelOf(input) ? labelOf(input) + " : " : "") + input.value); }
    });
    return out;
  }

  function today() {
    try {
      return new Intl.DateTimeFormat("fr-FR", {
        timeZone: "Europe/Paris", day: "2-digit", month: "2-digit", year: "numeric"
      }).format(new Date());
    } catch (e) { return null; }
  }

  function fill() {
    var header = document.getElementById("print-header");
    var content = document.getElementById("_pages_content") || document.querySelector(".content");
    if (!header || !content) { return; }
    var title = document.getElementById("print-title");
    var context = document.getElementById("print-context");
    var date = document.getElementById("print-date");
    var t = text(content.querySelector("h1"));
    var c = choices(content).join(" · ");
    if (title && text(title) !== t) { title.textContent = t; }
    if (context && text(context) !== c) { context.textContent = c; }
    var d = today();
    if (date && d && text(date) !== "Imprimé le " + d) { date.textContent = "Imprimé le " + d; }
  }

  function fitCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      try { window.Plotly.Plots.resize(gd); } catch (e) { /* a chart still drawing */ }
    });
  }

  function beforePrint() { fill(); fitCharts(); }

  var pending = false;
  function schedule() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; fill(); });
  }

  window.addEventListener("beforeprint", beforePrint);
  window.addEventListener("afterprint", fitCharts);
  if (window.matchMedia) {
    var media = window.matchMedia("print");
    var onChange = function () { beforePrint(); };
    if (media.addEventListener) { media.addEventListener("change", onChange); }
    else if (media.addListener) { media.addListener(onChange); }
  }
  function watch() {
    var root = document.getElementById("react-entry-point") || document.body;
    new MutationObserver(schedule).observe(root, {
      childList: true, subtree: true, characterData: true
    });
    schedule();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", watch); }
  else { watch(); }
})();
