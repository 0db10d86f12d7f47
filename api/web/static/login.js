// The login page: POST /auth/login (email, password) with use_cookies, then, when the account
// has 2FA on, POST /auth/verify-2fa with the challenge and the code. The API sets the token
// cookies (HttpOnly: this script never sees a token it keeps); then back to the page asked for.
"use strict";

(() => {
  const next = document.body.dataset.next || "/dashboard";
  const passwordStep = document.getElementById("password-step");
  const codeStep = document.getElementById("code-step");
  const message = document.getElementById("login-message");
  let challenge = null;

  async function post(path, payload) {
    const answer = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ ...payload, use_cookies: true }),
    });
    let body = {};
    try {
      body = await answer.json();
    } catch (_) {
      /* no JSON body */
    }
    return { status: answer.status, body };
  }

  function refused(answer) {
    if (answer.status === 429) return "Too many attempts: wait a minute and try again.";
    if (answer.status === 422) return "Check the email address and the code.";
    return answer.body.detail && typeof answer.body.detail === "string"
      ? "Login refused: " + answer.body.detail + "."
      : "Login refused.";
  }

  passwordStep.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    const form = passwordStep.elements;
    const answer = await post("/auth/login", {
      email: form.email.value.trim(),
      password: form.password.value,
    });
    if (answer.status !== 200) {
      message.textContent = refused(answer);
      return;
    }
    if (answer.body.challenge_token) {
      challenge = answer.body.challenge_token;
      passwordStep.hidden = true;
      codeStep.hidden = false;
      codeStep.elements.code.focus();
      return;
    }
    location.assign(next);
  });

  codeStep.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    const answer = await post("/auth/verify-2fa", {
      challenge_token: challenge,
      code: codeStep.elements.code.value.trim(),
    });
    if (answer.status !== 200) {
      message.textContent = refused(answer);
      return;
    }
    location.assign(next);
  });
})();
