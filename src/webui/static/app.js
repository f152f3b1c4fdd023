// The question page: a conversation whose answers stream from /api/ask with where the time went,
// and the history of the user's conversations.
// Model output only ever enters the page as text (append/textContent), never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("ask");
  const question = $("question");
  const model = $("model");
  const submitButton = $("submit");
  const stopButton = $("stop");
  const answer = $("answer");
  const notice = $("error");
  const status = $("status");
  const conversationSection = $("conversation");
  const thread = $("thread");
  // The latest turn asked in this page view, shown in full; earlier turns get a compact item.
  const current = $("current");
  const historyPanel = $("history-panel");
  const history = $("history");
  const deleteAllButton = $("delete-all");
  const confirmDeleteAll = $("confirm-delete-all");
  // Longest wait before the history is asked for again, whatever Retry-After says.
  const MAX_RETRY_SECONDS = 30;
  let controller = null;
  let result = null;
  let conversation = null;
  let historyRetry = null;
  // What put the text in the notice area, so only that can take it away again.
  let noticeReason = null;

  const ms = (value) =>
    value == null || Number.isNaN(value)
      ? "–"
      : value < 1000
        ? `${Math.round(value)} ms`
        : `${(value / 1000).toFixed(2)} s`;
  const nsToMs = (ns) => (typeof ns === "number" ? ns / 1e6 : null);
  // The hops before the model often take under a millisecond, which whole milliseconds hide.
  const fineMs = (value) => (value < 10 ? `${value.toFixed(1)} ms` : ms(value));
  const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
  const DURATION = /^(\d+\.?\d*|\.\d+)$/;

  // A Server-Timing header's durations (ms) by entry name: "app;dur=0012.5, lb-queue;dur=0"
  // gives {app: 12.5, "lb-queue": 0}. Whatever does not parse is left out rather than thrown: the
  // breakdown is an aid to the answer, never a reason to lose it. Quoted strings do not split.
  function serverTiming(header) {
    const durations = Object.create(null);
    for (const entry of (header || "").match(/(?:"(?:[^"\\]|\\.)*"|[^,"])+/g) || []) {
      const [name, ...params] = (entry.match(/(?:"(?:[^"\\]|\\.)*"|[^;"])+/g) || []).map((p) =>
        p.trim(),
      );
      if (!name || !TOKEN.test(name) || name in durations) continue;
      for (const param of params) {
        const [key, value = ""] = param.split(/\s*=\s*/, 2);
        // The first dur counts, as in the browser's own PerformanceServerTiming.
        if (key.toLowerCase() !== "dur") continue;
        const text = value.replace(/^"(.*)"$/, "$1");
        if (DURATION.test(text)) durations[name] = Number(text);
        break;
      }
    }
    return durations;
  }

  // Where the time before the model went, in the order a request meets each part: HAProxy's,
  // the app's and the gateway's Server-Timing entries, then Ollama's own wait for the model.
  // The app's and the gateway's spans nest, so the parts between them are differences.
  function hops(t, o) {
    const between = (outer, inner) =>
      outer != null && inner != null && outer >= inner ? outer - inner : null;
    return [
      ["lb-queue", "Load balancer queue", t["lb-queue"]],
      ["lb-connect", "Connecting to a web machine", t["lb-connect"]],
      ["app-handoff", "Apache to the web app", t["app-handoff"]],
      ["app", "Web app", t.app],
      ["app-gateway-network", "Network, web app to gateway", between(t["app-gateway"], t.gateway)],
      ["gateway-auth", "Gateway authentication", t["gateway-auth"]],
      // Ollama sends its headers with the first token, so this part holds the model's own time.
      ["gateway-ollama", "Gateway to Ollama's first token", between(t.gateway, t["gateway-auth"])],
      ["ollama-load", "Waiting for the model (queue and load)", nsToMs(o.load_duration)],
    ].filter(([, , value]) => value != null);
  }

  // An API's refusal: the contract's error code and message, and when to try again, if said.
  class Failure extends Error {
    constructor(code, message, response = null) {
      super(message);
      this.code = code;
      this.node = response && response.headers.get("X-Served-By");
      this.retryAfter = response && Number(response.headers.get("Retry-After"));
      // A refused answer may still say where its time went, as far as it got.
      this.serverTiming = response && response.headers.get("Server-Timing");
    }

    toJSON() {
      return { code: this.code, message: this.message };
    }
  }

  // fetch, with every way of failing turned into a Failure (an abort stays an AbortError).
  async function send(path, options = {}) {
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new Failure("network", "The connection to the web app failed.");
    }
    if (response.ok) return response;
    const data = await response.json().catch(() => null);
    if (data && data.error) throw new Failure(data.error.code, data.error.message, response);
    const message = `The server answered ${response.status}.`;
    throw new Failure(`http_${response.status}`, message, response);
  }

  const api = async (path, options) => (await send(path, options)).json();

  async function loadModels() {
    try {
      const data = await api("/api/models");
      model.replaceChildren(
        ...data.models.map((m) => new Option(m.name, m.name, false, m.name === data.default)),
      );
    } catch (error) {
      model.replaceChildren(new Option("(server default)", ""));
      model.title = `Models unavailable: ${error.message}`;
    }
  }

  function show(kind, text, reason = null) {
    notice.className = kind;
    notice.textContent = text;
    notice.hidden = false;
    noticeReason = reason;
  }

  function hideNotice(reason = noticeReason) {
    if (noticeReason !== reason) return;
    notice.hidden = true;
    noticeReason = null;
  }

  // Shows a refusal; while the database is away, the history is asked for again until it is
  // back, which also takes the message away.
  function report(error) {
    const away = error.code === "database_unavailable";
    show("error", `${error.message} (${error.code})`, away ? "database" : null);
    if (away) {
      const seconds = Math.min(Math.max(error.retryAfter || 1, 1), MAX_RETRY_SECONDS);
      clearTimeout(historyRetry);
      historyRetry = setTimeout(loadHistory, seconds * 1000);
    }
  }

  function element(tag, className, text, testid) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    if (testid) node.dataset.testid = testid;
    return node;
  }

  const titleOf = (c) => c.title || "(untitled)";
  const statusText = (turn) =>
    turn.status === "stopped" ? "Stopped" : turn.status === "failed" ? `Failed: ${turn.error}` : "";

  // The live result in the shape GET /api/conversations/<id> gives a stored turn, plus the
  // round trip that only the browser measured.
  function asStored(r) {
    const o = r.ollama || {};
    const app = r.app || {};
    return {
      question: r.question,
      answer: r.answer,
      model: r.model,
      mode: r.mode,
      status: r.stopped ? "stopped" : r.error ? "failed" : "done",
      error: r.error && r.error.message,
      rtt_ms: r.timings.rtt_ms,
      timings: {
        first_token_ms: app.first_token_ms,
        total_ms: app.total_ms,
        eval_duration_ms: nsToMs(o.eval_duration),
        total_duration_ms: nsToMs(o.total_duration),
      },
    };
  }

  // A finished turn as one compact item of the thread.
  function turnItem(turn, number) {
    const item = element("li", "turn", null, "turn");
    item.dataset.status = turn.status;
    const text = element("div", "answer", turn.answer, "turn-answer");
    text.setAttribute("aria-label", `Answer ${number}`);
    const state = element("p", "turn-status", statusText(turn), "turn-status");
    state.hidden = turn.status === "done";
    const t = turn.timings || {};
    const figures = [
      ["Round trip", turn.rtt_ms == null ? null : ms(turn.rtt_ms)],
      ["Server time", ms(t.total_ms)],
      ["First token", turn.mode === "complete" ? "– (complete mode)" : ms(t.first_token_ms)],
      ["Generation", ms(t.eval_duration_ms)],
      ["Ollama total", ms(t.total_duration_ms)],
      ["Model", turn.model || "–"],
    ].filter(([, value]) => value != null);
    const list = element("dl", "figures", null, "turn-timings");
    for (const [term, value] of figures) {
      const pair = element("div");
      pair.append(element("dt", null, term), element("dd", null, value));
      list.append(pair);
    }
    item.append(element("blockquote", null, turn.question, "turn-question"), text, state, list);
    return item;
  }

  function showThread(turns) {
    thread.replaceChildren(...turns.map((turn, i) => turnItem(turn, i + 1)));
    conversationSection.hidden = turns.length === 0;
  }

  function renderHistory(conversations) {
    const items = conversations.map((c) => {
      const title = titleOf(c);
      const item = element("li", null, null, "history-item");
      item.dataset.conversation = c.id;
      const open = element("button", "link", title, "history-open");
      open.type = "button";
      open.id = `conversation-${c.id}`;
      open.addEventListener("click", () => openConversation(c.id));
      const when = element("time", null, new Date(c.updated_at * 1000).toLocaleString());
      when.dateTime = new Date(c.updated_at * 1000).toISOString();
      const turns = `${c.turns} turn${c.turns === 1 ? "" : "s"} · `;
      const meta = element("span", "hint", turns, "history-meta");
      meta.append(when);
      const remove = element("button", null, "Delete", "history-delete");
      remove.type = "button";
      // Described, not labelled, by the title: a label holding the user's words would make
      // "Question" or "Model" name this button too.
      remove.setAttribute("aria-describedby", open.id);
      remove.addEventListener("click", () => deleteConversation(c.id));
      item.append(open, meta, remove);
      return item;
    });
    history.replaceChildren(...items);
    $("history-empty").hidden = items.length > 0;
    deleteAllButton.disabled = items.length === 0;
    markOpen();
  }

  function markOpen() {
    for (const item of history.children) {
      const open = item.dataset.conversation === String(conversation);
      if (open) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    }
  }

  async function loadHistory() {
    clearTimeout(historyRetry);
    try {
      renderHistory((await api("/api/conversations")).conversations);
      hideNotice("database");
    } catch (error) {
      report(error);
    }
  }

  async function openConversation(id) {
    try {
      const data = await api(`/api/conversations/${encodeURIComponent(id)}`);
      conversation = data.id;
      result = null;
      showThread(data.turns);
      markOpen();
      hideNotice();
      status.textContent = `Opened “${titleOf(data)}”: ${data.turns.length} turns.`;
    } catch (error) {
      report(error);
      // It may have been deleted elsewhere: the list shows what is left.
      loadHistory();
    }
  }

  function newConversation() {
    conversation = null;
    result = null;
    showThread([]);
    markOpen();
    hideNotice();
    question.focus();
  }

  async function deleteConversation(id) {
    try {
      await api(`/api/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
      status.textContent = "The conversation was deleted.";
      if (id === conversation) newConversation();
    } catch (error) {
      report(error);
    }
    loadHistory();
  }

  async function deleteAll() {
    try {
      const data = await api("/api/conversations", { method: "DELETE" });
      status.textContent = `${data.deleted} conversations were deleted.`;
      newConversation();
    } catch (error) {
      report(error);
    }
    loadHistory();
  }

  function renderTimings() {
    const t = result.timings;
    const o = result.ollama || {};
    const total = nsToMs(o.total_duration);
    const evalMs = nsToMs(o.eval_duration);
    $("t-rtt").textContent = ms(t.rtt_ms);
    $("t-ttft").textContent = result.mode === "stream" ? ms(t.ttft_ms) : "– (complete mode)";
    $("t-eval").textContent = ms(evalMs);
    $("t-total").textContent = ms(total);
    $("t-tps").textContent =
      o.eval_count && o.eval_duration ? (o.eval_count / (o.eval_duration / 1e9)).toFixed(1) : "–";
    t.overhead_ms = total != null && t.rtt_ms != null ? t.rtt_ms - total : null;
    $("t-overhead").textContent = ms(t.overhead_ms);
    $("t-model").textContent = result.model || "–";
    const parts = [
      ["load", nsToMs(o.load_duration)],
      ["prompt", nsToMs(o.prompt_eval_duration)],
      ["decode", evalMs],
    ];
    for (const [name, value] of parts) {
      // CSSOM, not a style attribute, so the strict CSP still holds.
      document.querySelector(`#split .${name}`).style.flexGrow = String(value || 0);
    }
    // Each part also carries its name and exact value, for tests and tools to read.
    const shown = hops(result.server_timing, o).map(([name, label, value]) => {
      const hop = element("span", null, `${label} ${fineMs(value)}`);
      hop.dataset.hop = name;
      hop.dataset.ms = String(value);
      return hop;
    });
    $("t-hops").replaceChildren(
      ...(shown.length ? shown.flatMap((hop, i) => (i ? [" · ", hop] : [hop])) : ["–"]),
    );
    $("split-text").textContent = result.ollama
      ? `Model load ${ms(parts[0][1])} · prompt evaluation ${ms(parts[1][1])} · decoding ${ms(evalMs)}`
      : "";
    const llm = result.llm ? ` · LLM ${result.llm}` : "";
    $("badge").textContent = result.node ? `served by ${result.node}${llm}` : "";
  }

  // What the server said about the turn, from the meta event or the complete answer.
  function accepted(data) {
    result.request_id = data.request_id;
    result.node = data.node;
    result.llm = data.llm;
    result.model = data.model;
    result.turn = data.turn;
    result.conversation = conversation = data.conversation;
  }

  function handleEvent(event) {
    if (event.type === "meta") {
      accepted(event);
    } else if (event.type === "token") {
      if (result.tokens === 0) result.timings.ttft_ms = performance.now() - result.started;
      result.tokens += 1;
      result.answer += event.text;
      answer.append(event.text);
    } else if (event.type === "done") {
      result.ollama = event.ollama;
      result.app = event.app;
      result.saved = event.saved;
    } else if (event.type === "error") {
      result.error = { code: event.code, message: event.message };
    }
  }

  async function readStream(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim()) handleEvent(JSON.parse(line));
      }
    }
  }

  async function readComplete(response) {
    const data = await response.json();
    accepted(data);
    Object.assign(result, {
      ollama: data.ollama,
      app: data.app,
      saved: data.saved,
      answer: data.answer,
      tokens: data.ollama.eval_count || 0,
    });
    answer.textContent = data.answer;
  }

  function begin(text) {
    // The previous answer joins the thread in short, unless the server refused it outright
    // (then it has no turn and is in no conversation).
    if (current.isConnected) {
      if (result && result.turn != null) {
        current.replaceWith(turnItem(asStored(result), thread.children.length));
      } else {
        current.remove();
      }
    }
    thread.append(current);
    conversationSection.hidden = false;
    historyPanel.inert = true;
    result = {
      question: text,
      model: model.value || null,
      mode: form.elements.mode.value,
      conversation,
      turn: null,
      answer: "",
      tokens: 0,
      node: null,
      llm: null,
      request_id: null,
      ollama: null,
      app: null,
      saved: null,
      error: null,
      stopped: false,
      timings: {},
      server_timing: {},
      started: performance.now(),
    };
    current.dataset.status = "streaming";
    $("asked").textContent = text;
    answer.textContent = "";
    $("turn-status").hidden = true;
    hideNotice();
    status.textContent = "";
    submitButton.disabled = true;
    stopButton.disabled = false;
    $("copy").disabled = true;
    $("export").disabled = true;
    renderTimings();
  }

  function finish() {
    result.timings.rtt_ms = performance.now() - result.started;
    controller = null;
    submitButton.disabled = false;
    stopButton.disabled = true;
    $("copy").disabled = false;
    $("export").disabled = false;
    historyPanel.inert = false;
    renderTimings();
    const stored = asStored(result);
    current.dataset.status = stored.status;
    $("turn-status").textContent = statusText(stored);
    $("turn-status").hidden = stored.status === "done";
    if (result.stopped) {
      show("notice", `Stopped after ${result.tokens} tokens arrived.`);
      status.textContent = `Stopped after ${result.tokens} tokens.`;
    } else if (result.error) {
      report(result.error);
      status.textContent = `The answer failed: ${result.error.message}`;
    } else {
      if (result.saved === false) {
        show("notice", "This answer could not be saved, so it will not be in your history.");
      }
      status.textContent = `Answer complete: ${result.tokens} tokens in ${ms(result.timings.rtt_ms)}.`;
    }
    loadHistory();
  }

  async function ask(event) {
    event.preventDefault();
    const text = question.value;
    if (controller) return;
    if (!text.trim()) {
      question.focus();
      return;
    }
    begin(text);
    controller = new AbortController();
    try {
      const response = await send("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          question: text,
          model: result.model,
          stream: result.mode === "stream",
          conversation,
        }),
        signal: controller.signal,
      });
      result.node = response.headers.get("X-Served-By");
      result.server_timing = serverTiming(response.headers.get("Server-Timing"));
      // The hops before the model are known with the headers, before the answer's first word.
      renderTimings();
      if (result.mode === "stream") {
        await readStream(response);
      } else {
        await readComplete(response);
      }
    } catch (error) {
      if (error instanceof Failure) {
        result.node = error.node || result.node;
        result.server_timing = serverTiming(error.serverTiming);
        result.error = error;
      } else if (error.name !== "AbortError") {
        result.error = new Failure("network", "The connection to the web app failed.");
      }
    }
    finish();
  }

  function exported() {
    const { started, ...data } = result;
    return JSON.stringify(data, null, 2);
  }

  form.addEventListener("submit", ask);
  question.addEventListener("keydown", (event) => {
    // keyCode 229 is Enter confirming an input-method composition in some browsers.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  stopButton.addEventListener("click", () => {
    if (!controller) return;
    result.stopped = true;
    controller.abort();
  });
  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(exported());
      status.textContent = "Result copied as JSON.";
    } catch {
      status.textContent = "Copying is not allowed here; use Download JSON.";
    }
  });
  $("export").addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([exported()], { type: "application/json" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `answer-${result.request_id || "result"}.json`;
    link.click();
    URL.revokeObjectURL(url);
  });
  $("new-conversation").addEventListener("click", newConversation);
  deleteAllButton.addEventListener("click", () => {
    // Escape keeps the last returnValue, so a cancel must not find an earlier "delete" there.
    confirmDeleteAll.returnValue = "";
    confirmDeleteAll.showModal();
  });
  confirmDeleteAll.addEventListener("close", () => {
    if (confirmDeleteAll.returnValue === "delete") deleteAll();
  });
  loadModels();
  loadHistory();
})();
