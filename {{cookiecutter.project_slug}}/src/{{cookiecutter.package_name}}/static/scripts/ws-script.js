// The page's websocket client: Connect, Disconnect, send a message, log the exchange.
// It reconnects by itself (exponential backoff with full jitter) until Disconnect is clicked
{%- if cookiecutter.multi_session %},
// and resumes where it left off: the server replays what this tab missed
{%- endif %}.
// The page's own ?token= goes on to the websocket (see auth.py), and a refusal stops it.
"use strict";
{%- if cookiecutter.multi_session %}

// Asking for this subprotocol gets numbered JSON frames: see the README's protocol section.
const SUBPROTOCOL = "{{ cookiecutter.project_slug }}.v1";
{%- endif %}
const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 30000;
const COUNTDOWN_TICK_MS = 100;

// Close codes after which retrying cannot help: policy violation (1008) and the 4xxx
// range, kept for application refusals such as failed authentication.
function isFinal(code) {
    return code === 1008 || (code >= 4000 && code <= 4999);
}

// HTTP statuses of a refused handshake that retrying cannot help: unauthorized, forbidden.
function isRefusal(status) {
    return status === 401 || status === 403;
}

window.addEventListener("load", () => {
    const output = document.getElementById("output");
    const messageEditor = document.getElementById("message");
    const stateLabel = document.getElementById("state");
    const connectButton = document.getElementById("connect");
    const disconnectButton = document.getElementById("disconnect");
    const sendButton = document.getElementById("sendMessage");
{%- if cookiecutter.multi_session %}
    const sessionLabel = document.getElementById("session");
{%- endif %}
    let webSocket = null;
    let wanted = false;  // the user asked to be connected
    let attempt = 0;  // failed attempts since the last successful open
    let retryTimer = null;
    let countdownTimer = null;
    let retryAt = 0;  // when the next attempt starts (Date.now() milliseconds)
    let attemptNumber = 0;  // counts every attempt, so that a late answer about an old one is ignored
    const token = new URLSearchParams(location.search).get("token");
{%- if cookiecutter.multi_session %}
    let lastSeq = null;  // number of the latest session message seen; null before the first welcome
    let heartbeatTimer = null;
    let lastHeard = 0;
{%- endif %}

    // Same host and port as the page; wss: when the page came over https:.
    function serverUrl() {
        const scheme = location.protocol === "https:" ? "wss:" : "ws:";
        const query = new URLSearchParams();
        if (token !== null) {
            query.set("token", token);
        }
{%- if cookiecutter.multi_session %}
        if (lastSeq !== null) {
            query.set("last_seq", lastSeq);
        }
{%- endif %}
        const search = query.toString();
        return `${scheme}//${location.host}/ws${search ? "?" + search : ""}`;
    }

    function logOutput(value) {
        output.append(value + "\n\n");  // appended as text, never parsed as HTML
        output.scrollTop = output.scrollHeight;
        console.log(value);
    }

    // Show the state, and enable the buttons that can act in it: Connect once the socket is gone,
    // Disconnect until the user asked for it, SendMessage while connected.
    function setState(state) {
        stateLabel.textContent = state;
        connectButton.disabled = wanted || webSocket !== null;
        disconnectButton.disabled = !wanted;
        sendButton.disabled = state !== "connected";
    }

    function stopRetrying() {
        clearTimeout(retryTimer);
        clearInterval(countdownTimer);
        retryTimer = null;
        countdownTimer = null;
    }

    function openWSConnection() {
        stopRetrying();
        if (webSocket !== null) {
            return;
        }
        const url = serverUrl();
        logOutput("Connecting to: " + url);
        setState("connecting");
{%- if cookiecutter.multi_session %}
        const socket = new WebSocket(url, SUBPROTOCOL);
{%- else %}
        const socket = new WebSocket(url);
{%- endif %}
        webSocket = socket;
        attemptNumber += 1;
        let opened = false;
        socket.onopen = () => {
            opened = true;
            attempt = 0;
            setState("connected");
            logOutput("Connected!");
        };
        socket.onclose = (closeEvent) => onClosed(socket, closeEvent, opened);
        socket.onerror = () => logOutput("Error: the connection failed");
{%- if cookiecutter.multi_session %}
        socket.onmessage = (messageEvent) => onFrame(socket, messageEvent.data);
{%- else %}
        socket.onmessage = (messageEvent) => logOutput(`<== ${messageEvent.data}`);
{%- endif %}
    }

    function onClosed(socket, closeEvent, opened) {
        if (socket !== webSocket) {
            return;  // a socket given up on earlier
        }
        webSocket = null;
{%- if cookiecutter.multi_session %}
        stopHeartbeat();
{%- endif %}
        const why = closeEvent.reason ? ` (${closeEvent.code} ${closeEvent.reason})` : "";
        logOutput("Disconnected!" + why);
        if (wanted && isFinal(closeEvent.code)) {
            wanted = false;
            logOutput("Not reconnecting: the server refused this client.");
        }
        if (!wanted) {
            setState("disconnected");
        } else if (opened) {
            scheduleReconnect();
        } else {
            askWhyRefused(socket.url, attemptNumber);
        }
    }

    // A browser hides the HTTP status of a failed handshake (the socket closes with 1006 before it
    // opens), so the page asks the server: the same URL as a plain GET answers 401 or 403 if this
    // client is refused, 426 (Upgrade Required) if it would be let in. A refusal ends the retries.
    async function askWhyRefused(url, askedAbout) {
        let refusal = null;
        try {
            const response = await fetch(url.replace(/^ws/, "http"), {cache: "no-store"});
            if (isRefusal(response.status)) {
                refusal = `${response.status} ${await response.text()}`;
            }
        } catch {
            // No answer (the server is restarting, say): not a refusal, so try again.
        }
        if (!wanted || askedAbout !== attemptNumber) {
            return;  // Disconnect, or Connect again, was clicked meanwhile
        }
        if (refusal === null) {
            scheduleReconnect();
            return;
        }
        wanted = false;
        logOutput(`Refused: ${refusal}`);
        logOutput("Not reconnecting: the server refused this client.");
        setState("disconnected");
    }

    function scheduleReconnect() {
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** attempt);
        const delay = Math.random() * ceiling;  // full jitter: clients do not reconnect in step
        attempt += 1;
        retryAt = Date.now() + delay;
        showCountdown();
        retryTimer = setTimeout(openWSConnection, delay);
        countdownTimer = setInterval(showCountdown, COUNTDOWN_TICK_MS);
    }

    function showCountdown() {
        const left = Math.max(0, retryAt - Date.now());
        setState(`reconnecting in ${(left / 1000).toFixed(1)} s`);
    }
{%- if cookiecutter.multi_session %}

    function onFrame(socket, frame) {
        lastHeard = Date.now();
        const event = JSON.parse(frame);
        if (event.type === "welcome") {
            // The session id itself stays in an HttpOnly cookie, out of reach of scripts.
            sessionLabel.textContent = lastSeq === null ? "new" : "resumed";
            if (lastSeq === null) {
                lastSeq = event.seq;  // a new tab starts from now
            }
            startHeartbeat(socket, event.heartbeat);
        } else if (event.type === "message") {
{%- if cookiecutter.scale_out == "redis" %}
            if (event.seq === null) {
                logOutput(`<<= ${event.data}`);  // sent while Redis was away: not numbered
                return;
            }
{%- endif %}
            if (event.seq <= lastSeq) {
                return;  // already seen
            }
            lastSeq = event.seq;
            logOutput(`<<= ${event.data}`);  // to every tab of the session
        } else if (event.type === "direct") {
            logOutput(`<== ${event.data}`);  // to this tab only: a reply, say
        } else if (event.type === "gap") {
            logOutput(`Missed messages ${event.from} to ${event.to}: no longer held by the server.`);
        } else if (event.type === "reset") {
            logOutput(`Could not resume (${event.reason}); continuing from here.`);
            sessionLabel.textContent = "new";
            lastSeq = event.seq;
        } else if (event.type === "error") {
            logOutput(`Error from server: ${event.error}`);
        }
    }

    // The browser hides websocket pings from scripts, so the page sends its own heartbeat
    // and gives up on a connection that has been silent for two intervals.
    function startHeartbeat(socket, intervalSeconds) {
        stopHeartbeat();
        if (!intervalSeconds) {
            return;
        }
        const intervalMs = intervalSeconds * 1000;
        lastHeard = Date.now();
        heartbeatTimer = setInterval(() => {
            if (Date.now() - lastHeard > 2 * intervalMs) {
                abandon(socket);
            } else if (socket.readyState === WebSocket.OPEN) {
                socket.send(JSON.stringify({type: "heartbeat"}));
            }
        }, intervalMs);
    }

    function stopHeartbeat() {
        clearInterval(heartbeatTimer);
        heartbeatTimer = null;
    }

    function abandon(socket) {
        logOutput("Connection lost: the server stopped answering.");
        socket.close();
        onClosed(socket, {code: 1006, reason: ""}, true);
    }
{%- endif %}

    function onConnectClick() {
        wanted = true;
        attempt = 0;
        openWSConnection();
    }

    function onDisconnectClick() {
        wanted = false;
        if (webSocket) {
            webSocket.close();
            setState("disconnecting");
        } else {  // waiting to reconnect
            stopRetrying();
            setState("disconnected");
            logOutput("Stopped reconnecting.");
        }
    }

    function onSendMessageClick() {
        if (webSocket && webSocket.readyState === WebSocket.OPEN) {
            const message = messageEditor.value || "ping";
            logOutput("==> " + message);
{%- if cookiecutter.multi_session %}
            webSocket.send(JSON.stringify({type: "message", data: message}));
{%- else %}
            webSocket.send(message);
{%- endif %}
            messageEditor.value = "";
        } else {
            logOutput("Not Connected!");
        }
    }

    function onEditorKeys(event) {
        if (event.key === "Enter") {
            event.preventDefault();
            onSendMessageClick();
        }
    }

    connectButton.onclick = onConnectClick;
    disconnectButton.onclick = onDisconnectClick;
    sendButton.onclick = onSendMessageClick;
    messageEditor.addEventListener("keydown", onEditorKeys);
    // Back online: try now rather than wait out the backoff.
    window.addEventListener("online", () => {
        if (wanted && webSocket === null) {
            openWSConnection();
        }
    });
});
