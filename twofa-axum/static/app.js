// Copy and print buttons of the recovery-codes page (no inline scripts: the CSP forbids them).
document.addEventListener("DOMContentLoaded", function () {
  var copy = document.getElementById("copy-codes");
  if (copy) {
    copy.addEventListener("click", function () {
      var list = document.getElementById(copy.dataset.copy);
      var text = Array.prototype.map.call(list.querySelectorAll("code"), function (c) { return c.textContent; }).join("\n");
      navigator.clipboard.writeText(text).then(function () { copy.textContent = "Copied"; });
    });
  }
  var print = document.getElementById("print-codes");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
});
