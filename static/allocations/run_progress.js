// An allocation run in progress: poll its status and reload the page when it has finished.
(function () {
  "use strict";
  var box = document.getElementById("run-progress");
  if (!box) { return; }
  var meter = document.getElementById("run-meter");
  var stage = document.getElementById("run-stage");
  function poll() {
    fetch(box.dataset.statusUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        meter.value = data.progress;
        meter.textContent = data.progress + "%";
        stage.textContent = data.status_display + ": " + data.stage;
        if (data.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
