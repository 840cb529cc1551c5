// accountd console: what forms cannot do. Everything works without it.
(function () {
  "use strict";
  // Focus the error summary, so a screen reader reads it first.
  var summary = document.querySelector(".summary");
  if (summary) { summary.focus(); }
  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      var done = document.getElementById(b.getAttribute("data-copied"));
      if (!el || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        if (done) { done.textContent = done.getAttribute("data-text"); }
      });
    });
  });
  // Confirm before a destructive form; without JavaScript a confirmation
  // page does the same.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  // Prefill the time zone on sign-up from the browser's.
  var tz = document.querySelector("input[data-timezone]");
  if (tz && !tz.value && window.Intl) {
    try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* keep empty */ }
  }
})();
