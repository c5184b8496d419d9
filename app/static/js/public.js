// The public portal: after a refused submission, move focus to the list of problems so a screen reader
// announces it and a keyboard user starts from there. The pages work without this script.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
});
