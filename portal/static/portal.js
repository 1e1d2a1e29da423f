// Small comforts only: every page works without this file.
// A form, once sent, cannot be sent twice by an impatient second click.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.sent === "1") { event.preventDefault(); return; }
  form.dataset.sent = "1";
  var buttons = form.querySelectorAll("button[type=submit]");
  for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
});
// Coming back to a page from the history: forms can be sent again.
window.addEventListener("pageshow", function () {
  var forms = document.querySelectorAll("form");
  for (var i = 0; i < forms.length; i++) {
    forms[i].dataset.sent = "";
    var buttons = forms[i].querySelectorAll("button[type=submit]");
    for (var j = 0; j < buttons.length; j++) { buttons[j].disabled = false; }
  }
});
// An upload form shows how much of the file has been sent. Without this script the same form is
// sent by the browser as usual; with it, the answer page replaces this one when the upload ends.
// A file over the limit is not sent at all, and whatever goes wrong on the way (the connection,
// an answer that is not a page) ends with the form ready again and a message saying so: the
// page never stays on "Sending".
function mamoriUploadDone(form, bar, message) {
  bar.parentNode.hidden = true;
  bar.value = 0;
  form.dataset.sent = "";
  var buttons = form.querySelectorAll("button[type=submit]");
  for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = false; }
  var shown = message ? document.getElementById(message) : null;
  if (shown) { shown.hidden = false; shown.focus && shown.focus(); }
}
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || !form.dataset.progress || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = document.getElementById(form.dataset.progress);
  if (!bar) { return; }
  var alerts = [form.dataset.tooLarge, form.dataset.failed];
  for (var a = 0; a < alerts.length; a++) {
    var old = alerts[a] ? document.getElementById(alerts[a]) : null;
    if (old) { old.hidden = true; }
  }
  var input = form.querySelector("input[type=file]");
  var limit = parseInt(form.dataset.maxBytes || "0", 10);
  if (limit && input && input.files && input.files.length && input.files[0].size > limit) {
    event.preventDefault();
    mamoriUploadDone(form, bar, form.dataset.tooLarge);
    return;
  }
  event.preventDefault();
  bar.parentNode.hidden = false;
  var request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.upload.addEventListener("progress", function (progress) {
    if (progress.lengthComputable) { bar.value = Math.round(100 * progress.loaded / progress.total); }
  });
  request.addEventListener("load", function () {
    var type = request.getResponseHeader("content-type") || "";
    if (request.status < 400 && request.responseURL) { window.location.assign(request.responseURL); return; }
    if (type.indexOf("text/html") !== 0) {
      mamoriUploadDone(form, bar, request.status === 413 ? form.dataset.tooLarge : form.dataset.failed);
      return;
    }
    document.open();
    document.write(request.responseText);
    document.close();
  });
  function failed() { mamoriUploadDone(form, bar, form.dataset.failed); }
  request.addEventListener("error", failed);
  request.addEventListener("abort", failed);
  request.addEventListener("timeout", failed);
  request.send(new FormData(form));
});
