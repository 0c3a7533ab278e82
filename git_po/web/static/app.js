// git po web: the dashboard's script. Plain JavaScript, no framework, served by git po itself.
// It draws what /api/... returns and redraws when /api/events says that a ref moved (or that a
// running task's transcript grew); it never polls.
"use strict";

const CSRF = document.querySelector('meta[name="po-csrf"]').content;
const ACTIONS = {
  answer: ["blocked", "needs"],
  retry: ["failed", "blocked", "needs", "interrupted", "skipped", "complete"],
  stop: ["running", "pending"],
  pause: ["running", "pending", "interrupted"],
  unpause: ["paused"],
};
const view = { plans: [], plan: null, data: null, task: null, taskData: null, logNext: 0, logAttempt: null, tab: "log", dryKey: null };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-PO-CSRF": CSRF },
    body: JSON.stringify(body || {}),
  });
  const out = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(out.error + (out.hint ? " (" + out.hint + ")" : ""));
  return out;
}

function toast(text, bad) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ""; }, 6000);
}

function money(x) { return x ? "$" + x.toFixed(2) : "-"; }
function dur(s) {
  if (s === null || s === undefined) return "-";
  s = Math.floor(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}

// --- plans ------------------------------------------------------------------------------------

async function loadPlans() {
  view.plans = await api("/api/plans");
  const nav = document.getElementById("plans");
  nav.replaceChildren(...view.plans.map((p) =>
    el("button", { class: p.plan === view.plan ? "tab on" : "tab", "data-plan": p.plan, onclick: () => choosePlan(p.plan) },
      p.plan, el("small", {}, ` ${p.complete_count}/${p.task_count}`))));
  if (!view.plan && view.plans.length) {
    const wanted = decodeURIComponent(location.hash.slice(1)).split("/")[0];
    const found = view.plans.find((p) => p.plan === wanted);
    await choosePlan(found ? found.plan : view.plans[0].plan);
  } else if (!view.plans.length) {
    document.getElementById("plan").replaceChildren(el("p", { class: "note" }, "No plan has been started in this repository (git po start plan.toml)."));
  }
}

async function choosePlan(name) {
  view.plan = name;
  view.dryKey = null;
  document.querySelectorAll("#plans .tab").forEach((b) => b.classList.toggle("on", b.dataset.plan === name));
  await loadPlan();
}

async function loadPlan() {
  if (!view.plan) return;
  try {
    view.data = await api("/api/plans/" + encodeURIComponent(view.plan));
  } catch (err) { toast(err.message, true); return; }
  renderPlan();
}

function renderPlan() {
  const d = view.data;
  const t = d.totals;
  const counts = Object.entries(t.by_state).map(([s, n]) => el("span", { class: "pill st-" + s }, `${n} ${s}`));
  const totals = el("div", { class: "totals" },
    el("div", {}, el("b", {}, "run " + d.run.number), " ", d.run.state, d.orchestrator ? el("small", {}, ` · pid ${d.orchestrator.pid} on ${d.orchestrator.host} since ${d.orchestrator.started_at}`) : null),
    el("div", {}, "cost ", el("b", { id: "cost" }, money(t.cost_usd)),
      t.budget_usd ? [" of ", money(t.budget_usd), " · left ", el("b", {}, money(Math.max(0, t.budget_left_usd)))] : null),
    el("div", {}, "wall ", el("b", {}, dur(t.wall_s)), t.speedup ? ` · ${t.speedup}× speed-up` : null),
    el("div", { class: "counts" }, counts));
  const graph = el("div", { class: "graphbox scroll" });
  graph.innerHTML = d.graph_svg; // built and escaped by the server
  graph.querySelectorAll("g.node").forEach((g) => g.addEventListener("click", () => openTask(g.dataset.task)));
  const crit = el("p", { class: "legend" }, "critical path: ", d.critical_path.join(" → "));
  const rows = d.tasks.map((task) => el("tr", { "data-task": task.task, class: view.task === task.task ? "sel" : null, onclick: () => openTask(task.task) },
    el("td", { class: "id" }, el("a", { href: "#" + d.plan + "/" + task.task }, task.task)),
    el("td", { class: "state" }, el("span", { class: "pill st-" + task.state }, task.state)),
    el("td", { class: "num" }, task.checkpoint_count),
    el("td", { class: "subject" }, task.reason && task.state !== "complete" ? task.reason : task.last_subject || ""),
    el("td", { class: "num" }, task.attempt_count, task.attempt_classes.length ? el("small", {}, " " + task.attempt_classes.map((c, i) => `${c} (${(task.attempt_agents || [])[i] || task.agent || "?"})`).join(", ")) : null),
    el("td", { class: "num" }, money(task.cost_usd)),
    el("td", { class: "num" }, dur(task.elapsed_s)),
    el("td", { class: "num" }, task.refused_count || ""),
    el("td", {}, task.verify ? (task.verify.passed ? "passed" : "failed") : "")));
  const table = el("div", { class: "scroll" }, el("table", { class: "status" },
    el("thead", {}, el("tr", {}, ["task", "state", "ckpt", "last subject / reason", "attempts", "cost", "elapsed", "refused", "verify"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows)));
  const radar = d.radar.length
    ? el("ul", { class: "radar" }, d.radar.map((c) => el("li", {}, el("b", {}, c.tasks.join(" ↔ ")), ": ", c.files.join(", "))))
    : el("p", { class: "note" }, "No conflict predicted between live and finished tasks.");
  const integ = el("div", { class: "integrate" },
    el("button", { id: "dry-run", onclick: () => integrate(true) }, "Integrate: dry run"),
    el("button", { id: "integrate-real", disabled: view.dryKey === null, onclick: () => integrate(false) }, "Integrate for real"),
    el("pre", { id: "integrate-out", class: "out" }));
  document.getElementById("plan").replaceChildren(
    el("h2", {}, "Plan ", d.plan), totals,
    el("h3", {}, "Task graph"), graph, crit,
    el("h3", {}, "Tasks"), table,
    el("h3", {}, "Conflict radar"), radar,
    el("h3", {}, "Integrate"), integ);
  if (view.task) refreshTask();
}

async function integrate(dry) {
  const out = document.getElementById("integrate-out");
  out.textContent = dry ? "dry run…" : "integrating…";
  try {
    const r = await post("/api/plans/" + encodeURIComponent(view.plan) + "/integrate", { dry_run: dry, key: view.dryKey });
    out.textContent = r.text + (r.hint ? "\nhint: " + r.hint : "");
    view.dryKey = dry ? r.key : null;
    document.getElementById("integrate-real").disabled = view.dryKey === null;
    toast(dry ? "dry run done: nothing moved" : "integrated");
  } catch (err) { out.textContent = err.message; toast(err.message, true); }
}

// --- a task -----------------------------------------------------------------------------------

async function openTask(id) {
  if (view.task !== id) { view.logNext = 0; view.logAttempt = null; }
  view.task = id;
  history.replaceState(null, "", "#" + view.plan + "/" + id);
  document.querySelectorAll("tr[data-task]").forEach((r) => r.classList.toggle("sel", r.dataset.task === id));
  await refreshTask(true);
}

function closeTask() {
  view.task = null;
  document.getElementById("task").hidden = true;
  document.body.classList.remove("panel");
  history.replaceState(null, "", "#" + view.plan);
}

async function refreshTask(full) {
  const id = view.task;
  const base = "/api/plans/" + encodeURIComponent(view.plan) + "/tasks/" + encodeURIComponent(id);
  let t;
  try { t = await api(base); } catch (err) { toast(err.message, true); return; }
  if (view.task !== id) return;
  view.taskData = t;
  const keepLog = !full && document.getElementById("log");
  renderTask(t, keepLog ? document.getElementById("log") : null);
  await loadLog(!keepLog);
}

function actionBar(t) {
  const bar = el("div", { class: "actions" });
  const send = async (command, text) => {
    try {
      const r = await post(`/api/plans/${encodeURIComponent(view.plan)}/tasks/${encodeURIComponent(t.task)}/${command}`, { text });
      toast(r.message);
    } catch (err) { toast(err.message, true); }
  };
  if (ACTIONS.answer.includes(t.state)) {
    const box = el("textarea", { id: "answer-text", rows: 3, placeholder: "Your answer to: " + (t.reason || "") });
    bar.append(el("div", { class: "answer" }, box,
      el("button", { "data-action": "answer", onclick: () => { if (box.value.trim()) send("answer", box.value); else toast("write the answer first", true); } }, "Answer")));
  }
  for (const command of ["retry", "stop", "pause", "unpause"]) {
    if (ACTIONS[command].includes(t.state)) {
      bar.append(el("button", { "data-action": command, class: command === "stop" ? "warn" : null, onclick: () => send(command, "") }, command));
    }
  }
  const attach = el("code", { id: "attach-cmd" }, t.attach_command);
  bar.append(el("div", { class: "attach" }, attach,
    el("button", { "data-action": "copy-attach", onclick: async () => {
      try { await navigator.clipboard.writeText(t.attach_command); toast("copied: " + t.attach_command); }
      catch (err) { const r = document.createRange(); r.selectNodeContents(attach); const s = getSelection(); s.removeAllRanges(); s.addRange(r); toast("select and copy: " + t.attach_command); }
    } }, "copy")));
  return bar;
}

function renderTask(t, keepLog) {
  const panel = document.getElementById("task");
  const tabs = ["log", "commits", "diff", "verify", "history"];
  const bodies = {
    log: keepLog || el("div", { id: "log", class: "log" }),
    commits: t.commits.length
      ? el("ul", { class: "commits" }, t.commits.map((c) => el("li", {}, el("code", {}, c.oid.slice(0, 10)), " ", c.subject)))
      : el("p", { class: "note" }, "No commit since its base."),
    diff: el("pre", { class: "diff" }, t.diff ? diffLines(t.diff) : "No change against its base.", t.diff_cut ? "\n… (cut)" : ""),
    verify: el("div", {},
      t.verify ? [el("p", {}, "verify ", el("b", {}, t.verify.passed ? "passed" : "failed"), " on ", (t.verify.commit || "").slice(0, 10), " — ", t.verify.command || ""), el("pre", { class: "out" }, t.verify.output_tail || "")] : el("p", { class: "note" }, "No verify result on its head."),
      t.verify_failures.map((f) => el("div", {}, el("p", {}, `attempt ${f.attempt}: ${f.verify && f.verify.command || "verify"} failed on ${(f.commit || "").slice(0, 10)}`), el("pre", { class: "out" }, f.output_tail || "")))),
    history: el("ul", { class: "events" }, t.history.map((e) => el("li", {}, el("small", {}, e.at || ""), " ", el("b", {}, e.event), " ", e.state || "", e.reason ? " — " + e.reason : ""))),
  };
  const nav = el("nav", { class: "tabs" }, tabs.map((name) => el("button", { class: view.tab === name ? "tab on" : "tab", "data-tab": name, onclick: () => { view.tab = name; renderTask(view.taskData, document.getElementById("log")); } }, name)));
  panel.replaceChildren(...[
    el("div", { class: "head" },
      el("h2", {}, t.plan + "/" + t.task, " ", el("span", { class: "pill st-" + t.state, id: "task-state" }, t.state)),
      el("button", { class: "close", "aria-label": "close", onclick: closeTask }, "×")),
    t.reason ? el("p", { class: "reason" }, t.reason) : null,
    el("p", { class: "meta" }, `branch ${t.branch} · ${t.checkpoint_count} checkpoints · ${money(t.cost_usd)}`, t.session_id ? ` · session ${t.session_id}` : ""),
    actionBar(t), nav,
    el("div", { class: "tabbody" }, bodies[view.tab])].filter((x) => x));
  if (view.tab !== "log") panel.append(el("div", { hidden: true }, bodies.log));
  panel.hidden = false;
  document.body.classList.add("panel");
}

function diffLines(text) {
  return text.split("\n").map((line) => {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : null;
    return el("span", { class: cls }, line + "\n");
  });
}

async function loadLog(fresh) {
  const log = document.getElementById("log");
  if (!log || !view.task) return;
  const base = "/api/plans/" + encodeURIComponent(view.plan) + "/tasks/" + encodeURIComponent(view.task);
  const from = fresh ? 0 : view.logNext;
  let r;
  try { r = await api(base + "/log?from=" + from); } catch (err) { return; }
  if (fresh || r.attempt !== view.logAttempt) {
    log.replaceChildren(el("div", { class: "loghead" }, r.header));
    if (!fresh && r.attempt !== view.logAttempt) { view.logNext = 0; view.logAttempt = r.attempt; return loadLog(true); }
  }
  view.logAttempt = r.attempt;
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  for (const line of r.lines) {
    const div = document.createElement("div");
    div.className = "ll";
    div.innerHTML = line; // escaped by the server, colours as spans
    log.append(div);
  }
  for (const line of r.stderr || []) log.append(el("div", { class: "ll err" }, "stderr: " + line));
  view.logNext = r.next;
  log.classList.toggle("running", r.running);
  if (stick) log.scrollTop = log.scrollHeight;
}

// --- sessions -----------------------------------------------------------------------------------

async function loadSessions() {
  let r;
  try { r = await api("/api/sessions"); } catch (err) { return; }
  const body = document.getElementById("sessions-body");
  if (!r.sessions.length) { body.replaceChildren(el("p", { class: "note" }, "No session recorded yet.")); return; }
  body.replaceChildren(el("table", { class: "sessions" },
    el("thead", {}, el("tr", {}, ["task", "session", "attempt", "last activity", "running", "worktree"].map((h) => el("th", {}, h)))),
    el("tbody", {}, r.sessions.map((s) => el("tr", { "data-session": s.session_id },
      el("td", {}, s.plan + "/" + s.task), el("td", {}, el("code", {}, s.session_id.slice(0, 8))),
      el("td", { class: "num" }, s.attempt || "-"), el("td", {}, s.last_activity || "-"),
      el("td", {}, s.running ? "pid " + s.pid : "no"), el("td", { class: "path" }, s.worktree || "-"))))));
}

// --- live ---------------------------------------------------------------------------------------

let pending = null;
function soon(fn) {
  clearTimeout(pending);
  pending = setTimeout(fn, 30);
}

function connect() {
  const live = document.getElementById("live");
  const es = new EventSource("/api/events");
  es.addEventListener("hello", () => { live.textContent = "live"; live.className = "live on"; });
  es.addEventListener("refs", (ev) => {
    const plans = JSON.parse(ev.data).plans;
    soon(async () => {
      const mine = view.plan && (plans.includes(view.plan) || plans.includes("*"));
      await Promise.all([loadPlans(), mine ? loadPlan() : null]);
      loadSessions();
    });
  });
  es.addEventListener("log", (ev) => {
    const key = JSON.parse(ev.data).task;
    if (view.task && key === view.plan + "/" + view.task) loadLog(false);
  });
  es.onerror = () => { live.textContent = "reconnecting"; live.className = "live off"; };
}

window.addEventListener("keydown", (e) => { if (e.key === "Escape" && view.task) closeTask(); });

(async function main() {
  await loadPlans();
  const [, task] = decodeURIComponent(location.hash.slice(1)).split("/");
  if (task && view.data && view.data.tasks.some((t) => t.task === task)) await openTask(task);
  loadSessions();
  connect();
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "1";
})();
