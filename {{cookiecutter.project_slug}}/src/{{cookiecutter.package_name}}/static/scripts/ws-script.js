// The page's websocket client, in two parts.
//
// StreamClient is the reusable part, with no knowledge of the page: it connects, reconnects by
// itself (exponential backoff with full jitter) until told to stop, follows channels and, after
// a reconnect, resumes each exactly where it left off{% if cookiecutter.multi_session %}, as it resumes the session's own stream{% endif %}.
// The rest is the demo page: its buttons, its log, and the channel it follows, `notifications`.
// The page's own ?token= goes on to the websocket (see auth.py), and a refusal stops it.
"use strict";

// The JSON protocol the server speaks to this script: see the README's protocol section.
const SUBPROTOCOL = "{{ cookiecutter.project_slug }}.v1";
const HEARTBEAT = JSON.stringify({type: "heartbeat"});
const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 30000;

// Close codes after which retrying cannot help: policy violation (1008) and the 4xxx
// range, kept for application refusals such as failed authentication.
function isFinal(code) {
    return code === 1008 || (code >= 4000 && code <= 4999);
}

// HTTP statuses of a refused handshake that retrying cannot help: unauthorized, forbidden.
function isRefusal(status) {
    return status === 401 || status === 403;
}

// A websocket URL from any URL: relative to the page, http: turned into ws: and https: into wss:.
function websocketUrl(url) {
    const absolute = new URL(url, location.href);
    absolute.protocol = absolute.protocol.replace(/^http/, "ws");
    return absolute.href;
}

// Where a followed channel resumes from: its last number, and the numbering it belongs to if known.
function position({seq, epoch}) {
    return epoch === null ? {since: seq} : {since: seq, epoch};
}

// How a log line names the channel it is about.
function onChannel(channel, text) {
    return `[${channel}] ${text}`;
}

// A connection to the server that stays up by itself and follows channels across reconnects.
//
//   const stream = new StreamClient("/ws", {onState, onLog});
//   stream.subscribe("prices", (data, {channel, seq}) => ...);
//   stream.connect();
//
// Options, each a function and each optional:
//   onState(state)      the state changed, or a reconnect was scheduled (see retryAt)
//   onLog(line)         what happens to the connection and to the channels, for people to read
//   onChannels(names)   the channels the server confirmed following changed (see channels)
//   onMessage(data, {channel, seq, direct})
//                       a message no subscribe() callback takes: one of a channel the server's
//                       logic subscribed this client to (channel, seq), one to this connection
//                       alone (direct: true), or one to {% if cookiecutter.multi_session %}the session (seq: its number){% else %}everyone{% endif %}
{%- if cookiecutter.multi_session %}
//   onSession(status)   "new" or "resumed": whether the server carried on this tab's session
{%- endif %}
class StreamClient {
    #url;
    #on;
    #socket = null;
    #state = "disconnected";
    #active = false;  // connect() was called, and neither disconnect() nor a refusal since
    #attempt = 0;  // failed attempts since the last successful open: the backoff's exponent
    #attemptNumber = 0;  // counts every attempt, so that a late answer about an old one is ignored
    #retryTimer = null;
    #retryAt = null;
    #heartbeatTimer = null;
    #lastHeard = 0;
    // channel -> {callback, seq, following}: seq is the number of the latest message seen (or,
    // before any, the channel's number when it was followed), what a reconnect resumes after;
    // following: the server confirmed it on the current connection.
    #followed = new Map();
    // Channels unsubscribe() dropped that the server may still follow for this connection: until
    // it answers, what it sends on them is not taken for a subscription of its own.
    #leaving = new Set();
{%- if cookiecutter.multi_session %}
    #lastSeq = null;  // number of the latest session message seen; null before the first welcome
{%- endif %}

    constructor(url, {onState, onLog, onChannels, onMessage{% if cookiecutter.multi_session %}, onSession{% endif %}} = {}) {
        const ignore = () => {};
        this.#url = websocketUrl(url);
        this.#on = {
            state: onState || ignore,
            log: onLog || ignore,
            channels: onChannels || ignore,
            message: onMessage || ignore,
{%- if cookiecutter.multi_session %}
            session: onSession || ignore,
{%- endif %}
        };
        // Back online: try now rather than wait out the backoff.
        window.addEventListener("online", () => {
            if (this.#active && this.#socket === null) {
                this.#open();
            }
        });
    }

    // "connecting" (an attempt is under way, or waiting to be retried), "connected" or
    // "disconnected". After disconnect() it stays what it was until the socket has closed.
    get state() {
        return this.#state;
    }

    // Whether the client wants to be connected: from connect() until disconnect() or a refusal.
    get active() {
        return this.#active;
    }

    // While waiting to reconnect: when the next attempt starts (a Date.now() time); else null.
    get retryAt() {
        return this.#retryAt;
    }

    // The channels the server follows for this client now, as it confirmed them.
    get channels() {
        return [...this.#followed].filter(([, entry]) => entry.following).map(([name]) => name);
    }

    connect() {
        this.#active = true;
        this.#attempt = 0;
        if (this.#socket === null) {
            this.#open();
        }
    }

    disconnect() {
        if (!this.#active) {
            return;
        }
        this.#active = false;
        if (this.#socket !== null) {
            this.#socket.close();  // the state follows once it has closed
            this.#changed();
            return;
        }
        this.#stopRetrying();  // waiting to reconnect, or asking why the last attempt failed
        this.#log("Stopped reconnecting.");
        this.#setState("disconnected");
    }

    // Follow a channel, now if connected, else from the next connection on: callback(data,
    // {channel, seq}) gets each of its messages once, in order, across reconnects. since: a
    // number of the channel to replay what it holds after (0: all of it); by default, from now.
    subscribe(channel, callback, {since = null} = {}) {
        const known = this.#followed.get(channel);
        if (known !== undefined) {
            known.callback = callback;
            return;
        }
        this.#followed.set(channel, {callback, seq: since, epoch: null, following: false});
        if (this.#isOpen()) {
            this.#askToFollow(channel);
        }
    }

    unsubscribe(channel) {
        const entry = this.#followed.get(channel);
        if (entry === undefined) {
            return;
        }
        this.#followed.delete(channel);
        if (this.#isOpen()) {  // still connecting: left once open, if its URL named it
            this.#leaving.add(channel);
            this.#sendFrame({type: "unsubscribe", channel});
        }
        if (entry.following) {
            this.#on.channels(this.channels);
        }
    }

    // Publish text on a channel (followed or not); false when not connected.
    publish(channel, text) {
        return this.#sendFrame({type: "publish", channel, data: text});
    }

    // Send text to the server's logic; false when not connected.
    send(text) {
        return this.#sendFrame({type: "message", data: text});
    }

    #open() {
        this.#stopRetrying();
        const resumed = this.#resumed();
        const url = this.#resumeUrl(resumed);
        this.#log("Connecting to: " + url);
        const socket = new WebSocket(url, SUBPROTOCOL);
        this.#socket = socket;
        this.#attemptNumber += 1;
        this.#setState("connecting");
        let opened = false;
        socket.onopen = () => {
            opened = true;
            this.#attempt = 0;
            this.#log("Connected!");
            this.#followTheRest(resumed);
            this.#setState("connected");
        };
        socket.onclose = (closeEvent) => this.#closed(socket, closeEvent, opened);
        socket.onerror = () => this.#log("Error: the connection failed");
        socket.onmessage = (messageEvent) => this.#receive(socket, messageEvent.data);
    }

    // The channels a new connection resumes: those with a position, as [name, position] pairs.
    #resumed() {
        return [...this.#followed].filter(([, entry]) => entry.seq !== null).map(([name, entry]) => [name, position(entry)]);
    }

    // The URL with where to resume: one since=<channel>:<number>@<epoch> for each channel that has a
    // position{% if cookiecutter.multi_session %}, last_seq=<number> for the session{% endif %}. The server follows those channels for the new
    // connection before anything live reaches it, so none of them misses a message or sees one twice.
    #resumeUrl(resumed) {
        const url = new URL(this.#url);
        for (const [channel, {since, epoch}] of resumed) {
            url.searchParams.append("since", epoch === undefined ? `${channel}:${since}` : `${channel}:${since}@${epoch}`);
        }
{%- if cookiecutter.multi_session %}
        if (this.#lastSeq !== null) {
            url.searchParams.set("last_seq", this.#lastSeq);
        }
{%- endif %}
        return url.href;
    }

    // Once open: ask for the channels the URL did not name (those without a position when it was
    // made, or subscribed since), and leave those it named that were unsubscribed meanwhile.
    #followTheRest(resumed) {
        const named = new Set(resumed.map(([channel]) => channel));
        for (const channel of this.#followed.keys()) {
            if (!named.has(channel)) {
                this.#askToFollow(channel);
            }
        }
        for (const channel of named) {
            if (!this.#followed.has(channel)) {
                this.#leaving.add(channel);
                this.#sendFrame({type: "unsubscribe", channel});
            }
        }
    }

    #askToFollow(channel) {
        const entry = this.#followed.get(channel);
        this.#sendFrame(entry.seq === null ? {type: "subscribe", channel} : {type: "subscribe", channel, ...position(entry)});
    }

    #isOpen() {
        return this.#socket !== null && this.#socket.readyState === WebSocket.OPEN;
    }

    #sendFrame(frame) {
        if (!this.#isOpen()) {
            return false;
        }
        this.#socket.send(JSON.stringify(frame));
        return true;
    }

    #closed(socket, closeEvent, opened) {
        if (socket !== this.#socket) {
            return;  // a socket given up on earlier
        }
        this.#socket = null;
        this.#stopHeartbeat();
        this.#stopFollowing();
        const why = closeEvent.reason ? ` (${closeEvent.code} ${closeEvent.reason})` : "";
        this.#log("Disconnected!" + why);
        if (this.#active && isFinal(closeEvent.code)) {
            this.#active = false;
            this.#log("Not reconnecting: the server refused this client.");
        }
        if (!this.#active) {
            this.#setState("disconnected");
        } else if (opened) {
            this.#scheduleReconnect();
        } else {
            this.#askWhyRefused(socket.url, this.#attemptNumber);
        }
    }

    // No connection, no channel followed: each is asked for again on the next connection.
    #stopFollowing() {
        const wereFollowed = this.channels.length > 0;
        this.#leaving.clear();
        for (const entry of this.#followed.values()) {
            entry.following = false;
        }
        if (wereFollowed) {
            this.#on.channels([]);
        }
    }

    // A browser hides the HTTP status of a failed handshake (the socket closes with 1006 before it
    // opens), so the client asks the server: the same URL as a plain GET answers 401 or 403 if this
    // client is refused, 426 (Upgrade Required) if it would be let in. A refusal ends the retries.
    async #askWhyRefused(url, askedAbout) {
        let refusal = null;
        try {
            const response = await fetch(url.replace(/^ws/, "http"), {cache: "no-store"});
            if (isRefusal(response.status)) {
                refusal = `${response.status} ${await response.text()}`;
            }
        } catch {
            // No answer (the server is restarting, say): not a refusal, so try again.
        }
        if (!this.#active || askedAbout !== this.#attemptNumber) {
            return;  // disconnect(), or connect() again, was called meanwhile
        }
        if (refusal === null) {
            this.#scheduleReconnect();
            return;
        }
        this.#active = false;
        this.#log(`Refused: ${refusal}`);
        this.#log("Not reconnecting: the server refused this client.");
        this.#setState("disconnected");
    }

    #scheduleReconnect() {
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** this.#attempt);
        const delay = Math.random() * ceiling;  // full jitter: clients do not reconnect in step
        this.#attempt += 1;
        this.#retryAt = Date.now() + delay;
        this.#retryTimer = setTimeout(() => this.#open(), delay);
        this.#setState("connecting");
    }

    #stopRetrying() {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
        this.#retryAt = null;
    }

    #receive(socket, text) {
        if (socket !== this.#socket) {
            return;  // given up on: its successor resumes from what was seen
        }
        this.#lastHeard = Date.now();
        const frame = JSON.parse(text);
        switch (frame.type) {
        case "welcome":
            this.#welcomed(socket, frame);
            break;
        case "subscribed":
            this.#subscribed(frame);
            break;
        case "unsubscribed":
            this.#unsubscribed(frame);
            break;
        case "message":
            if (frame.channel === undefined) {
                this.#logicMessage(frame);
            } else {
                this.#channelMessage(frame);
            }
            break;
        case "direct":
            this.#on.message(frame.data, {direct: true});
            break;
        case "gap":
            this.#gap(frame);
            break;
        case "reset":
            this.#reset(frame);
            break;
        case "error":
            this.#refused(frame);
            break;
        }
    }

    #welcomed(socket, frame) {
{%- if cookiecutter.multi_session %}
        // The session id itself stays in an HttpOnly cookie, out of reach of scripts.
        this.#on.session(this.#lastSeq === null ? "new" : "resumed");
        if (this.#lastSeq === null) {
            this.#lastSeq = frame.seq ?? null;  // a new tab starts from now
        }
{%- endif %}
        this.#startHeartbeat(socket, frame.heartbeat);
    }

    // A channel is followed: what it replays comes next (numbers up to seq), then live messages.
    // epoch names the numbering they belong to: a resume names it back, so that a channel numbered
    // anew meanwhile answers with a reset, not with numbers of another numbering.
    #subscribed({channel, seq, epoch}) {
        if (this.#leaving.has(channel)) {
            return;  // its unsubscribe is on its way
        }
        let entry = this.#followed.get(channel);
        if (entry === undefined) {
            // The server's logic subscribed this client: follow it like the others, so that a
            // reconnect resumes it too; its messages go to onMessage.
            entry = {callback: null, seq: null, epoch: null, following: false};
            this.#followed.set(channel, entry);
        }
        if (entry.seq === null) {
            entry.seq = seq;  // nothing seen yet: from now on
        }
        entry.epoch = epoch ?? null;
        entry.following = true;
        this.#on.channels(this.channels);
    }

    // The server stopped following a channel: the logic's decision, or the answer to unsubscribe().
    #unsubscribed({channel}) {
        if (this.#leaving.delete(channel)) {
            return;  // the answer to unsubscribe()
        }
        const entry = this.#followed.get(channel);
        // Not followed yet: the answer to an unsubscribe() before the subscribe() awaiting its own.
        if (entry === undefined || !entry.following) {
            return;
        }
        this.#followed.delete(channel);
        this.#log(onChannel(channel, "No longer followed: the server unsubscribed this client."));
        this.#on.channels(this.channels);
    }

    #channelMessage({channel, seq, data}) {
        const entry = this.#followed.get(channel);
        if (entry === undefined) {
            return;  // unsubscribed: what was already on its way still arrives
        }
        if (Number.isInteger(seq)) {
            if (entry.seq !== null && seq <= entry.seq) {
                return;  // seen already
            }
            entry.seq = seq;
        }
        const callback = entry.callback || this.#on.message;
        callback(data, {channel, seq});
    }

    #logicMessage({seq, data}) {
{%- if cookiecutter.multi_session %}
        if (Number.isInteger(seq)) {  // else sent unnumbered: shown, but no position to resume
            if (this.#lastSeq !== null && seq <= this.#lastSeq) {
                return;  // seen already
            }
            this.#lastSeq = seq;
        }
{%- endif %}
        this.#on.message(data, {seq});
    }

    // Messages from..to are lost for good; what follows them still comes.
    #gap({channel, from, to}) {
        const lost = `Missed messages ${from} to ${to}: no longer held by the server.`;
        if (channel === undefined) {
            this.#log(lost);
{%- if cookiecutter.multi_session %}
            this.#lastSeq = Math.max(this.#lastSeq, to);
{%- endif %}
            return;
        }
        this.#log(onChannel(channel, lost));
        const entry = this.#followed.get(channel);
        if (entry !== undefined) {
            entry.seq = Math.max(entry.seq, to);
        }
    }

    // The position given was not one the server knows (its history was lost, say): what comes
    // next is numbered after seq.
    #reset({channel, reason, seq}) {
        const restart = `Could not resume (${reason}); continuing from here.`;
        if (channel === undefined) {
            this.#log(restart);
{%- if cookiecutter.multi_session %}
            this.#lastSeq = seq;
            this.#on.session("new");
{%- endif %}
            return;
        }
        this.#log(onChannel(channel, restart));
        const entry = this.#followed.get(channel);
        if (entry !== undefined) {
            entry.seq = seq;
        }
    }

    // A frame was refused; the connection stays open. A channel the server was asked to follow and
    // refused (its name, the authorisation hook, a limit) is not asked for again.
    #refused({error, channel}) {
        if (channel === undefined) {
            this.#log(`Error from server: ${error}`);
            return;
        }
        this.#log(onChannel(channel, `Error from server: ${error}`));
        const entry = this.#followed.get(channel);
        if (entry !== undefined && !entry.following) {
            this.#followed.delete(channel);
        }
    }

    // The browser hides websocket pings from scripts, so the client sends its own heartbeat
    // and gives up on a connection that has been silent for two intervals.
    #startHeartbeat(socket, intervalSeconds) {
        this.#stopHeartbeat();
        if (!intervalSeconds) {
            return;
        }
        const intervalMs = intervalSeconds * 1000;
        this.#lastHeard = Date.now();
        this.#heartbeatTimer = setInterval(() => {
            if (Date.now() - this.#lastHeard > 2 * intervalMs) {
                this.#abandon(socket);
            } else if (socket.readyState === WebSocket.OPEN) {
                socket.send(HEARTBEAT);
            }
        }, intervalMs);
    }

    #stopHeartbeat() {
        clearInterval(this.#heartbeatTimer);
        this.#heartbeatTimer = null;
    }

    #abandon(socket) {
        this.#log("Connection lost: the server stopped answering.");
        socket.close();
        this.#closed(socket, {code: 1006, reason: ""}, true);
    }

    #setState(state) {
        this.#state = state;
        this.#changed();
    }

    #changed() {
        this.#on.state(this.#state);
    }

    #log(line) {
        this.#on.log(line);
    }
}

// The demo page: Connect, Disconnect, a message to the server or to a channel, and the log.
const NOTIFICATIONS = "notifications";  // where the server's streaming example publishes
const COUNTDOWN_TICK_MS = 100;

window.addEventListener("load", () => {
    const output = document.getElementById("output");
    const messageEditor = document.getElementById("message");
    const target = document.getElementById("to");
    const stateLabel = document.getElementById("state");
    const channelsLabel = document.getElementById("channels");
    const connectButton = document.getElementById("connect");
    const disconnectButton = document.getElementById("disconnect");
    const sendButton = document.getElementById("sendMessage");
{%- if cookiecutter.multi_session %}
    const sessionLabel = document.getElementById("session");
{%- endif %}
    let countdownTimer = null;

    const stream = new StreamClient(socketUrl(), {
        onState: showState,
        onLog: logOutput,
        onChannels: showChannels,
        onMessage: showMessage,
{%- if cookiecutter.multi_session %}
        onSession: (status) => {
            sessionLabel.textContent = status;
        },
{%- endif %}
    });
    stream.subscribe(NOTIFICATIONS, showMessage);

    // Same host and port as the page, wss: when the page came over https:; the page's own ?token=
    // goes on to the websocket.
    function socketUrl() {
        const scheme = location.protocol === "https:" ? "wss:" : "ws:";
        const url = new URL(`${scheme}//${location.host}/ws`);
        const token = new URLSearchParams(location.search).get("token");
        if (token !== null) {
            url.searchParams.set("token", token);
        }
        return url.href;
    }

    function logOutput(value) {
        output.append(value + "\n\n");  // appended as text, never parsed as HTML
        output.scrollTop = output.scrollHeight;
        console.log(value);
    }

    // [channel] <== a message of a channel it follows,{% if cookiecutter.multi_session %} <<= one to every tab of the session,{% endif %}
    // <== one to this page{% if cookiecutter.multi_session %} alone{% endif %} (a reply, say).
    function showMessage(data, {channel{% if cookiecutter.multi_session %}, direct{% endif %}}) {
        if (channel !== undefined) {
            logOutput(onChannel(channel, `<== ${data}`));
{%- if cookiecutter.multi_session %}
        } else if (!direct) {
            logOutput(`<<= ${data}`);
{%- endif %}
        } else {
            logOutput(`<== ${data}`);
        }
    }

    function showChannels(names) {
        channelsLabel.textContent = names.length ? names.join(", ") : "none";
    }

    // Show the state, and enable the buttons that can act in it: Connect once the socket is gone,
    // Disconnect until it was clicked, SendMessage while connected.
    function showState() {
        const state = describeState();
        stateLabel.textContent = state;
        connectButton.disabled = stream.active || stream.state !== "disconnected";
        disconnectButton.disabled = !stream.active;
        sendButton.disabled = state !== "connected";
        countDown(stream.retryAt !== null);
    }

    function describeState() {
        if (!stream.active && stream.state !== "disconnected") {
            return "disconnecting";
        }
        if (stream.retryAt !== null) {
            const left = Math.max(0, stream.retryAt - Date.now());
            return `reconnecting in ${(left / 1000).toFixed(1)} s`;
        }
        return stream.state;
    }

    // While a reconnect waits, the state counts down to it.
    function countDown(waiting) {
        if (waiting && countdownTimer === null) {
            countdownTimer = setInterval(showState, COUNTDOWN_TICK_MS);
        } else if (!waiting && countdownTimer !== null) {
            clearInterval(countdownTimer);
            countdownTimer = null;
        }
    }

    // To the server's logic, or published on the channel chosen in "to".
    function onSendMessageClick() {
        const message = messageEditor.value || "ping";
        const channel = target.value;
        const sent = channel ? stream.publish(channel, message) : stream.send(message);
        if (!sent) {
            logOutput("Not Connected!");
            return;
        }
        logOutput(channel ? onChannel(channel, `==> ${message}`) : `==> ${message}`);
        messageEditor.value = "";
    }

    function onEditorKeys(event) {
        if (event.key === "Enter") {
            event.preventDefault();
            onSendMessageClick();
        }
    }

    connectButton.onclick = () => stream.connect();
    disconnectButton.onclick = () => stream.disconnect();
    sendButton.onclick = onSendMessageClick;
    messageEditor.addEventListener("keydown", onEditorKeys);
});
