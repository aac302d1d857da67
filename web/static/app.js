// The form's only script (CSP: script-src 'self'). The pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  // 全选: tick every reported item on this page for bulk 销号.
  const all = document.getElementById("pick-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll('#bulk input[name="pick"]').forEach((box) => { box.checked = all.checked; });
    });
  }
  // One click, one submission: a second tap on a slow connection would only meet the version check.
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
    });
  });
});
