// Light or dark before the first paint: the reader's stored choice, else the system's.
// A classic script in <head> (the page's policy allows no inline code); app.js owns the toggle.
(function () {
  try {
    var theme = localStorage.getItem("code-interpreter.theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (e) {
    // Storage can be blocked (private modes); the system's scheme then applies.
  }
})();
