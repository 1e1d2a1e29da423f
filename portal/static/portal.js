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
