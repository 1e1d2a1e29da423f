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
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || !form.dataset.progress || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = document.getElementById(form.dataset.progress);
  if (!bar) { return; }
  event.preventDefault();
  bar.parentNode.hidden = false;
  var request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.upload.addEventListener("progress", function (progress) {
    if (progress.lengthComputable) { bar.value = Math.round(100 * progress.loaded / progress.total); }
  });
  request.addEventListener("load", function () {
    if (request.status < 400 && request.responseURL) { window.location.assign(request.responseURL); return; }
    document.open();
    document.write(request.responseText);
    document.close();
  });
  request.addEventListener("error", function () { form.dataset.sent = ""; form.submit(); });
  request.send(new FormData(form));
});
