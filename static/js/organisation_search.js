// Suggestions for an organisation's name as one types (the co-applicant picker): the server searches, so the
// page never lists every organisation. Without JavaScript the exact registered name is typed instead.
(function () {
  "use strict";
  document.querySelectorAll("input[data-organisation-search]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var last = "";
    if (!list || !input.dataset.suggestions) { return; }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var query = input.value.trim();
        if (query.length < 2 || query === last) { return; }
        last = query;
        fetch(input.dataset.suggestions + "?q=" + encodeURIComponent(query), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) {
            list.replaceChildren();
            data.results.forEach(function (result) {
              var option = document.createElement("option");
              option.value = result.name;
              option.label = result.name_zh ? result.name_zh + " · " + result.type : result.type;
              list.appendChild(option);
            });
          })
          .catch(function () { /* no suggestions: the name can still be typed */ });
      }, 250);
    });
  });
})();
