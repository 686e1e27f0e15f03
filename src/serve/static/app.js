// In-place like / dislike / hide: post the same form with fetch and dim the paper,
// instead of reloading. Without JavaScript the forms post and redirect back.
document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!form.matches("form[data-inplace]")) return;
  const button = ev.submitter;
  if (!button) return;
  ev.preventDefault();
  const data = new URLSearchParams(new FormData(form));
  data.set("action", button.value);
  try {
    // Not form.action: the buttons named "action" shadow that property.
    const res = await fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
    });
    if (!res.ok) throw new Error(res.status);
    const item = form.closest("li.paper");
    if (item) item.classList.add("done");
    button.textContent = { like: "♥ Liked", dislike: "✕ Disliked", hide: "Hidden" }[button.value] || "Done";
    form.querySelectorAll("button").forEach((b) => (b.disabled = true));
  } catch (e) {
    window.location.reload();
  }
});
