// The question page: streams an answer from /api/ask and shows where the time went.
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
  let controller = null;
  let result = null;

  const ms = (value) =>
    value == null || Number.isNaN(value)
      ? "–"
      : value < 1000
        ? `${Math.round(value)} ms`
        : `${(value / 1000).toFixed(2)} s`;
  const nsToMs = (ns) => (typeof ns === "number" ? ns / 1e6 : null);

  async function loadModels() {
    try {
      const response = await fetch("/api/models");
      const data = await response.json();
      if (!response.ok) throw new Error(data.error.message);
      model.replaceChildren(
        ...data.models.map((m) => new Option(m.name, m.name, false, m.name === data.default)),
      );
    } catch (error) {
      model.replaceChildren(new Option("(server default)", ""));
      model.title = `Models unavailable: ${error.message}`;
    }
  }

  function show(kind, text) {
    notice.className = kind;
    notice.textContent = text;
    notice.hidden = false;
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
    const parts = [
      ["load", nsToMs(o.load_duration)],
      ["prompt", nsToMs(o.prompt_eval_duration)],
      ["decode", evalMs],
    ];
    for (const [name, value] of parts) {
      // CSSOM, not a style attribute, so the strict CSP still holds.
      document.querySelector(`#split .${name}`).style.flexGrow = String(value || 0);
    }
    $("split-text").textContent = result.ollama
      ? `Model load ${ms(parts[0][1])} · prompt evaluation ${ms(parts[1][1])} · decoding ${ms(evalMs)}`
      : "";
    const llm = result.llm ? ` · LLM ${result.llm}` : "";
    $("badge").textContent = result.node ? `served by ${result.node}${llm}` : "";
  }

  function handleEvent(event) {
    if (event.type === "meta") {
      result.request_id = event.request_id;
      result.node = event.node;
      result.llm = event.llm;
      result.model = event.model;
    } else if (event.type === "token") {
      if (result.tokens === 0) result.timings.ttft_ms = performance.now() - result.started;
      result.tokens += 1;
      result.answer += event.text;
      answer.append(event.text);
    } else if (event.type === "done") {
      result.ollama = event.ollama;
      result.app = event.app;
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
    Object.assign(result, {
      request_id: data.request_id,
      node: data.node,
      llm: data.llm,
      model: data.model,
      ollama: data.ollama,
      app: data.app,
      answer: data.answer,
      tokens: data.ollama.eval_count || 0,
    });
    answer.textContent = data.answer;
  }

  function begin(text) {
    result = {
      question: text,
      model: model.value || null,
      mode: form.elements.mode.value,
      answer: "",
      tokens: 0,
      node: null,
      llm: null,
      request_id: null,
      ollama: null,
      app: null,
      error: null,
      stopped: false,
      timings: {},
      started: performance.now(),
    };
    $("result").hidden = false;
    $("asked").textContent = text;
    answer.textContent = "";
    notice.hidden = true;
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
    renderTimings();
    if (result.stopped) {
      show("notice", `Stopped after ${result.tokens} tokens arrived.`);
      status.textContent = `Stopped after ${result.tokens} tokens.`;
    } else if (result.error) {
      show("error", `${result.error.message} (${result.error.code})`);
      status.textContent = `The answer failed: ${result.error.message}`;
    } else {
      status.textContent = `Answer complete: ${result.tokens} tokens in ${ms(result.timings.rtt_ms)}.`;
    }
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
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: text, model: result.model, stream: result.mode === "stream" }),
        signal: controller.signal,
      });
      result.node = response.headers.get("X-Served-By");
      if (!response.ok) {
        const data = await response.json().catch(() => null);
        result.error = data && data.error
          ? data.error
          : { code: `http_${response.status}`, message: `The server answered ${response.status}.` };
      } else if (result.mode === "stream") {
        await readStream(response);
      } else {
        await readComplete(response);
      }
    } catch (error) {
      if (error.name !== "AbortError") {
        result.error = { code: "network", message: "The connection to the web app failed." };
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
  loadModels();
})();
