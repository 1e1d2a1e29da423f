// Passkeys: the WebAuthn ceremonies in the browser. Every page works without this file: the
// passkey buttons stay hidden and the password and code forms are there as before.
//
// A passkey form ([data-passkey]) holds the CSRF token and two empty fields. On its button the
// script gets the ceremony's options (from the portal, or from the page for a step-up), lets the
// browser make or use the passkey, puts the credential (PublicKeyCredential.toJSON()) in the
// form and sends it: the portal calls auth and answers with a page, as for any other form. No
// token reaches this script; the texts it shows come from the page, in the customer's language.
(function () {
  "use strict";
  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && navigator.credentials && window.fetch && window.JSON &&
    typeof PKC.parseCreationOptionsFromJSON === "function" &&
    typeof PKC.parseRequestOptionsFromJSON === "function");

  function showError(form, text) {
    var box = form.querySelector("[data-passkey-error]");
    if (!box) { return; }
    box.textContent = "";
    var paragraph = document.createElement("p");
    paragraph.textContent = text;
    box.appendChild(paragraph);
    box.hidden = false;
  }

  function field(form, name) {
    return form.querySelector("input[name='" + name + "']");
  }

  // The ceremony's options: asked of the portal (a CSRF-checked form post answered with JSON).
  function fetchOptions(form) {
    var body = new URLSearchParams();
    body.set("csrf_token", field(form, "csrf_token").value);
    return fetch(form.dataset.optionsUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.ok && answer.options) { return answer; }
        if (answer.next) { window.location.assign(answer.next); }
        var failure = new Error(answer.message || form.dataset.msgFailed);
        failure.shown = true;
        throw failure;
      });
    });
  }

  function ceremony(form) {
    var kind = form.dataset.passkey;
    if (kind === "step-up") {
      return Promise.resolve({ options: JSON.parse(form.dataset.options) });
    }
    return fetchOptions(form);
  }

  function run(form, button) {
    var kind = form.dataset.passkey;
    var box = form.querySelector("[data-passkey-error]");
    if (box) { box.hidden = true; }
    button.disabled = true;
    ceremony(form).then(function (answer) {
      if (kind === "register") {
        return navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(answer.options) })
          .then(function (credential) { return [answer, credential]; });
      }
      return navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(answer.options) })
        .then(function (credential) { return [answer, credential]; });
    }).then(function (made) {
      var ceremonyField = field(form, "ceremony_id");
      if (ceremonyField) { ceremonyField.value = made[0].ceremony_id || ""; }
      field(form, "credential").value = JSON.stringify(made[1].toJSON());
      form.submit();
    }).catch(function (error) {
      button.disabled = false;
      if (error && error.shown) { showError(form, error.message); return; }
      var name = error && error.name;
      if (name === "NotAllowedError" || name === "AbortError") {
        showError(form, form.dataset.msgCancelled);
      } else if (name === "InvalidStateError" && kind === "register") {
        showError(form, form.dataset.msgExists);
      } else {
        showError(form, form.dataset.msgFailed);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var notes = document.querySelectorAll("[data-passkey-unsupported]");
    var shown = document.querySelectorAll("[data-passkey-show]");
    var forms = document.querySelectorAll("form[data-passkey]");
    var i;
    if (!supported) { return; }
    for (i = 0; i < notes.length; i++) { notes[i].hidden = true; }
    for (i = 0; i < shown.length; i++) { shown[i].hidden = false; }
    for (i = 0; i < forms.length; i++) {
      (function (form) {
        var button = form.querySelector("[data-passkey-start]");
        if (!button) { return; }
        button.addEventListener("click", function () { run(form, button); });
        // Enter in the name field sends the form: start the ceremony instead of an empty post.
        form.addEventListener("submit", function (event) {
          if (!field(form, "credential").value) { event.preventDefault(); run(form, button); }
        });
      })(forms[i]);
    }
  });
})();
