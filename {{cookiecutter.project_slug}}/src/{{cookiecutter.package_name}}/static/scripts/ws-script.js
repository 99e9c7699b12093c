// The page's websocket client: Connect, Disconnect, send a message, log the exchange.
"use strict";

{% if cookiecutter.multi_session -%}
// Asking for this subprotocol gets JSON frames, including a welcome with the session id.
const SUBPROTOCOL = "{{ cookiecutter.project_slug }}.v1";

{% endif -%}
window.addEventListener("load", () => {
    const output = document.getElementById("output");
    const messageEditor = document.getElementById("message");
{%- if cookiecutter.multi_session %}
    const sessionLabel = document.getElementById("session");
{%- endif %}
    let webSocket = null;

    // Same host and port as the page; wss: when the page came over https:.
    function serverUrl() {
        const scheme = location.protocol === "https:" ? "wss:" : "ws:";
        return `${scheme}//${location.host}/ws`;
    }

    function logOutput(value) {
        output.value += value + "\n\n";  // .value is text, never parsed as HTML
        output.scrollTop = output.scrollHeight;
        console.log(value);
    }
{%- if cookiecutter.multi_session %}

    function onFrame(frame) {
        const event = JSON.parse(frame);
        if (event.type === "welcome") {
            sessionLabel.textContent = event.session;
        } else if (event.type === "message") {
            logOutput(`<== ${event.data}`);
        } else if (event.type === "error") {
            logOutput(`Error from server: ${event.error}`);
        }
    }
{%- endif %}

    function openWSConnection() {
        if (webSocket !== null) {
            return;
        }
        const url = serverUrl();
        logOutput("Connecting to: " + url);
{%- if cookiecutter.multi_session %}
        webSocket = new WebSocket(url, SUBPROTOCOL);
{%- else %}
        webSocket = new WebSocket(url);
{%- endif %}
        webSocket.onopen = () => logOutput("Connected!");
        webSocket.onclose = (closeEvent) => {
            webSocket = null;
            logOutput(closeEvent.reason ? `Disconnected! (${closeEvent.reason})` : "Disconnected!");
        };
        webSocket.onerror = () => logOutput("Error: the connection failed");
{%- if cookiecutter.multi_session %}
        webSocket.onmessage = (messageEvent) => onFrame(messageEvent.data);
{%- else %}
        webSocket.onmessage = (messageEvent) => logOutput(`<== ${messageEvent.data}`);
{%- endif %}
    }

    function onDisconnectClick() {
        if (webSocket) {
            webSocket.close();
        } else {
            logOutput("Not Connected!");
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

    document.getElementById("connect").onclick = openWSConnection;
    document.getElementById("disconnect").onclick = onDisconnectClick;
    document.getElementById("sendMessage").onclick = onSendMessageClick;
    messageEditor.addEventListener("keydown", onEditorKeys);
});
