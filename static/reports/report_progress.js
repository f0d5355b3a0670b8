// Polls the status of approval reports still being generated and shows their progress, then the download link.
(function () {
  "use strict";
  function poll(row) {
    var url = row.getAttribute("data-document-status");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var meter = row.querySelector("progress");
        if (meter) { meter.value = data.progress; meter.textContent = data.progress + "%"; }
        row.querySelector(".document-state").textContent = data.status_display;
        var done = data.status === "succeeded" || data.status === "failed";
        row.querySelector(".document-stage").textContent = done ? data.error : data.stage;
        if (data.status === "succeeded" || data.status === "failed") {
          if (meter) { meter.remove(); }
          if (data.url) {
            var link = document.createElement("a");
            link.href = data.url;
            link.textContent = row.getAttribute("data-ready-label").replace("%(pages)s", data.pages);
            row.querySelector(".document-link").replaceChildren(link);
          }
          return;
        }
        window.setTimeout(function () { poll(row); }, 1500);
      })
      .catch(function () { window.setTimeout(function () { poll(row); }, 5000); });
  }
  document.querySelectorAll("[data-document-status][data-finished='false']").forEach(poll);
}());
