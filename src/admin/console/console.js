// Keygate admin console: the "Settings → API keys" panel, talking to the
// admin API of the Worker that serves it. Plain JavaScript, no framework, no
// build step, no request to any other host. The page runs under a strict
// Content-Security-Policy, so nothing here uses inline styles or HTML strings:
// the DOM is built node by node and styled through classes or the CSSOM.
"use strict";

(() => {
  const ADMIN_PREFIX = document.body.dataset.adminPrefix || "/_keygate";
  const API = `${ADMIN_PREFIX}/v1`;
  const STORAGE_KEY = "keygate.console.credential";
  const KEY_PATTERN = /^[a-z][a-z0-9]{1,15}_(sk|pk)_[0-9A-Za-z]{49}$/;
  const PAGE_SIZE = 20;
  const MAX_GRACE_SECONDS = 7 * 86400;
  const BUILT_IN_SCOPES = ["read:all", "write:all", "delete:all", "admin"];
  const PUBLISHABLE_FORBIDDEN = ["write:all", "delete:all", "admin"];

  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    mode: null, // "operator" (admin token) or "owner" (an owner's admin key)
    owner: null, // the owner of the admin key, in owner mode
    q: "",
    ownerFilter: "",
    cursors: [null], // cursors[i] opens page i
    page: 0,
    nextCursor: null,
    keys: [],
    current: null, // the record shown in the detail dialog
    usage: null,
    formMode: "create",
    editing: null,
  };

  // ---------------------------------------------------------------------
  // Admin API

  class ApiError extends Error {
    constructor(message, { status = 0, code = "", requestId = "" } = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.requestId = requestId;
    }
  }

  /** Calls the admin API; resolves to the JSON body, rejects with the problem's detail. */
  async function api(method, path, body) {
    const headers = { Accept: "application/json, application/problem+json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch (error) {
      throw new ApiError(`The gateway could not be reached (${error.message}).`);
    }
    const requestId = response.headers.get("X-Request-Id") || "";
    if (response.status === 204) return null;
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) {
      const detail =
        (json && (json.detail || json.title)) ||
        `The gateway answered ${response.status} ${response.statusText}`.trim();
      throw new ApiError(detail, {
        status: response.status,
        code: (json && json.code) || "",
        requestId: (json && json.request_id) || requestId,
      });
    }
    if (json === null) throw new ApiError(`The gateway answered ${response.status} without a JSON body.`, { status: response.status, requestId });
    return json;
  }

  // ---------------------------------------------------------------------
  // Small DOM helpers

  /** Creates an element: h("td", {class: "x", dataset: {label: "Name"}}, "text", child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name === "text") el.textContent = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (name === "class") el.setAttribute("class", value);
      else if (name === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** Shows an error (an ApiError's detail, code and request id) in an alert element. */
  function showError(el, error) {
    el.replaceChildren();
    const message = error && error.message ? error.message : String(error);
    el.append(h("span", { class: "alert-detail" }, message));
    const extra = [];
    if (error && error.status) extra.push(`${error.status}${error.code ? ` ${error.code}` : ""}`);
    if (error && error.requestId) extra.push(`request ${error.requestId}`);
    if (extra.length) el.append(" ", h("span", { class: "alert-meta" }, `(${extra.join(", ")})`));
    el.hidden = false;
  }

  function clearError(el) {
    el.hidden = true;
    el.replaceChildren();
  }

  let statusTimer = null;
  function announce(el, message) {
    el.textContent = message;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => {
      if (el.textContent === message) el.textContent = "";
    }, 6000);
  }

  /** Disables a button while `task` runs. */
  async function busy(button, task) {
    const buttons = Array.isArray(button) ? button : [button];
    for (const b of buttons) {
      b.disabled = true;
      b.setAttribute("aria-busy", "true");
    }
    try {
      return await task();
    } finally {
      for (const b of buttons) {
        b.disabled = false;
        b.removeAttribute("aria-busy");
      }
    }
  }

  // ---------------------------------------------------------------------
  // Formatting

  const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const numberFormat = new Intl.NumberFormat();

  function timeEl(iso, { relative = false, dateOnly = false } = {}) {
    const ms = Date.parse(iso);
    if (!iso || Number.isNaN(ms)) return document.createTextNode(iso || "—");
    const text = relative ? relativeTime(ms) : (dateOnly ? dateFormat : dateTimeFormat).format(ms);
    return h("time", { datetime: iso, title: dateTimeFormat.format(ms), class: "nowrap" }, text);
  }

  function relativeTime(ms) {
    const seconds = Math.round((ms - Date.now()) / 1000);
    const abs = Math.abs(seconds);
    if (abs < 45) return "just now";
    if (abs < 3600) return relativeFormat.format(Math.round(seconds / 60), "minute");
    if (abs < 86400) return relativeFormat.format(Math.round(seconds / 3600), "hour");
    if (abs < 30 * 86400) return relativeFormat.format(Math.round(seconds / 86400), "day");
    return dateFormat.format(ms);
  }

  function duration(seconds) {
    const units = [
      [86400, "day"],
      [3600, "hour"],
      [60, "minute"],
      [1, "second"],
    ];
    for (const [size, unit] of units) {
      if (seconds % size === 0) {
        const n = seconds / size;
        return n === 1 ? unit : `${numberFormat.format(n)} ${unit}s`;
      }
    }
    return `${seconds} seconds`;
  }

  function keyStatus(record) {
    if (record.expires_at && Date.parse(record.expires_at) <= Date.now()) return "expired";
    return record.enabled ? "active" : "disabled";
  }

  function statusBadge(status) {
    return h("span", { class: `badge badge-${status}` }, status);
  }

  function displayName(record) {
    return record.name || "Untitled key";
  }

  // ---------------------------------------------------------------------
  // Session: the credential lives in memory and in this tab's sessionStorage

  function remember(token) {
    try {
      if (token) sessionStorage.setItem(STORAGE_KEY, token);
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Storage blocked: the credential stays in memory only.
    }
  }

  function remembered() {
    try {
      return sessionStorage.getItem(STORAGE_KEY);
    } catch {
      return null;
    }
  }

  async function signIn(token, { restoring = false } = {}) {
    const errorEl = $("signin-error");
    clearError(errorEl);
    state.token = token;
    state.mode = KEY_PATTERN.test(token) ? "owner" : "operator";
    try {
      const first = await api("GET", "/keys?limit=1");
      state.owner = state.mode === "owner" && first.keys.length ? first.keys[0].owner : null;
    } catch (error) {
      state.token = null;
      state.mode = null;
      remember(null);
      showSignIn();
      showError(errorEl, restoring ? new ApiError(`Your session ended: ${error.message}`, error) : error);
      $("signin-token").focus();
      return false;
    }
    remember(token);
    $("signin-token").value = "";
    resetPaging();
    state.q = "";
    state.ownerFilter = "";
    $("search-q").value = "";
    $("owner-filter").value = "";
    showPanel();
    await loadKeys();
    return true;
  }

  function signOut(message) {
    state.token = null;
    state.mode = null;
    state.owner = null;
    state.keys = [];
    state.current = null;
    state.usage = null;
    remember(null);
    for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
    $("secret-key").value = "";
    $("secret-signing").value = "";
    $("keys-body").replaceChildren();
    showSignIn();
    if (message) showError($("signin-error"), message);
    else clearError($("signin-error"));
    $("signin-token").focus();
  }

  function showSignIn() {
    $("keys-view").hidden = true;
    $("session").hidden = true;
    $("signin-view").hidden = false;
  }

  function showPanel() {
    $("signin-view").hidden = true;
    $("keys-view").hidden = false;
    $("session").hidden = false;
    $("session-who").textContent =
      state.mode === "operator" ? "Admin token · all owners" : `Admin key · owner ${state.owner || "unknown"}`;
    $("owner-form").hidden = state.mode !== "operator";
    for (const th of document.querySelectorAll(".col-owner")) th.hidden = state.mode !== "operator";
    clearError($("panel-error"));
  }

  /** A 401 after sign-in (token rotated, admin key revoked): back to the sign-in form. */
  function handleAuthFailure(error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut(new ApiError(`Signed out: ${error.message}`, error));
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------
  // Key list

  function resetPaging() {
    state.cursors = [null];
    state.page = 0;
    state.nextCursor = null;
  }

  async function loadKeys() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.q) params.set("q", state.q);
    if (state.mode === "operator" && state.ownerFilter) params.set("owner", state.ownerFilter);
    const cursor = state.cursors[state.page];
    if (cursor) params.set("cursor", cursor);
    const table = $("keys-table");
    table.setAttribute("aria-busy", "true");
    try {
      const page = await api("GET", `/keys?${params}`);
      state.keys = Array.isArray(page.keys) ? page.keys : [];
      state.nextCursor = page.next_cursor || null;
      clearError($("panel-error"));
      renderKeys();
    } catch (error) {
      if (!handleAuthFailure(error)) showError($("panel-error"), error);
    } finally {
      table.removeAttribute("aria-busy");
    }
  }

  function renderKeys() {
    const body = $("keys-body");
    const showOwner = state.mode === "operator";
    const rows = state.keys.map((record) => {
      const status = keyStatus(record);
      const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);
      const ownerCell = cell("Owner", record.owner);
      ownerCell.classList.add("col-owner");
      ownerCell.hidden = !showOwner;
      return h(
        "tr",
        { dataset: { keyId: record.id, status } },
        h(
          "td",
          { class: "cell-name", dataset: { label: "Name" } },
          h(
            "button",
            {
              type: "button",
              class: "link",
              "aria-label": `${displayName(record)}: details`,
              onclick: () => openDetail(record.id),
            },
            displayName(record),
          ),
        ),
        h(
          "td",
          { class: "cell-description", dataset: { label: "Description" } },
          record.description ? h("span", { class: "clamp", title: record.description }, record.description) : h("span", { class: "muted" }, "—"),
        ),
        cell("Key", h("code", { class: "prefix" }, `${record.prefix}…`)),
        cell("Kind", h("span", { class: `kind kind-${record.kind}` }, record.kind)),
        ownerCell,
        cell("Created", timeEl(record.created_at, { dateOnly: true })),
        cell("Expires", record.expires_at ? timeEl(record.expires_at, { dateOnly: true }) : h("span", { class: "muted" }, "Never")),
        cell("Status", statusBadge(status)),
        cell("Last used", record.last_used_at ? timeEl(record.last_used_at, { relative: true }) : h("span", { class: "muted" }, "Never")),
      );
    });
    body.replaceChildren(...rows);

    const empty = $("keys-empty");
    empty.hidden = rows.length > 0;
    if (!rows.length) {
      if (state.q) empty.textContent = `No keys match “${state.q}”.`;
      else if (state.page > 0) empty.textContent = "No more keys.";
      else empty.textContent = "No keys yet. Create one to get started.";
    }
    const first = state.page * PAGE_SIZE + 1;
    const last = state.page * PAGE_SIZE + rows.length;
    let info = rows.length ? `Keys ${first}–${last}, oldest first` : "";
    if (state.q && rows.length) info += ` · matching “${state.q}”`;
    if (state.mode === "operator" && state.ownerFilter) info += ` · owner ${state.ownerFilter}`;
    $("page-info").textContent = info;
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = !state.nextCursor;
  }

  // ---------------------------------------------------------------------
  // Dialogs

  function openDialog(dialog, focusEl) {
    if (!dialog.open) dialog.showModal();
    const target = focusEl || dialog.querySelector("input:not([type=hidden]):not([disabled]), select, textarea, button");
    if (target) target.focus();
  }

  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }

  // ---------------------------------------------------------------------
  // Create and edit

  const form = $("key-form");
  const scopeBoxes = () => [...form.querySelectorAll('input[name="scope"]')];
  const selectedKind = () => form.querySelector('input[name="kind"]:checked').value;

  function splitList(text) {
    return text
      .split(/[\s,]+/)
      .map((item) => item.trim())
      .filter(Boolean);
  }

  function applyKindRules(kind, { resetDefaults }) {
    for (const box of scopeBoxes()) {
      const forbidden = kind === "publishable" && PUBLISHABLE_FORBIDDEN.includes(box.value);
      box.disabled = forbidden;
      if (forbidden) box.checked = false;
      if (resetDefaults) {
        box.checked = kind === "publishable" ? box.value === "read:all" : box.value !== "admin";
      }
    }
  }

  for (const radio of form.querySelectorAll('input[name="kind"]')) {
    radio.addEventListener("change", () => applyKindRules(selectedKind(), { resetDefaults: true }));
  }

  function openKeyForm(mode, record) {
    state.formMode = mode;
    state.editing = record || null;
    form.reset();
    clearError($("key-form-error"));
    const editing = mode === "edit";
    $("key-dialog-title").textContent = editing ? `Edit ${displayName(record)}` : "Create API key";
    $("key-form-submit").textContent = editing ? "Save changes" : "Create key";
    $("kf-owner-field").hidden = editing || state.mode !== "operator";
    for (const radio of form.querySelectorAll('input[name="kind"]')) radio.disabled = editing;
    if (editing) {
      $("kf-name").value = record.name;
      $("kf-description").value = record.description;
      for (const radio of form.querySelectorAll('input[name="kind"]')) radio.checked = radio.value === record.kind;
      applyKindRules(record.kind, { resetDefaults: false });
      for (const box of scopeBoxes()) box.checked = record.scopes.includes(box.value);
      $("kf-grants").value = record.scopes.filter((scope) => !BUILT_IN_SCOPES.includes(scope)).join(", ");
      $("kf-domains").value = record.allowed_domains.join("\n");
      $("kf-rl-limit").value = record.rate_limit ? record.rate_limit.limit : "";
      $("kf-rl-period").value = record.rate_limit ? record.rate_limit.period_seconds : "";
      $("kf-cr-remaining").value = record.credits ? record.credits.remaining : "";
      $("kf-cr-amount").value = record.credits && record.credits.refill ? record.credits.refill.amount : "";
      $("kf-cr-interval").value = record.credits && record.credits.refill ? record.credits.refill.interval_seconds : "";
      $("kf-expires").value = record.expires_at ? record.expires_at.slice(0, 10) : "";
      $("kf-signature").checked = record.require_signature;
    } else {
      $("kf-owner").value = state.mode === "operator" ? state.ownerFilter : "";
      applyKindRules("secret", { resetDefaults: true });
    }
    const dialog = $("key-dialog");
    openDialog(dialog, !editing && state.mode === "operator" && !$("kf-owner").value ? $("kf-owner") : $("kf-name"));
  }

  class FormError extends Error {}

  /** Reads a whole-number field: null when empty, a FormError when not a number >= min. */
  function intField(id, label, min) {
    const input = $(id);
    if (input.validity.badInput) throw new FormError(`${label} must be a whole number.`);
    const text = input.value.trim();
    if (text === "") return null;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min) throw new FormError(`${label} must be a whole number of at least ${min}.`);
    return n;
  }

  /** The settings the form describes, in the admin API's shapes. */
  function readKeyForm() {
    const scopes = [];
    for (const box of scopeBoxes()) if (box.checked && !box.disabled) scopes.push(box.value);
    for (const grant of splitList($("kf-grants").value)) if (!scopes.includes(grant)) scopes.push(grant);

    const rlLimit = intField("kf-rl-limit", "Rate limit requests", 1);
    const rlPeriod = intField("kf-rl-period", "Rate limit period", 1);
    if (rlLimit === null && rlPeriod !== null) throw new FormError("Enter how many requests the rate limit allows, or clear the period.");
    const rateLimit = rlLimit === null ? null : { limit: rlLimit, period_seconds: rlPeriod ?? 1 };

    const remaining = intField("kf-cr-remaining", "Remaining credits", 0);
    const amount = intField("kf-cr-amount", "Refill amount", 1);
    const interval = intField("kf-cr-interval", "Refill interval", 1);
    if ((amount === null) !== (interval === null)) throw new FormError("A refill needs both an amount and an interval in seconds.");
    if (remaining === null && amount !== null) throw new FormError("Set the remaining credits to use a refill.");
    const credits =
      remaining === null ? null : { remaining, refill: amount === null ? null : { amount, interval_seconds: interval } };

    const expiresDate = $("kf-expires").value;
    if ($("kf-expires").validity.badInput) throw new FormError("The expiry date is not a valid date.");
    return {
      owner: $("kf-owner").value.trim(),
      name: $("kf-name").value.trim(),
      description: $("kf-description").value.trim(),
      kind: selectedKind(),
      scopes,
      allowed_domains: splitList($("kf-domains").value),
      rate_limit: rateLimit,
      credits,
      expires_date: expiresDate,
      require_signature: $("kf-signature").checked,
    };
  }

  const sameJson = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const sorted = (list) => [...list].sort();
  const normalizeCredits = (credits) =>
    credits ? { remaining: credits.remaining, refill: credits.refill ? { amount: credits.refill.amount, interval_seconds: credits.refill.interval_seconds } : null } : null;

  function createBody(values) {
    const body = {
      name: values.name,
      description: values.description,
      kind: values.kind,
      require_signature: values.require_signature,
    };
    if (state.mode === "operator") body.owner = values.owner;
    if (values.scopes.length) body.scopes = values.scopes;
    if (values.allowed_domains.length) body.allowed_domains = values.allowed_domains;
    if (values.rate_limit) body.rate_limit = values.rate_limit;
    if (values.credits) {
      body.credits = { remaining: values.credits.remaining };
      if (values.credits.refill) body.credits.refill = values.credits.refill;
    }
    if (values.expires_date) body.expires_at = `${values.expires_date}T23:59:59Z`;
    return body;
  }

  /** Only what changed, so an untouched setting (such as live credits) is left alone. */
  function patchBody(values, record) {
    const patch = {};
    if (values.name !== record.name) patch.name = values.name;
    if (values.description !== record.description) patch.description = values.description;
    if (!sameJson(sorted(values.scopes), sorted(record.scopes))) patch.scopes = values.scopes;
    if (!sameJson(values.allowed_domains, record.allowed_domains)) patch.allowed_domains = values.allowed_domains;
    if (!sameJson(values.rate_limit, record.rate_limit || null)) patch.rate_limit = values.rate_limit;
    if (!sameJson(values.credits, normalizeCredits(record.credits))) {
      patch.credits = values.credits && {
        remaining: values.credits.remaining,
        ...(values.credits.refill ? { refill: values.credits.refill } : {}),
      };
    }
    const recordDate = record.expires_at ? record.expires_at.slice(0, 10) : "";
    if (values.expires_date !== recordDate) patch.expires_at = values.expires_date ? `${values.expires_date}T23:59:59Z` : null;
    if (values.require_signature !== record.require_signature) patch.require_signature = values.require_signature;
    return patch;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errorEl = $("key-form-error");
    clearError(errorEl);
    let values;
    try {
      values = readKeyForm();
    } catch (error) {
      showError(errorEl, error);
      return;
    }
    await busy($("key-form-submit"), async () => {
      try {
        if (state.formMode === "create") {
          const created = await api("POST", "/keys", createBody(values));
          $("key-dialog").close();
          announce($("panel-status"), `Key “${displayName(created)}” created.`);
          showSecrets({ title: "Save your new key", key: created.key, signingSecret: created.signing_secret });
          await loadKeys();
        } else {
          const record = state.editing;
          const patch = patchBody(values, record);
          if (!Object.keys(patch).length) {
            $("key-dialog").close();
            announce($("detail-status"), "Nothing changed.");
            return;
          }
          const updated = await api("PATCH", `/keys/${encodeURIComponent(record.id)}`, patch);
          $("key-dialog").close();
          const { signing_secret: signingSecret, ...fresh } = updated;
          state.current = fresh;
          renderDetail();
          announce($("detail-status"), "Changes saved.");
          if (signingSecret) showSecrets({ title: "Save the signing secret", signingSecret });
          await loadKeys();
        }
      } catch (error) {
        if (!handleAuthFailure(error)) showError(errorEl, error);
      }
    });
  });

  $("key-dialog").addEventListener("close", () => {
    state.editing = null;
  });

  // ---------------------------------------------------------------------
  // Secrets, shown once

  function showSecrets({ title, key, signingSecret }) {
    $("secret-title").textContent = title;
    $("secret-key").value = key || "";
    $("secret-key").closest(".field").hidden = !key;
    $("secret-signing").value = signingSecret || "";
    $("secret-signing-field").hidden = !signingSecret;
    $("secret-copied").textContent = "";
    $("secret-key-copy").textContent = "Copy";
    $("secret-signing-copy").textContent = "Copy";
    clearError($("secret-error"));
    openDialog($("secret-dialog"), key ? $("secret-key-copy") : $("secret-signing-copy"));
  }

  async function copy(input, button, what) {
    clearError($("secret-error"));
    try {
      if (!navigator.clipboard || !navigator.clipboard.writeText) throw new Error("the clipboard is not available on this page");
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
      announce($("secret-copied"), `${what} copied to the clipboard.`);
      setTimeout(() => {
        button.textContent = "Copy";
      }, 2500);
    } catch (error) {
      input.focus();
      input.select();
      showError($("secret-error"), new Error(`Could not copy automatically (${error.message}). The ${what.toLowerCase()} is selected: press Ctrl+C (⌘C on a Mac).`));
    }
  }

  $("secret-key-copy").addEventListener("click", () => copy($("secret-key"), $("secret-key-copy"), "Key"));
  $("secret-signing-copy").addEventListener("click", () =>
    copy($("secret-signing"), $("secret-signing-copy"), "Signing secret"),
  );
  // The secret leaves the page when the dialog closes.
  function forgetSecrets() {
    $("secret-key").value = "";
    $("secret-signing").value = "";
  }
  $("secret-done").addEventListener("click", () => {
    forgetSecrets();
    $("secret-dialog").close();
  });
  $("secret-dialog").addEventListener("close", forgetSecrets);
  // Escape does not dismiss it by accident: "I have saved it" does.
  $("secret-dialog").addEventListener("cancel", (event) => event.preventDefault());
  for (const input of [$("secret-key"), $("secret-signing")]) {
    input.addEventListener("focus", () => input.select());
  }

  // ---------------------------------------------------------------------
  // Key detail

  async function openDetail(id) {
    clearError($("panel-error"));
    try {
      state.current = await api("GET", `/keys/${encodeURIComponent(id)}`);
    } catch (error) {
      if (!handleAuthFailure(error)) showError($("panel-error"), error);
      if (error.status === 404) await loadKeys();
      return;
    }
    state.usage = null;
    clearError($("detail-error"));
    $("detail-status").textContent = "";
    renderDetail();
    renderUsage();
    openDialog($("detail-dialog"), $("detail-edit"));
    await loadUsage();
  }

  function fact(label, ...value) {
    return [h("dt", {}, label), h("dd", {}, ...value)];
  }

  function chips(list, empty) {
    if (!list.length) return h("span", { class: "muted" }, empty);
    return h("span", { class: "chips" }, list.map((item) => h("code", { class: "chip" }, item)));
  }

  function renderDetail() {
    const record = state.current;
    if (!record) return;
    const status = keyStatus(record);
    $("detail-title").replaceChildren(displayName(record), " ", statusBadge(status));
    const toggle = $("detail-toggle");
    toggle.textContent = record.enabled ? "Disable" : "Enable";
    const credits = record.credits
      ? `${numberFormat.format(record.credits.remaining)} left` +
        (record.credits.refill
          ? `, refilled to ${numberFormat.format(record.credits.refill.amount)} every ${duration(record.credits.refill.interval_seconds)}`
          : ", no refill")
      : "Unlimited";
    const facts = [
      fact("Key", h("code", { class: "prefix" }, `${record.prefix}…`)),
      fact("ID", h("code", {}, record.id)),
      fact("Owner", record.owner),
      fact("Description", record.description || h("span", { class: "muted" }, "—")),
      fact("Kind", h("span", { class: `kind kind-${record.kind}` }, record.kind)),
      fact("Scopes", chips(record.scopes, "none")),
      fact("Allowed domains", chips(record.allowed_domains, record.kind === "publishable" ? "Any origin (set domains for browser keys)" : "Any origin")),
      fact(
        "Rate limit",
        record.rate_limit
          ? `${numberFormat.format(record.rate_limit.limit)} requests per ${duration(record.rate_limit.period_seconds)}`
          : record.plan
            ? `From plan ${record.plan}`
            : "Gateway default",
      ),
      fact("Credits", credits),
      record.plan ? fact("Plan", record.plan) : [],
      fact("Signed requests", record.require_signature ? "Required" : "Not required"),
      fact("Expires", record.expires_at ? timeEl(record.expires_at) : "Never"),
      fact("Created", timeEl(record.created_at)),
      fact("Updated", timeEl(record.updated_at)),
      fact("Last used", record.last_used_at ? timeEl(record.last_used_at) : "Never"),
      record.metadata && Object.keys(record.metadata).length
        ? fact("Metadata", h("code", { class: "metadata" }, JSON.stringify(record.metadata)))
        : [],
    ];
    $("detail-facts").replaceChildren(...facts.flat());
  }

  $("detail-edit").addEventListener("click", () => openKeyForm("edit", state.current));

  $("detail-toggle").addEventListener("click", async () => {
    const record = state.current;
    const errorEl = $("detail-error");
    clearError(errorEl);
    await busy($("detail-toggle"), async () => {
      try {
        const { signing_secret: _unused, ...updated } = await api("PATCH", `/keys/${encodeURIComponent(record.id)}`, {
          enabled: !record.enabled,
        });
        state.current = updated;
        renderDetail();
        announce($("detail-status"), updated.enabled ? "Key enabled: it works again." : "Key disabled: requests with it get 423 Locked.");
        await loadKeys();
      } catch (error) {
        if (!handleAuthFailure(error)) showError(errorEl, error);
      }
    });
    $("detail-toggle").focus();
  });

  $("detail-roll").addEventListener("click", () => {
    $("roll-name").textContent = displayName(state.current);
    $("roll-grace").value = "0";
    clearError($("roll-error"));
    openDialog($("roll-dialog"), $("roll-grace"));
  });

  $("roll-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const errorEl = $("roll-error");
    clearError(errorEl);
    let grace;
    try {
      grace = intField("roll-grace", "The grace period", 0) ?? 0;
      if (grace > MAX_GRACE_SECONDS) throw new FormError(`The grace period is at most ${MAX_GRACE_SECONDS} seconds (7 days).`);
    } catch (error) {
      showError(errorEl, error);
      return;
    }
    const record = state.current;
    await busy($("roll-confirm"), async () => {
      try {
        const rolled = await api("POST", `/keys/${encodeURIComponent(record.id)}/roll`, { grace_seconds: grace });
        $("roll-dialog").close();
        const { key, signing_secret: signingSecret, ...fresh } = rolled;
        state.current = fresh;
        renderDetail();
        announce(
          $("detail-status"),
          grace ? `Key rolled. The old key keeps working for ${duration(grace)}.` : "Key rolled. The old key no longer works.",
        );
        showSecrets({ title: "Save your new key", key, signingSecret });
        await loadKeys();
      } catch (error) {
        if (!handleAuthFailure(error)) showError(errorEl, error);
      }
    });
  });

  $("detail-revoke").addEventListener("click", () => {
    $("revoke-name").textContent = displayName(state.current);
    $("revoke-prefix").textContent = `${state.current.prefix}…`;
    clearError($("revoke-error"));
    // The safe choice has the focus.
    openDialog($("revoke-dialog"), $("revoke-cancel"));
  });

  $("revoke-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const record = state.current;
    const errorEl = $("revoke-error");
    clearError(errorEl);
    await busy($("revoke-confirm"), async () => {
      try {
        await api("DELETE", `/keys/${encodeURIComponent(record.id)}`);
        $("revoke-dialog").close();
        $("detail-dialog").close();
        state.current = null;
        announce($("panel-status"), `Key “${displayName(record)}” revoked.`);
        await loadKeys();
      } catch (error) {
        if (!handleAuthFailure(error)) showError(errorEl, error);
      }
    });
  });

  // ---------------------------------------------------------------------
  // Usage chart: stacked bars of requests by outcome, as inline SVG

  const OUTCOME_COLORS = {
    allowed: "#16a34a",
    key_disabled: "#d97706",
    rate_limited: "#ea580c",
    credits_exhausted: "#9333ea",
    insufficient_scope: "#dc2626",
    domain_not_allowed: "#db2777",
    invalid_signature: "#7c2d12",
    expired_key: "#64748b",
    invalid_key: "#475569",
    origin_unreachable: "#0e7490",
    origin_timeout: "#0369a1",
  };
  const FALLBACK_COLORS = ["#2563eb", "#0d9488", "#a16207", "#be123c", "#4f46e5", "#65a30d"];

  function outcomeColor(outcome) {
    if (OUTCOME_COLORS[outcome]) return OUTCOME_COLORS[outcome];
    let hash = 0;
    for (const ch of outcome) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return FALLBACK_COLORS[hash % FALLBACK_COLORS.length];
  }

  function outcomeOrder(a, b) {
    if (a === b) return 0;
    if (a === "allowed") return -1;
    if (b === "allowed") return 1;
    return a < b ? -1 : 1;
  }

  const RANGES = {
    hour: { label: "last 60 minutes", source: "minutes", step: 60_000, count: 60 },
    day: { label: "last 24 hours", source: "hours", step: 3_600_000, count: 24 },
    month: { label: "last 30 days", source: "hours", step: 86_400_000, count: 30 },
  };

  async function loadUsage() {
    const record = state.current;
    if (!record) return;
    const errorEl = $("detail-error");
    try {
      const usage = await api("GET", `/keys/${encodeURIComponent(record.id)}/usage`);
      if (state.current && state.current.id === record.id) {
        state.usage = usage;
        renderUsage();
      }
    } catch (error) {
      if (!handleAuthFailure(error)) showError(errorEl, new ApiError(`Usage could not be loaded: ${error.message}`, error));
    }
  }

  /** The buckets of the chosen range, oldest first: [{start, counts}] with zeros filled in. */
  function bucketsFor(usage, range) {
    const spec = RANGES[range];
    const source = Array.isArray(usage[spec.source]) ? usage[spec.source] : [];
    const byStart = new Map();
    let latest = Date.now();
    for (const bucket of source) {
      const ms = Date.parse(bucket.start);
      if (Number.isNaN(ms)) continue;
      const start = Math.floor(ms / spec.step) * spec.step;
      latest = Math.max(latest, ms);
      const counts = byStart.get(start) || {};
      for (const [outcome, n] of Object.entries(bucket.counts || {})) counts[outcome] = (counts[outcome] || 0) + Number(n || 0);
      byStart.set(start, counts);
    }
    const end = Math.floor(latest / spec.step) * spec.step;
    const buckets = [];
    for (let i = spec.count - 1; i >= 0; i--) {
      const start = end - i * spec.step;
      buckets.push({ start, counts: byStart.get(start) || {} });
    }
    return buckets;
  }

  function niceMax(value) {
    if (value <= 4) return Math.max(1, value);
    const magnitude = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
    return 10 * magnitude;
  }

  function bucketLabel(ms, range) {
    const d = new Date(ms);
    if (range === "month") return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function renderUsage() {
    const chart = $("usage-chart");
    const legend = $("usage-legend");
    const totalsEl = $("usage-totals");
    const usage = state.usage;
    if (!usage) {
      chart.replaceChildren(h("p", { class: "muted chart-loading" }, "Loading usage…"));
      legend.replaceChildren();
      totalsEl.textContent = "";
      return;
    }
    const range = $("usage-range").value;
    const spec = RANGES[range];
    const buckets = bucketsFor(usage, range);
    const outcomes = new Set();
    for (const bucket of buckets) for (const outcome of Object.keys(bucket.counts)) outcomes.add(outcome);
    const totals = usage.totals || {};
    for (const outcome of Object.keys(totals)) outcomes.add(outcome);
    const ordered = [...outcomes].sort(outcomeOrder);

    const sums = buckets.map((bucket) => Object.values(bucket.counts).reduce((a, b) => a + b, 0));
    const rangeTotal = sums.reduce((a, b) => a + b, 0);
    const rangeByOutcome = {};
    for (const bucket of buckets)
      for (const [outcome, n] of Object.entries(bucket.counts)) rangeByOutcome[outcome] = (rangeByOutcome[outcome] || 0) + n;

    const width = Math.max(280, Math.floor(chart.clientWidth || 640));
    const height = 180;
    const pad = { left: 40, right: 8, top: 10, bottom: 24 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const yMax = niceMax(Math.max(0, ...sums));
    const y = (v) => pad.top + plotH - (v / yMax) * plotH;
    const slot = plotW / buckets.length;
    const barW = Math.max(1, Math.min(24, slot * 0.72));

    const summary = rangeTotal
      ? ordered
          .filter((outcome) => rangeByOutcome[outcome])
          .map((outcome) => `${rangeByOutcome[outcome]} ${outcome.replace(/_/g, " ")}`)
          .join(", ")
      : "no requests";
    const svg = s("svg", {
      class: "chart-svg",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `Requests by outcome, ${spec.label}: ${summary}.`,
      dataset: { total: rangeTotal, range },
    });
    // Grid and y axis labels.
    for (const v of [0, yMax / 2, yMax]) {
      if (v !== Math.round(v)) continue;
      svg.append(
        s("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
        s("text", { class: "axis", x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, numberFormat.format(v)),
      );
    }
    // Stacked bars.
    buckets.forEach((bucket, index) => {
      const x = pad.left + index * slot + (slot - barW) / 2;
      let base = 0;
      for (const outcome of ordered) {
        const n = bucket.counts[outcome] || 0;
        if (!n) continue;
        const top = y(base + n);
        const rect = s(
          "rect",
          {
            class: "bar",
            x: x.toFixed(2),
            y: top.toFixed(2),
            width: barW.toFixed(2),
            height: Math.max(1, y(base) - top).toFixed(2),
            fill: outcomeColor(outcome),
            dataset: { outcome, count: n, start: new Date(bucket.start).toISOString() },
          },
          s("title", {}, `${bucketLabel(bucket.start, range)} · ${outcome.replace(/_/g, " ")}: ${numberFormat.format(n)}`),
        );
        svg.append(rect);
        base += n;
      }
    });
    // X axis labels: first, middle, last bucket.
    const labelAt = (index, anchor) =>
      s(
        "text",
        { class: "axis", x: pad.left + index * slot + slot / 2, y: height - 6, "text-anchor": anchor },
        bucketLabel(buckets[index].start, range),
      );
    svg.append(
      s("line", { class: "baseline", x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0) }),
      labelAt(0, "start"),
      labelAt(Math.floor(buckets.length / 2), "middle"),
      labelAt(buckets.length - 1, "end"),
    );
    if (!rangeTotal) {
      svg.append(
        s("text", { class: "empty-label", x: pad.left + plotW / 2, y: pad.top + plotH / 2, "text-anchor": "middle" }, `No requests in the ${spec.label}`),
      );
    }
    chart.replaceChildren(svg);

    // Legend: all-time totals by outcome.
    const legendItems = ordered.map((outcome) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.backgroundColor = outcomeColor(outcome);
      const total = Number(totals[outcome] || 0);
      return h(
        "li",
        { dataset: { outcome, count: total } },
        swatch,
        h("span", { class: "legend-label" }, outcome.replace(/_/g, " ")),
        h("strong", {}, numberFormat.format(total)),
      );
    });
    legend.replaceChildren(...legendItems);

    const allTime = Object.values(totals).reduce((a, b) => a + Number(b || 0), 0);
    const parts = [
      `${numberFormat.format(rangeTotal)} ${rangeTotal === 1 ? "request" : "requests"} in the ${spec.label}`,
      `${numberFormat.format(allTime)} in total`,
    ];
    if (usage.credits_remaining !== null && usage.credits_remaining !== undefined)
      parts.push(`${numberFormat.format(usage.credits_remaining)} credits left`);
    if (usage.rate_limit && usage.rate_limit.limit)
      parts.push(
        `rate limit ${numberFormat.format(usage.rate_limit.remaining)} of ${numberFormat.format(usage.rate_limit.limit)} left per ${duration(usage.rate_limit.period_seconds)}`,
      );
    totalsEl.textContent = `${parts.join(" · ")}.`;
    totalsEl.dataset.rangeTotal = String(rangeTotal);
    totalsEl.dataset.total = String(allTime);
  }

  $("usage-range").addEventListener("change", renderUsage);
  $("usage-refresh").addEventListener("click", () => busy($("usage-refresh"), loadUsage));
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if ($("detail-dialog").open && state.usage) renderUsage();
    }, 150);
  });

  // ---------------------------------------------------------------------
  // Wiring

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("signin-token").value.trim();
    if (!token) {
      showError($("signin-error"), new Error("Enter the admin token or an admin API key."));
      $("signin-token").focus();
      return;
    }
    await busy($("signin-submit"), () => signIn(token));
  });

  $("sign-out").addEventListener("click", () => signOut());

  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.q = $("search-q").value.trim();
    resetPaging();
    await loadKeys();
  });

  $("search-clear").addEventListener("click", async () => {
    $("search-q").value = "";
    state.q = "";
    resetPaging();
    await loadKeys();
    $("search-q").focus();
  });

  $("owner-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.ownerFilter = $("owner-filter").value.trim();
    resetPaging();
    await loadKeys();
  });

  $("create-open").addEventListener("click", () => openKeyForm("create"));

  $("page-next").addEventListener("click", async () => {
    if (!state.nextCursor) return;
    state.cursors[state.page + 1] = state.nextCursor;
    state.page += 1;
    await loadKeys();
  });

  $("page-prev").addEventListener("click", async () => {
    if (state.page === 0) return;
    state.page -= 1;
    await loadKeys();
  });

  // Start: resume this tab's session, or ask for a credential.
  const saved = remembered();
  if (saved) {
    signIn(saved, { restoring: true });
  } else {
    showSignIn();
    $("signin-token").focus();
  }
})();
