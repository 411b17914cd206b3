// Runs before the page paints (not deferred): the saved or the system's theme, no flash.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("ng-theme"); } catch (e) { /* storage off */ }
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = saved || (dark ? "dark" : "light");
})();
