// The staff console: ask before a step that is hard to undo (forms marked data-confirm); on a phone, fold the
// queue's filters away (they stay open without this script, and on wider screens).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.matchMedia || !window.matchMedia("(max-width: 40rem)").matches) {
      return;
    }
    document.querySelectorAll("details[data-fold-on-phone]").forEach(function (details) {
      if (!details.querySelector(".has-error")) {
        details.open = false;
      }
    });
  });
})();
