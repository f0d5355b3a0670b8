// Follows a queued usage import: polls its JSON status and shows whether it waits or runs; once it has finished,
// reloads the page, which then shows the counts or the reason the file was refused. Without JavaScript the page
// has a refresh link instead.
(function () {
  "use strict";
  var box = document.getElementById("usage-import-progress");
  if (!box) { return; }
  var state = document.getElementById("usage-import-state");
  var labels = { queued: box.getAttribute("data-label-queued"), running: box.getAttribute("data-label-running") };
  function poll(delay) {
    window.setTimeout(function () {
      fetch(box.getAttribute("data-status-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { poll(10000); return; }
          if (data.finished) { window.location.reload(); return; }
          var label = labels[data.status] || data.status_display;
          if (state.textContent.trim() !== label) { state.textContent = label; }
          poll(2000);
        })
        .catch(function () { poll(5000); });
    }, delay);
  }
  poll(1000);
}());
