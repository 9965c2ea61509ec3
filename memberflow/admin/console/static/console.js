// The sign-in link `make run` prints carries the token in the fragment (#token=...), which is never
// sent to the server: fill the sign-in form's field from it, then drop it from the address bar.
document.addEventListener("DOMContentLoaded", () => {
  const field = document.getElementById("token");
  const match = window.location.hash.match(/^#token=(.+)$/);
  if (field && match) {
    field.value = decodeURIComponent(match[1]);
    history.replaceState(null, "", window.location.pathname);
  }
});
