// The support chat in the browser: the launcher and panel of every page, the customer's /support
// page and the agents' inbox. The pages work without this file (history drawn by the server, POST
// forms); this file makes them live over the support service's WebSocket (/api/support/ws):
// subscribe to a conversation (or, for agents, to "inbox"), send and receive messages, mark read.
// Every message is drawn with textContent: a message is text, never markup.
"use strict";

(function () {
  const body = document.body;
  if (body.dataset.signedIn !== "true" || !window.agora) return;
  const API = "/api/support";
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // "21 Nov 2026, 19:04" (UTC), as the server's `when` filter draws it
  function when(iso) {
    const moment = new Date(iso);
    if (isNaN(moment.getTime())) return "";
    const two = function (n) { return String(n).padStart(2, "0"); };
    return two(moment.getUTCDate()) + " " + MONTHS[moment.getUTCMonth()] + " " + moment.getUTCFullYear() +
      ", " + two(moment.getUTCHours()) + ":" + two(moment.getUTCMinutes());
  }

  async function problemText(response, fallback) {
    try {
      const problem = await response.json();
      if (problem && problem.errors && problem.errors.length && problem.errors[0].detail) return problem.errors[0].detail;
      if (problem && problem.detail) return problem.detail;
    } catch (error) { /* not JSON */ }
    return fallback;
  }

  // -- the socket: one per page, shared by every view; it reconnects with backoff and then
  //    subscribes again to everything the page listens to -------------------------------------
  const socket = (function () {
    let ws = null;
    let attempt = 0;
    let counter = 0;
    let timer = null;
    let stopped = false;
    let everOpen = false;
    const topics = new Map();     // conversation id or "inbox" -> Set of frame handlers
    const pending = new Map();    // ref -> {resolve, reject, timer}
    const watchers = new Set();   // state handlers: "open", "reopened", "down", "signed-out"

    function tell(state) { for (const watcher of watchers) watcher(state); }
    function address() { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + API + "/ws"; }
    function raw(frame) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame)); }

    function connect() {
      if (ws || stopped) return;
      clearTimeout(timer);
      timer = null;
      ws = new WebSocket(address());
      ws.addEventListener("open", function () {
        attempt = 0;
        for (const topic of topics.keys()) raw({ type: "subscribe", conversation_id: topic });
        tell(everOpen ? "reopened" : "open");
        everOpen = true;
      });
      ws.addEventListener("message", function (event) {
        let frame;
        try { frame = JSON.parse(event.data); } catch (error) { return; }
        if (frame && typeof frame === "object") dispatch(frame);
      });
      ws.addEventListener("close", function (event) {
        ws = null;
        for (const waiting of pending.values()) {
          clearTimeout(waiting.timer);
          waiting.reject({ detail: "The connection dropped before an answer; if it was stored it will appear here." });
        }
        pending.clear();
        if (stopped) return;
        if (event.code === 4403) { stopped = true; tell("forbidden"); return; }
        tell("down");
        if (event.code === 4401) {
          // the access cookie lapsed: renew the session once, then reconnect (with backoff)
          window.agora.apiPost("/api/identity/refresh?session=cookie").then(function (response) {
            if (response.ok) later(); else { stopped = true; tell("signed-out"); }
          }, later);
          return;
        }
        later();
      });
    }

    function later() {
      const delay = Math.min(15000, 400 * Math.pow(2, attempt)) * (0.6 + Math.random() * 0.4);
      attempt += 1;
      timer = setTimeout(connect, delay);
    }

    function topicOf(frame) {
      if (frame.type === "inbox") return "inbox";
      if (frame.type === "subscribed") return frame.conversation_id;
      if (frame.type === "message" && frame.message) return frame.message.conversation_id;
      if (frame.type === "closed" && frame.conversation) return frame.conversation.id;
      if (frame.type === "read") return frame.conversation_id;
      return null;
    }

    function dispatch(frame) {
      if (frame.ref !== undefined && pending.has(frame.ref)) {
        const waiting = pending.get(frame.ref);
        pending.delete(frame.ref);
        clearTimeout(waiting.timer);
        if (frame.type === "error") waiting.reject(frame); else waiting.resolve(frame);
        if (frame.type !== "read") return;
      }
      const topic = topicOf(frame);
      for (const handler of topics.get(topic) || []) handler(frame);
    }

    // a frame that expects an answer (sent, read, subscribed or error with the same ref)
    function request(frame) {
      return new Promise(function (resolve, reject) {
        if (!ws || ws.readyState !== WebSocket.OPEN) { reject({ detail: "Not connected.", unsent: true }); return; }
        counter += 1;
        const ref = "r" + counter;
        const waiting = { resolve: resolve, reject: reject };
        waiting.timer = setTimeout(function () {
          pending.delete(ref);
          reject({ detail: "No answer from the chat yet; if it was stored it will appear here." });
        }, 10000);
        pending.set(ref, waiting);
        ws.send(JSON.stringify(Object.assign({ ref: ref }, frame)));
      });
    }

    function subscribe(topic, handler) {
      if (!topics.has(topic)) {
        topics.set(topic, new Set());
        raw({ type: "subscribe", conversation_id: topic });
      }
      topics.get(topic).add(handler);
      connect();
    }

    return {
      connect: connect,
      subscribe: subscribe,
      request: request,
      watch: function (watcher) { watchers.add(watcher); },
      get open() { return ws !== null && ws.readyState === WebSocket.OPEN; },
    };
  })();

  // -- one conversation on the page: its log, its compose box ----------------------------------
  function ChatView(root, options) {
    const side = root.dataset.chatSide;
    const me = root.dataset.userId;
    const customerName = root.dataset.customerName || "You";
    const maxLength = Number(root.dataset.maxLength || "2000");
    const log = root.querySelector("[data-chat-log]");
    const empty = root.querySelector("[data-chat-empty]");
    const status = root.querySelector("[data-chat-status]");
    const form = root.querySelector("[data-chat-form]");
    const input = root.querySelector("[data-chat-input]");
    const errorBox = root.querySelector("[data-chat-error]");
    const sendButton = root.querySelector("[data-chat-send]");
    const seen = new Set();
    let conversationId = root.dataset.conversationId || null;
    let shown = conversationId;  // the conversation whose messages the log holds
    let historyLoaded = false;
    let subscribed = null;
    let sending = false;
    const view = { onMessage: null, isVisible: options.isVisible };

    let otherMax = 0;  // the last message of the other side drawn, and the last one marked read
    let readUpTo = 0;
    for (const item of log.querySelectorAll("[data-message-id]")) {
      seen.add(item.dataset.messageId);
      if (!item.classList.contains("mine")) otherMax = Math.max(otherMax, Number(item.dataset.seq));
    }
    readUpTo = otherMax;  // the server marked what it drew as read

    function say(text) { status.textContent = text || ""; }
    function fail(text) {
      errorBox.textContent = text || "";
      errorBox.hidden = !text;
    }
    function scrollDown() { log.scrollTop = log.scrollHeight; }

    function authorOf(message) {
      if (message.author_id === me) return "You";
      return message.author_role === "agent" ? "Support" : customerName;
    }

    function draw(message) {
      if (!message || seen.has(message.id)) return false;
      seen.add(message.id);
      if (message.author_role !== side) otherMax = Math.max(otherMax, message.seq);
      const item = document.createElement("li");
      item.className = "chat-message from-" + message.author_role + (message.author_role === side ? " mine" : "");
      item.dataset.messageId = message.id;
      item.dataset.seq = String(message.seq);
      const meta = document.createElement("span");
      meta.className = "chat-meta";
      const author = document.createElement("span");
      author.className = "chat-author";
      author.textContent = authorOf(message);
      const time = document.createElement("time");
      time.dateTime = message.created_at;
      time.textContent = when(message.created_at);
      meta.append(author, " ", time);
      const text = document.createElement("p");
      text.className = "chat-body";
      text.textContent = message.body;  // text, never markup
      item.append(meta, text);
      // keep the history in order: a late page of history may arrive after a live message
      let before = null;
      for (const other of log.children) {
        if (Number(other.dataset.seq) > message.seq) { before = other; break; }
      }
      log.insertBefore(item, before);
      if (empty) empty.hidden = true;
      scrollDown();
      return true;
    }

    async function loadHistory() {
      if (!conversationId) return;
      let cursor = null;
      for (let pageNumber = 0; pageNumber < 10; pageNumber += 1) {
        const query = "?limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
        const response = await fetch(API + "/conversations/" + encodeURIComponent(conversationId) + "/messages" + query, { credentials: "same-origin" });
        if (!response.ok) { say("The history could not be loaded."); return; }
        const page = await response.json();
        for (const message of page.items) draw(message);
        cursor = page.next_cursor;
        if (!cursor) break;
      }
      historyLoaded = true;
    }

    function markRead() {
      if (!conversationId || otherMax <= readUpTo || (view.isVisible && !view.isVisible())) return;
      const id = conversationId;
      readUpTo = otherMax;
      socket.request({ type: "read", conversation_id: id }).catch(function () {
        window.agora.apiPost(API + "/conversations/" + encodeURIComponent(id) + "/read").catch(function () {});
      });
    }

    function closed() {
      say(side === "customer" ? "This conversation was closed. Write again to start a new one." : "This conversation is closed.");
      const badge = document.querySelector("[data-chat-state]");
      if (badge) { badge.textContent = "closed"; badge.className = "status closed"; }
      if (side === "customer") {
        conversationId = null;  // the next message opens a new conversation
      } else if (form) {
        form.hidden = true;
      }
    }

    function onFrame(frame) {
      if (frame.type === "subscribed") {
        // from now on every message is pushed: read the history once more for what came before
        // (since the page was drawn, or while the connection was down)
        loadHistory().then(markRead, function () { say("The history could not be loaded."); });
      } else if (frame.type === "message" && frame.message.conversation_id === conversationId) {
        if (draw(frame.message) && frame.message.author_role !== side) {
          markRead();
          if (view.onMessage) view.onMessage(frame.message);
        }
      } else if (frame.type === "closed" && frame.conversation.id === conversationId) {
        closed();
      }
    }

    function attach(id) {
      if (shown && shown !== id) {
        // a new conversation after the last one closed: its history starts afresh
        log.replaceChildren();
        seen.clear();
        otherMax = readUpTo = 0;
        if (empty) empty.hidden = false;
      }
      shown = id;
      conversationId = id;
      root.dataset.conversationId = id;
      if (subscribed === id) return;
      subscribed = id;
      socket.subscribe(id, onFrame);
    }

    async function ensureConversation() {
      if (conversationId) return conversationId;
      // the subject tells the agent where the customer was: "From: <the page's title>"
      const page = (document.title || "").replace(/ · Agora$/, "").replace(/\s+/g, " ").trim();
      const response = await window.agora.apiPost(API + "/conversations", { subject: page ? ("From: " + page).slice(0, 200) : null });
      if (!response.ok) throw { detail: await problemText(response, "The chat could not be opened.") };
      const conversation = await response.json();
      attach(conversation.id);
      if (response.status === 200) await loadHistory();  // an open one existed (another tab opened it)
      return conversation.id;
    }

    // over the socket when it is up, else over HTTP; never both for one message (a message
    // whose answer was lost is not sent again: the history shows whether it arrived)
    async function sendTo(id, text) {
      if (socket.open) {
        try {
          const answer = await socket.request({ type: "message", conversation_id: id, body: text });
          draw(answer.message);
          return;
        } catch (error) {
          if (!error || !error.unsent) throw error;  // refused (the frame says why), or fate unknown
        }
      }
      const response = await window.agora.apiPost(API + "/conversations/" + encodeURIComponent(id) + "/messages", { body: text });
      if (!response.ok) throw { status: response.status, detail: await problemText(response, "The message could not be sent.") };
      draw(await response.json());
    }

    async function send(text, again) {
      const id = await ensureConversation();
      try {
        await sendTo(id, text);
      } catch (error) {
        if (side === "customer" && !again && error && error.status === 409) {
          // closed meanwhile (and this page missed the news): the message opens a new conversation
          closed();
          await send(text, true);
          say("");
          return;
        }
        throw error;
      }
    }

    async function submit() {
      if (sending) return;
      const text = input.value.trim();
      if (!text) { fail("Write a message first."); return; }
      if (text.length > maxLength) {
        fail("A message has at most " + maxLength + " characters (this one has " + text.length + ").");
        return;
      }
      sending = true;
      sendButton.disabled = true;
      fail("");
      try {
        await send(text);
        input.value = "";
      } catch (error) {
        fail((error && error.detail) || "The message could not be sent; try again.");
      } finally {
        sending = false;
        sendButton.disabled = false;
        input.focus();
      }
    }

    if (form) {
      form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
      });
      input.addEventListener("input", function () { if (!errorBox.hidden) fail(""); });
    }

    socket.watch(function (state) {
      if (state === "down") say("Reconnecting…");
      else if (state === "signed-out") say("Your session has ended; log in again to keep chatting.");
      else if (state === "forbidden") say("This account cannot use the chat.");
      else if (state === "open" || state === "reopened") say("");
    });
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") markRead(); });

    view.attach = attach;
    view.loadHistory = loadHistory;
    view.historyLoaded = function () { return historyLoaded; };
    view.markRead = markRead;
    view.say = say;
    view.scrollDown = scrollDown;
    view.focus = function () { if (input) input.focus(); };
    view.conversation = function () { return conversationId; };
    return view;
  }

  function pageVisible() { return document.visibilityState === "visible"; }

  // -- the launcher and panel of every page -------------------------------------------------------
  function startWidget(widget) {
    const launcher = widget.querySelector("[data-chat-launcher]");
    const fallback = widget.querySelector("[data-chat-fallback]");
    const panel = widget.querySelector("[data-chat-panel]");
    const badge = widget.querySelector("[data-chat-unread]");
    const view = ChatView(panel.querySelector("[data-chat]"), {
      isVisible: function () { return !panel.hidden && pageVisible(); },
    });
    let unread = 0;
    let loaded = null;
    fallback.hidden = true;
    launcher.hidden = false;

    function showUnread(count) {
      unread = count;
      badge.textContent = count ? String(count) : "";
    }
    view.onMessage = function () { if (panel.hidden) showUnread(unread + 1); };

    // the customer's open conversation, if any (on every page: its unread count is the badge)
    function load() {
      if (!loaded) {
        loaded = fetch(API + "/conversations?status=open&limit=1", { credentials: "same-origin" })
          .then(function (response) {
            if (!response.ok) throw new Error("support " + response.status);
            return response.json();
          })
          .then(function (page) {
            const conversation = page.items[0];
            if (!conversation) return;
            showUnread(conversation.unread || 0);
            view.attach(conversation.id);
          })
          .catch(function () {
            loaded = null;
            view.say("The chat is unavailable right now.");
          });
      }
      return loaded;
    }

    async function openPanel() {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      sessionStorage.setItem("agora.chat.open", "1");
      view.focus();
      await load();
      // normally the subscription has loaded it; without a socket, load it over HTTP
      if (view.conversation() && !view.historyLoaded()) await view.loadHistory();
      view.scrollDown();
      showUnread(0);
      view.markRead();
    }
    function closePanel() {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      sessionStorage.removeItem("agora.chat.open");
      launcher.focus();
    }
    launcher.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(); });
    widget.querySelector("[data-chat-hide]").addEventListener("click", closePanel);
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") closePanel(); });

    if (sessionStorage.getItem("agora.chat.open") === "1") openPanel(); else load();
  }

  // -- the agents' inbox: rows follow the "inbox" subscription --------------------------------
  function startInbox(inbox) {
    const list = inbox.querySelector("[data-inbox-list]");
    if (!list) return;
    const emptyNote = inbox.querySelector("[data-inbox-empty]");
    const filter = inbox.dataset.status;
    const current = inbox.dataset.current;

    function labelOf(conversation) {
      return conversation.customer_name || conversation.customer_email || "Customer " + String(conversation.customer_id || "").slice(0, 8);
    }

    function row(conversation) {
      const item = document.createElement("li");
      item.className = "inbox-item";
      item.dataset.conversationId = conversation.id;
      const link = document.createElement("a");
      link.href = "/admin/support/" + encodeURIComponent(conversation.id) + "?status=" + encodeURIComponent(filter);
      const who = document.createElement("span");
      who.className = "inbox-who";
      const count = document.createElement("span");
      count.className = "badge";
      count.dataset.unread = "";
      const subject = document.createElement("span");
      subject.className = "inbox-subject muted";
      const time = document.createElement("time");
      time.className = "muted";
      const state = document.createElement("span");
      state.dataset.status = "";
      link.append(who, count, subject, time, state);
      item.append(link);
      return item;
    }

    function update(conversation) {
      let item = list.querySelector('[data-conversation-id="' + CSS.escape(conversation.id) + '"]');
      if (filter !== "all" && conversation.status !== filter) {
        if (item && conversation.id !== current) item.remove();
        if (emptyNote) emptyNote.hidden = list.children.length > 0;
        return;
      }
      if (!item) item = row(conversation);
      const unread = conversation.id === current ? 0 : conversation.agent_unread;
      item.querySelector(".inbox-who").textContent = labelOf(conversation);
      item.querySelector("[data-unread]").textContent = unread ? String(unread) : "";
      item.querySelector(".inbox-subject").textContent = conversation.subject || "";
      const stamp = conversation.last_message_at || conversation.created_at;
      const time = item.querySelector("time");
      time.dateTime = stamp;
      time.textContent = when(stamp);
      const state = item.querySelector("[data-status]");
      state.className = "status " + conversation.status;
      state.textContent = conversation.status;
      item.classList.toggle("unread", unread > 0);
      item.classList.toggle("current", conversation.id === current);
      if (item.dataset.updated !== conversation.updated_at || !item.parentNode) {
        item.dataset.updated = conversation.updated_at;
        list.prepend(item);  // newest activity first
      }
      if (emptyNote) emptyNote.hidden = true;
    }

    // after (re)subscribing, the list is read again: changes from before are not pushed
    async function refresh() {
      const query = "?limit=50" + (filter === "all" ? "" : "&status=" + encodeURIComponent(filter));
      const response = await fetch(API + "/conversations" + query, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = await response.json();
      for (const conversation of page.items.slice().reverse()) update(conversation);
    }

    socket.subscribe("inbox", function (frame) {
      if (frame.type === "subscribed") refresh().catch(function () {});
      else if (frame.conversation) update(frame.conversation);
    });
  }

  for (const widget of document.querySelectorAll("[data-chat-widget]")) startWidget(widget);
  for (const root of document.querySelectorAll("[data-chat]:not([data-lazy])")) {
    const view = ChatView(root, { isVisible: pageVisible });
    const id = view.conversation();
    if (id) view.attach(id); else if (root.querySelector("[data-chat-form]")) socket.connect();  // ready for the first message
    view.scrollDown();
  }
  for (const inbox of document.querySelectorAll("[data-inbox]")) startInbox(inbox);
})();
