// A form whose button carries data-once is sent once: a second click while the first is on its way does nothing
// (the server also makes only one submission). Progressive: without JavaScript the form still works.
(function () {
  "use strict";
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-once]")) { return; }
    form.addEventListener("submit", function (event) {
      if (form.dataset.sending === "1") { event.preventDefault(); return; }
      form.dataset.sending = "1";
      var submitter = event.submitter;
      if (submitter && submitter.hasAttribute("data-once")) {
        submitter.setAttribute("aria-disabled", "true");
        submitter.classList.add("disabled");
      }
    });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) { form.dataset.sending = ""; });
  });
})();
