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

  // the cart badge of every open tab shows the same count: a tab that learns a new count (a page
  // drawn, an htmx answer swapping the badge) tells the others over a BroadcastChannel
  const cartBadge = document.getElementById("cart-count");
  if (cartBadge && window.BroadcastChannel) {
    const channel = new BroadcastChannel("agora-cart");
    let shown = cartBadge.textContent.trim();
    channel.addEventListener("message", function (event) {
      const badge = document.getElementById("cart-count");
      if (badge && typeof event.data === "string") { shown = event.data; badge.textContent = event.data; }
    });
    const tell = function () {
      const badge = document.getElementById("cart-count");
      const now = badge ? badge.textContent.trim() : "";
      if (now !== shown) { shown = now; channel.postMessage(now); }
    };
    shown = null;  // a freshly drawn page is news to the tabs drawn before it
    tell();
    document.body.addEventListener("htmx:afterSettle", tell);
  }

  // the product page's thumbnails show their picture in the main image, in place (without
  // JavaScript they are links to the full picture)
  const mainImage = document.querySelector("[data-main-image]");
  for (const thumb of document.querySelectorAll("a[data-show-image]")) {
    thumb.addEventListener("click", function (event) {
      if (!mainImage) return;
      event.preventDefault();
      mainImage.src = thumb.dataset.showImage;
      for (const other of document.querySelectorAll("a[data-show-image]")) other.removeAttribute("aria-current");
      thumb.setAttribute("aria-current", "true");
    });
  }

  // checkout: the country list named in the shopper's language (the page sends ISO codes), the card
  // brand shown as the number is typed, and the expiry typed as MM/YY
  for (const select of document.querySelectorAll("select[data-country-names]")) {
    if (!window.Intl || !Intl.DisplayNames) break;
    const names = new Intl.DisplayNames([document.documentElement.lang || "en"], { type: "region" });
    const options = Array.from(select.options);
    for (const option of options) option.textContent = names.of(option.value) || option.value;
    options.sort(function (a, b) { return a.textContent.localeCompare(b.textContent); });
    const chosen = select.value;
    select.append(...options);
    select.value = chosen;
  }
  const cardNumber = document.querySelector("[data-card-number]");
  const cardBrand = document.querySelector("[data-card-brand]");
  if (cardNumber && cardBrand) {
    const brands = [[/^4/, "Visa"], [/^(5[1-5]|2(2[2-9]|[3-6]|7[01]|720))/, "Mastercard"], [/^3[47]/, "Amex"],
      [/^(6011|65|64[4-9])/, "Discover"]];
    cardNumber.addEventListener("input", function () {
      const digits = cardNumber.value.replace(/\D/g, "");
      const brand = brands.find(function (b) { return b[0].test(digits); });
      cardBrand.textContent = brand ? brand[1] : "";
    });
  }
  const expiry = document.querySelector("[data-card-expiry]");
  if (expiry) {
    expiry.addEventListener("input", function (event) {
      if (event.inputType && event.inputType.startsWith("delete")) return;
      const digits = expiry.value.replace(/\D/g, "").slice(0, 4);
      expiry.value = digits.length > 2 ? digits.slice(0, 2) + "/" + digits.slice(2) : digits;
    });
  }

  // while a form field has the focus the chat button steps aside (chat.css: body.typing)
  document.addEventListener("focusin", function (event) {
    const field = event.target.closest && event.target.closest("input, select, textarea");
    body.classList.toggle("typing", Boolean(field && !field.closest("[data-chat-widget]")));
  });
  document.addEventListener("focusout", function () { body.classList.remove("typing"); });

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
      li.className = item.read_at ? "read" : "unread";
      // a notification about an order opens the order; text, never markup
      const title = document.createElement(item.order_id ? "a" : "strong");
      if (item.order_id) title.href = "/account/orders/" + encodeURIComponent(item.order_id);
      title.textContent = item.title;
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
