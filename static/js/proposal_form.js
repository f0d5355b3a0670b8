// The proposal form: live budget (worked out on the server in Decimal), and one submission per click.
(function () {
  "use strict";
  var form = document.getElementById("proposal-form");
  if (!form) { return; }
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  var timer = null;
  function refreshBudget() {
    var params = new URLSearchParams();
    form.querySelectorAll(".hours-input, [name=other_funding]").forEach(function (input) {
      params.append(input.name, input.value);
    });
    fetch(form.dataset.budgetUrl + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        Object.keys(data).forEach(function (key) {
          var cell = form.querySelector("[data-budget='" + key + "']");
          if (cell) { cell.textContent = data[key]; }
        });
      })
      .catch(function () { /* the figures are refreshed again on save */ });
  }
  form.addEventListener("input", function (event) {
    if (event.target.matches(".hours-input, [name=other_funding]")) {
      window.clearTimeout(timer);
      timer = window.setTimeout(refreshBudget, 300);
    }
  });

  // A second click while the first submission is on its way does nothing (the server also makes only one).
  form.addEventListener("submit", function (event) {
    if (form.dataset.sending === "1") { event.preventDefault(); return; }
    form.dataset.sending = "1";
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-once")) {
      submitter.setAttribute("aria-disabled", "true");
      submitter.classList.add("disabled");
    }
  });
})();
window.addEventListener("pageshow", function () {
  var form = document.getElementById("proposal-form");
  if (form) { form.dataset.sending = ""; }
});
