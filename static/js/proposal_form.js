// The proposal form, enhanced: the error summary takes focus, the budget is worked out live (on the server, in
// Decimal), drafts save themselves, leaving with unsaved changes warns, and removing an attachment asks first.
// Everything here is an enhancement: without JavaScript the form saves, checks and submits the same way.
(function () {
  "use strict";
  var form = document.getElementById("proposal-form");
  if (!form) { return; }

  // ---- Live budget ------------------------------------------------------------------------------------------
  var budgetTimer = null;
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

  // ---- Unsaved changes and autosave ---------------------------------------------------------------------------
  var dirty = false;          // typed since the last save
  var fileChosen = false;     // a file waits to be uploaded: only Save draft or Submit sends it
  var sending = false;        // the form itself is being submitted
  var saveTimer = null;
  var status = document.getElementById("autosave-status");
  var AUTOSAVE_AFTER = 2000;  // ms without typing

  function autosave() {
    if (!form.dataset.autosaveUrl || sending) { return; }
    var data = new FormData(form);
    data.delete("attachment");
    data.delete("action");
    data.delete("remove_attachment");
    var savedWhileDirty = dirty;
    dirty = false;
    fetch(form.dataset.autosaveUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    })
      .then(function (response) { return response.json().then(function (json) { return { ok: response.ok, json: json }; }); })
      .then(function (result) {
        if (status && result.json.message) { status.textContent = result.json.message; }
        if (!result.ok) { dirty = dirty || savedWhileDirty; }
      })
      .catch(function () { dirty = dirty || savedWhileDirty; });
  }

  form.addEventListener("input", function (event) {
    if (event.target.type === "file") { return; }
    dirty = true;
    if (event.target.matches(".hours-input, [name=other_funding]")) {
      window.clearTimeout(budgetTimer);
      budgetTimer = window.setTimeout(refreshBudget, 300);
    }
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(autosave, AUTOSAVE_AFTER);
  });
  form.addEventListener("change", function (event) {
    if (event.target.type === "file") {
      fileChosen = Boolean(event.target.files && event.target.files.length);
      return;
    }
    dirty = true;
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(autosave, AUTOSAVE_AFTER);
  });
  window.addEventListener("beforeunload", function (event) {
    if (sending || !(dirty || fileChosen)) { return undefined; }
    event.preventDefault();
    event.returnValue = "";
    return "";
  });

  // ---- One submission per click ------------------------------------------------------------------------------
  form.addEventListener("submit", function (event) {
    if (form.dataset.sending === "1") { event.preventDefault(); return; }
    form.dataset.sending = "1";
    sending = true;
    window.clearTimeout(saveTimer);
  });
  window.addEventListener("pageshow", function () { form.dataset.sending = ""; sending = false; });

  // ---- Removing an attachment asks first ----------------------------------------------------------------------
  var dialog = document.getElementById("remove-dialog");
  var removeInput = document.getElementById("remove-attachment");
  var saveButton = form.querySelector("button[name=action][value=save]");
  var pending = null;
  var opener = null;
  if (dialog && typeof dialog.showModal === "function" && removeInput && saveButton) {
    var text = document.getElementById("remove-dialog-text");
    form.querySelectorAll("[data-remove-attachment]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        pending = link.dataset.removeAttachment;
        opener = link;
        text.textContent = text.dataset.template.replace("%(name)s", link.dataset.name);
        dialog.showModal();
        document.getElementById("remove-dialog-cancel").focus();
      });
    });
    document.getElementById("remove-dialog-confirm").addEventListener("click", function () {
      removeInput.value = pending;
      dialog.close();
      form.requestSubmit(saveButton);
    });
    document.getElementById("remove-dialog-cancel").addEventListener("click", function () {
      pending = null;
      dialog.close();
    });
    dialog.addEventListener("cancel", function () { pending = null; });
    dialog.addEventListener("close", function () {
      if (!pending && opener) { opener.focus(); }
    });
  }
})();
