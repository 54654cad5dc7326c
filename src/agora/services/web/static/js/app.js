// Agora's page script: small behaviours every page shares. No inline scripts exist (the CSP forbids
// them); pages mark elements with data-* attributes and this file wires them up.
"use strict";

(function () {
  const body = document.body;

  function cookie(name) {
    const prefix = name + "=";
    for (const part of document.cookie.split("; ")) {
      if (part.startsWith(prefix)) return decodeURIComponent(part.slice(prefix.length));
    }
    return "";
  }

  // POST JSON to an API with the session's CSRF token (cookie sessions need it on every change)
  async function apiPost(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("agora_csrf") },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
  }
  window.agora = { apiPost: apiPost, cookie: cookie };

  // the access cookie lasts minutes, the refresh cookie days: renew before it lapses, and once
  // when a page finds its session expired (then draw the page again, signed in)
  async function refreshSession() {
    if (!cookie("agora_csrf")) return false;
    const response = await apiPost("/api/identity/refresh?session=cookie");
    return response.ok;
  }
  if (body.dataset.sessionExpired === "true") {
    refreshSession().then(function (ok) { if (ok) window.location.reload(); });
  } else if (body.dataset.signedIn === "true") {
    window.setInterval(refreshSession, 8 * 60 * 1000);
  }

  // log out: identity revokes the refresh token first (its cookie is scoped to /api/identity, so
  // only a request there carries it), then the form clears the session on the web's side
  for (const form of document.querySelectorAll("form[data-logout]")) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.revoked === "true") return;
      event.preventDefault();
      apiPost("/api/identity/logout")
        .then(function (response) {
          // identity revoked the session and cleared its cookies: nothing is left for the form
          if (response.ok) { window.location.assign("/"); return; }
          throw new Error("logout refused");
        })
        .catch(function () { form.dataset.revoked = "true"; form.submit(); });  // the form ends it here
    });
  }

  // <select data-autosubmit> submits its form on change (the currency picker)
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", function () { select.form.submit(); });
  }

  // a form marked data-once can be submitted once: a double click sends one request
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "true") { event.preventDefault(); return; }
      form.dataset.sent = "true";
      for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
    });
  }

  // live notifications: the badge and the list follow the notifications service's SSE stream
  const box = document.querySelector("[data-notifications]");
  if (box && body.dataset.signedIn === "true") {
    const badge = box.querySelector("[data-notification-count]");
    const list = box.querySelector("[data-notification-list]");
    let unread = 0;
    function show(count) {
      unread = count;
      badge.textContent = String(count);
      badge.hidden = count === 0;
    }
    function add(item, prepend) {
      const li = document.createElement("li");
      li.className = item.read ? "read" : "unread";
      const title = document.createElement("strong");
      title.textContent = item.title;  // text, never markup
      const text = document.createElement("span");
      text.textContent = item.body || "";
      li.append(title, text);
      if (prepend) list.prepend(li); else list.append(li);
      while (list.children.length > 5) list.lastElementChild.remove();
    }
    fetch("/api/notifications?limit=5", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (page) {
        if (!page) return;
        show(page.unread_count || 0);
        for (const item of page.items) add(item, false);
      })
      .catch(function () { /* notifications down: the badge stays hidden */ });
    if (window.EventSource) {
      const stream = new EventSource("/api/notifications/stream");
      stream.addEventListener("ready", function () { box.dataset.live = "true"; });
      stream.addEventListener("notification", function (event) {
        const item = JSON.parse(event.data);
        add(item, true);
        show(unread + 1);
        box.dispatchEvent(new CustomEvent("agora:notification", { detail: item, bubbles: true }));
      });
    }
  }
})();
