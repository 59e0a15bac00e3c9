// The sign-in form: where to go afterwards, and whether the last try failed, from the URL.

const params = new URLSearchParams(location.search);
document.getElementById("next").value = params.get("next") || "";
document.getElementById("failed").hidden = params.get("failed") !== "1";
