// Passkeys (WebAuthn) in the browser: sign-in, registration and step-up. No inline script (strict CSP):
// the server marks elements with data-passkey-* attributes and this module wires them up.
//   [data-passkey-login]     sign in with a passkey alone (or as the second factor after a password)
//   [data-passkey-register]  the "add a passkey" form on Account security
//   [data-passkey-stepup]    the step-up form: fills _stepup_assertion, then re-posts the original form

const UNSUPPORTED = "This browser cannot use passkeys. Use a current version of Chrome, Edge, Safari or Firefox, "
  + "or sign in another way.";

export function bufferToBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64urlToBuffer(value) {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0)).buffer;
}

export function isSupported() {
  return Boolean(window.PublicKeyCredential && navigator.credentials && navigator.credentials.create);
}

function decodeDescriptors(list) {
  return (list || []).map((d) => ({ ...d, id: base64urlToBuffer(d.id) }));
}

function creationOptions(json) {
  return {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
    excludeCredentials: decodeDescriptors(json.excludeCredentials),
  };
}

function requestOptions(json) {
  return { ...json, challenge: base64urlToBuffer(json.challenge), allowCredentials: decodeDescriptors(json.allowCredentials) };
}

// The JSON shape py_webauthn parses (PublicKeyCredential.toJSON(), done by hand for older browsers).
function credentialToJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: bufferToBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bufferToBase64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = bufferToBase64url(r.authenticatorData);
    response.signature = bufferToBase64url(r.signature);
    if (r.userHandle) response.userHandle = bufferToBase64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    response,
  };
}

async function postJSON(url, body, csrf) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
    body: JSON.stringify(body || {}),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { error: `The server answered ${response.status}. Reload the page and try again.` };
  }
  return { ok: response.ok, status: response.status, data };
}

export function explain(error) {
  switch (error && error.name) {
    case "NotAllowedError":
      return "The passkey request was cancelled or timed out. Nothing was changed; try again when ready.";
    case "InvalidStateError":
      return "This authenticator already holds a passkey for your account.";
    case "SecurityError":
      return "Passkeys need this page opened at its domain name (for example http://localhost:5000), "
        + "not an IP address.";
    case "AbortError":
      return "The passkey request was interrupted. Try again.";
    default:
      return (error && error.message) || "Something went wrong with the passkey. Try again.";
  }
}

function say(root, message, kind = "error") {
  const status = root.querySelector("[data-passkey-status]");
  if (!status) return;
  status.textContent = message;  // text, never HTML
  status.dataset.kind = kind;
}

function busy(root, on) {
  root.querySelectorAll("button").forEach((b) => {
    b.disabled = on;
    b.setAttribute("aria-busy", on ? "true" : "false");
  });
}

// --- flows ---------------------------------------------------------------------------------

async function signIn(root) {
  const mode = root.dataset.mode || "login";
  const options = await postJSON(root.dataset.optionsUrl, { mode }, root.dataset.csrf);
  if (!options.ok) throw new Error(options.data.error);
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options.data) });
  say(root, "Checking your passkey…", "info");
  const result = await postJSON(root.dataset.verifyUrl, { mode, credential: credentialToJSON(credential) },
    root.dataset.csrf);
  if (!result.ok) throw new Error(result.data.error);
  window.location.assign(result.data.redirect);
}

async function register(form) {
  const name = form.querySelector("[name=name]").value.trim();
  if (!name) {
    say(form, "Give the passkey a name first, such as “Work laptop”.");
    form.querySelector("[name=name]").focus();
    return;
  }
  const options = await postJSON(form.dataset.optionsUrl, {}, form.dataset.csrf);
  if (options.status === 401 && options.data.stepup) {
    form.submit();  // the server shows the step-up page, then comes back here with the name kept
    return;
  }
  if (!options.ok) throw new Error(options.data.error);
  const credential = await navigator.credentials.create({ publicKey: creationOptions(options.data) });
  say(form, "Saving the passkey…", "info");
  const result = await postJSON(form.dataset.registerUrl, { name, credential: credentialToJSON(credential) },
    form.dataset.csrf);
  if (!result.ok) throw new Error(result.data.error);
  window.location.assign(result.data.redirect);
}

async function stepUp(form) {
  const options = await postJSON(form.dataset.optionsUrl, { action: form.dataset.action }, form.dataset.csrf);
  if (!options.ok) throw new Error(options.data.error);
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options.data) });
  form.querySelector("[name=_stepup_assertion]").value = JSON.stringify(credentialToJSON(credential));
  say(form, "Confirmed. Continuing…", "info");
  form.submit();  // re-posts the original form fields with the assertion
}

async function run(root, flow) {
  busy(root, true);
  say(root, "", "info");
  try {
    await flow(root);
  } catch (error) {
    say(root, explain(error));
  } finally {
    busy(root, false);
  }
}

// --- wiring --------------------------------------------------------------------------------

const ROOTS = "[data-passkey-login], [data-passkey-register], [data-passkey-stepup]";

function prepare(scope = document) {
  scope.querySelectorAll(ROOTS).forEach((root) => {
    if (root.dataset.passkeyReady) return;
    root.dataset.passkeyReady = "1";
    if (!isSupported()) {
      say(root, UNSUPPORTED);
      root.querySelectorAll("[data-passkey-action]").forEach((b) => { b.disabled = true; });
      return;
    }
    root.querySelectorAll("[data-passkey-action][hidden]").forEach((b) => { b.hidden = false; });
  });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-passkey-action]");
  if (!button) return;
  const root = button.closest(ROOTS);
  if (!root || !isSupported()) return;
  event.preventDefault();
  if (root.matches("[data-passkey-login]")) run(root, signIn);
  else if (root.matches("[data-passkey-stepup]")) run(root, stepUp);
  else if (root.matches("[data-passkey-register]")) run(root, register);
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-passkey-register]");
  if (!form || !isSupported()) return;  // without WebAuthn the POST shows a page that says so
  event.preventDefault();
  run(form, register);
});

prepare();
document.body.addEventListener("htmx:afterSwap", (event) => prepare(event.target));
